"""The command line (run as a real subprocess), config files, the sync `with Emulator()` and the fixture."""
from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
from pathlib import Path
from typing import List, Tuple

import aiohttp
import pytest
from emulator_core_helpers import WAIT, client_token

from webpubsub_emulator import DEFAULT_ACCESS_KEY, Emulator
from webpubsub_emulator._mqtt_codec import MQTT_5, ConnAck, Connect, PacketReader, encode

CONNECTION_STRING = re.compile(r"Endpoint=http://127\.0\.0\.1:(\d+);AccessKey=([^;]+);Version=1\.0;")


async def start_cli(*args: str) -> Tuple[asyncio.subprocess.Process, int, str, List[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webpubsub_emulator", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    lines: List[str] = []
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 15)).decode()
        assert line, "the emulator exited before printing its connection string"
        lines.append(line)
        match = CONNECTION_STRING.search(line)
        if match:
            lines.append((await asyncio.wait_for(process.stdout.readline(), WAIT)).decode())
            return process, int(match.group(1)), match.group(2), lines


async def run_cli(*args: str) -> Tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webpubsub_emulator", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


@pytest.mark.asyncio
async def test_cli_prints_connection_string_and_warning_then_sigterm_closes_clients_and_exits_0() -> None:
    process, port, key, lines = await start_cli()
    assert key == DEFAULT_ACCESS_KEY
    assert "development" in lines[-1] and "not the service" in lines[-1]
    endpoint = f"http://127.0.0.1:{port}"
    token = client_token(Emulator(), audience=f"{endpoint}/client/hubs/chat")
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{endpoint}/client/hubs/chat?access_token={token}",
                                      protocols=["json.webpubsub.azure.v1"])
        assert (await asyncio.wait_for(ws.receive_json(), WAIT))["event"] == "connected"
        process.send_signal(signal.SIGTERM)
        disconnected = await asyncio.wait_for(ws.receive_json(), WAIT)
        assert disconnected["event"] == "disconnected" and disconnected["message"]
        assert (await asyncio.wait_for(ws.receive(), WAIT)).type == aiohttp.WSMsgType.CLOSE
    assert await asyncio.wait_for(process.wait(), 15) == 0


@pytest.mark.asyncio
async def test_cli_sigint_exits_0() -> None:
    process, _, _, _ = await start_cli()
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 15) == 0


@pytest.mark.asyncio
async def test_cli_bad_flag_is_one_line_and_nonzero() -> None:
    code, stderr = await run_cli("--colour", "blue")
    assert code != 0
    assert len(stderr.strip().splitlines()) == 1 and "--colour" in stderr


@pytest.mark.asyncio
async def test_cli_read_timeout_drops_a_silent_connection_and_refuses_a_bad_value() -> None:
    process, port, _, _ = await start_cli("--read-timeout", "0.3")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), WAIT) == b""  # closed without a request
        writer.close()
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 15)
    code, stderr = await run_cli("--read-timeout", "0")
    assert code != 0 and "read_timeout must be a positive number" in stderr and len(stderr.splitlines()) == 1


@pytest.mark.asyncio
async def test_cli_bad_event_handler_flag_is_one_line_and_nonzero() -> None:
    code, stderr = await run_cli("--port", "0", "--event-handler", "chat")
    assert code != 0 and len(stderr.strip().splitlines()) == 1


@pytest.mark.asyncio
async def test_cli_busy_port_is_one_line_and_nonzero() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        code, stderr = await run_cli("--port", str(busy.getsockname()[1]))
    assert code != 0
    assert len(stderr.strip().splitlines()) == 1 and "cannot listen" in stderr


@pytest.mark.asyncio
async def test_cli_reads_microsoft_appsettings_shape(tmp_path: Path) -> None:
    key = "K" * 40
    config = tmp_path / "appsettings.json"
    config.write_text(json.dumps({"WebPubSub": {"AccessKey": key, "Hubs": {"chat": {"EventHandlers": [
        {"UrlTemplate": "http://127.0.0.1:9/{event}", "SystemEvents": ["connected"], "EventPattern": "*"}]}}}}))
    process, _, printed_key, _ = await start_cli("--config", str(config))
    assert printed_key == key
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 15) == 0


@pytest.mark.asyncio
async def test_cli_rejects_unreadable_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    code, stderr = await run_cli("--port", "0", "--config", str(bad))
    assert code != 0 and "not valid JSON" in stderr


def test_our_config_shape_sets_handlers_and_anonymous_policy() -> None:
    emulator = Emulator(config={"accessKey": "Z" * 32, "hubs": {"Chat": {
        "eventHandlers": [{"urlTemplate": "http://127.0.0.1:7071/{event}", "userEventPattern": "a,b",
                           "systemEvents": ["connect"]}], "anonymousConnectPolicy": "allow"}}})
    hub = emulator.settings.hub("chat")
    assert emulator.access_key == "Z" * 32 and hub.anonymous_connect
    assert hub.event_handlers[0].user_event_pattern == "a,b"
    assert hub.event_handlers[0].system_events == ("connect",)


def test_short_access_key_is_refused() -> None:
    with pytest.raises(ValueError):
        Emulator(access_key="short")


