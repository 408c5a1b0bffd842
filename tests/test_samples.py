"""Every sample runs to completion against the in-process emulator and shows what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
