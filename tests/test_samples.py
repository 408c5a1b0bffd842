"""Every sample runs to completion against the in-process emulator and shows what it promises, and runs
against the resource WEBPUBSUB_CONNECTION_STRING names instead (here a separate emulator stands in for a
real resource, configured as the sample's docstring tells a user to configure the real one)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
from webpubsub_emulator import Emulator

from test_aio_samples import EXPECTED_OUTPUT as ASYNC_EXPECTED_OUTPUT

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

EXPECTED_OUTPUT = {
    "quickstart.py": ["'dataType': 'text', 'data': 'Hello, text!'", "'data': {'hello': 'JSON'}",
                      "'dataType': 'binary'"],
    "send_messages.py": ["alice got: to everyone", "bob got: {'only': 'bob'}", "alice got: to room1"],
    "manage_groups.py": ["room1 members: ['alice', 'bob']", "vip members: ['alice']",
                         "room1 exists after removals: False"],
    "manage_connections.py": ["'message': 'maintenance'", "user alice exists after close: False"],
    "manage_permissions.py": ["may join room1 after grant: True", "may join room1 after revoke: False"],
    "client_access_token.py": ["'fromUserId': 'dave'", "/clients/mqtt/hubs/samples",
                               "an MQTT client connects with it: Success"],
    "mqtt_device.py": ["backend: thermostat1 connected as kitchen", "backend: reading 23.5 from thermostat1",
                       'device: $webpubsub/server/messages <- {"command":"fan","speed":2}',
                       'device: $webpubsub/server/events/reading/succeeded <- {"stored":true}',
                       'device: commands <- {"command":"update","firmware":"2.1"}',
                       "backend: thermostat1 left (initiated by client: True)"],
    "send_raw_requests.py": ["<HttpResponse: 202 Accepted> 202", "user exists: 404 Warning.User.NotExisted"],
}


@pytest.mark.parametrize("sample", sorted(EXPECTED_OUTPUT))
def test_sample_runs_against_the_emulator(sample: str) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "WEBPUBSUB_CONNECTION_STRING"}
    finished = subprocess.run([sys.executable, str(SAMPLES / sample)], capture_output=True, text=True,
                              timeout=90, env=environment, cwd=SAMPLES.parent)
    assert finished.returncode == 0, finished.stderr
    for expected in EXPECTED_OUTPUT[sample]:
        assert expected in finished.stdout


def run_sample(sample: str, *arguments: str, connection_string: str) -> "subprocess.CompletedProcess[str]":
    environment: Dict[str, str] = dict(os.environ, WEBPUBSUB_CONNECTION_STRING=connection_string)
    return subprocess.run([sys.executable, str(SAMPLES / sample), *arguments], capture_output=True, text=True,
                          timeout=90, env=environment, cwd=SAMPLES.parent)


def requests_seen(records: List[logging.LogRecord]) -> List[str]:
    """The emulator's access-log lines for REST calls and client connections."""
    return [record.getMessage() for record in records if "/hubs/" in record.getMessage()]


@pytest.mark.parametrize("sample", sorted(set(EXPECTED_OUTPUT) - {"mqtt_device.py"} | set(ASYNC_EXPECTED_OUTPUT)))
def test_sample_uses_the_resource_named_by_webpubsub_connection_string(
        sample: str, caplog: pytest.LogCaptureFixture) -> None:
    expected = {**EXPECTED_OUTPUT, **ASYNC_EXPECTED_OUTPUT}[sample]
    with caplog.at_level(logging.INFO, logger="webpubsub_emulator"), Emulator(verbose=True) as resource:
        finished = run_sample(sample, connection_string=resource.connection_string)
    assert finished.returncode == 0, finished.stderr
    for line in expected:
        assert line in finished.stdout
    assert requests_seen(caplog.records), "the sample did not send to the resource it was given"


def test_the_mqtt_sample_uses_the_resource_named_by_webpubsub_connection_string(
        caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port for the backend, named in the hub settings before it starts
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hub_settings = {"devices": f"http://127.0.0.1:{port}/eventhandler"}
    with caplog.at_level(logging.INFO, logger="webpubsub_emulator"), \
            Emulator(event_handlers=hub_settings, verbose=True) as resource:
        finished = run_sample("mqtt_device.py", "--port", str(port), connection_string=resource.connection_string)
    assert finished.returncode == 0, finished.stderr
    for line in EXPECTED_OUTPUT["mqtt_device.py"]:
        assert line in finished.stdout
    assert requests_seen(caplog.records), "the sample did not send to the resource it was given"