def test_sync_emulator_runs_in_its_own_thread_and_serves_rest() -> None:
    import urllib.request

    import jwt
    with Emulator() as emu:
        assert emu.connection_string == f"Endpoint=http://127.0.0.1:{emu.port};AccessKey={emu.access_key};Version=1.0;"
        url = f"{emu.endpoint}/api/hubs/chat/:send?api-version=2024-12-01"
        token = jwt.encode({"aud": url, "exp": 4102444800}, emu.access_key, algorithm="HS256")
        request = urllib.request.Request(url, data=b"hi", method="POST",
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            assert response.status == 202


def test_pytest_fixture_gives_a_started_emulator(webpubsub_emulator: Emulator) -> None:
    import urllib.request
    request = urllib.request.Request(f"{webpubsub_emulator.endpoint}/api/health", method="HEAD")
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        assert response.status == 200


@pytest.mark.asyncio
async def test_cli_accepts_hubs_and_event_handlers() -> None:
    process, _, _, lines = await start_cli("--hub", "chat", "news",
                                           "--event-handler", "chat=http://127.0.0.1:9/{event}")
    assert any("Endpoint=" in line for line in lines)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 15) == 0


def test_default_hub_entry_applies_to_hubs_without_their_own() -> None:
    emulator = Emulator(config={"hubs": {"_default": {"anonymousConnectPolicy": "allow"}, "chat": {}}},
                        event_handlers={"_default": "http://127.0.0.1:9/{event}"})
    assert emulator.settings.hub("anything").anonymous_connect
    assert not emulator.settings.hub("chat").anonymous_connect


@pytest.mark.asyncio
async def test_cli_takes_a_primary_and_a_secondary_key_and_warns_about_entra_tokens() -> None:
    import jwt
    primary, secondary = "P" * 40, "S" * 40
    process, port, printed_key, _ = await start_cli("--access-key", primary, "--access-key", secondary,
                                                    "--allow-unvalidated-entra-tokens")
    assert process.stdout is not None
    warning = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode()
    assert printed_key == primary
    assert "WITHOUT checking" in warning and "local tests only" in warning
    url = f"http://127.0.0.1:{port}/api/hubs/chat/:send?api-version=2024-12-01"
    async with aiohttp.ClientSession() as session:
        for key in (primary, secondary):
            token = jwt.encode({"aud": url, "exp": 4102444800}, key, algorithm="HS256")
            async with session.post(url, data=b"hi", headers={"Authorization": f"Bearer {token}",
                                                              "Content-Type": "text/plain"}) as response:
                assert response.status == 202
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 15) == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(("flags", "message"), [
    (["--access-key", "A" * 40, "--access-key", "B" * 40, "--access-key", "C" * 40], "one or two access keys"),
    (["--max-connections", "0"], "maxConnections"),
    (["--keep-alive-interval", "121"], "keep_alive_interval"),
    (["--ping-timeout", "-1"], "ping_timeout"),
    (["--tls-cert", "cert.pem"], "tls_cert and tls_key"),
])
async def test_cli_bad_limits_and_keys_are_one_line_and_nonzero(flags: List[str], message: str) -> None:
    code, stderr = await run_cli("--port", "0", *flags)
    assert code != 0 and len(stderr.strip().splitlines()) == 1 and message in stderr


def test_config_file_sets_connection_limit_keep_alive_and_entra_tokens() -> None:
    emulator = Emulator(config={"maxConnections": 20, "webSocketKeepAliveIntervalInSeconds": 10,
                                "allowUnvalidatedEntraTokens": True,
                                "hubs": {"chat": {"webSocketKeepAliveIntervalInSeconds": 2,
                                                  "pingTimeoutSeconds": 5}}})
    settings = emulator.settings
    assert settings.max_connections == 20 and settings.allow_unvalidated_entra_tokens
    assert settings.keep_alive("chat") == (2.0, 5.0)
    assert settings.keep_alive("other") == (10.0, 30.0)
    assert Emulator(keep_alive_interval=1, ping_timeout=4).settings.keep_alive("x") == (1.0, 4.0)
    assert Emulator().settings.keep_alive("x") == (20.0, 60.0)
    assert Emulator(config={"WebPubSub": {"AllowUnvalidatedEntraTokens": True}}).settings.allow_unvalidated_entra_tokens


@pytest.mark.parametrize("config", [{"maxConnections": "20"}, {"maxConnections": True},
                                    {"webSocketKeepAliveIntervalInSeconds": 0},
                                    {"hubs": {"chat": {"pingTimeoutSeconds": "5"}}},
                                    {"allowUnvalidatedEntraTokens": "yes"}])
def test_bad_limit_settings_in_the_config_are_refused(config: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        Emulator(config=config)


@pytest.mark.asyncio
async def test_cli_can_admit_mqtt_client_ids_with_underscores() -> None:
    import jwt
    process, port, key, _ = await start_cli("--mqtt-allow-underscore")
    try:
        url = f"http://127.0.0.1:{port}/clients/mqtt/hubs/chat"
        token = jwt.encode({"aud": url, "exp": 4102444800}, key, algorithm="HS256")
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{url}?access_token={token}", protocols=["mqtt"]) as ws:
                await ws.send_bytes(encode(Connect("mqttx_1a2b"), MQTT_5))
                message = await ws.receive(timeout=WAIT)
        [connack] = PacketReader(1 << 20, MQTT_5).feed(message.data)
        assert isinstance(connack, ConnAck) and connack.code == 0
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
