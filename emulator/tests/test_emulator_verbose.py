"""`--verbose` logs the emulator's own lines (connections, requests), not asyncio's or aiohttp's internals."""
from __future__ import annotations

import asyncio
import re
import signal
from typing import List

import aiohttp
import pytest
from emulator_core_helpers import WAIT, client_token
from test_emulator_cli import start_cli

from webpubsub_emulator import Emulator

LOG_LINE = re.compile(r"^\S+ \S+ (?P<level>[A-Z]+) (?P<logger>[\w.]+): ")


async def session_log(*flags: str) -> List[str]:
    """Run the CLI, connect a client, send it a REST message, stop the CLI; return its stderr lines."""
    process, port, _, _ = await start_cli(*flags)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        token = client_token(Emulator(), user="alice", audience=f"{endpoint}/client/hubs/chat")
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{endpoint}/client/hubs/chat?access_token={token}") as ws:
                rest = await session.head(f"{endpoint}/api/health")
                assert rest.status == 200
                await ws.close()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), WAIT)
    return stderr.decode().splitlines()


@pytest.mark.asyncio
async def test_verbose_logs_connections_and_requests_from_the_emulators_loggers_only() -> None:
    lines = await session_log("--verbose")
    loggers = {match.group("logger") for match in map(LOG_LINE.match, lines) if match}
    assert any("opened on hub chat (user alice" in line for line in lines), lines
    assert any('"HEAD /api/health' in line for line in lines), lines
    assert loggers and all(name.split(".")[0] == "webpubsub_emulator" for name in loggers), loggers
    assert not [line for line in lines if "asyncio" in line]


@pytest.mark.asyncio
async def test_verbose_request_lines_never_show_a_clients_access_token() -> None:
    lines = await session_log("--verbose")
    handshake = [line for line in lines if '"GET /client/hubs/chat?' in line]
    assert handshake and all("access_token=REDACTED" in line for line in handshake), lines
    assert not [line for line in lines if "eyJ" in line]  # no JWT (base64 of '{"') anywhere


@pytest.mark.asyncio
async def test_without_verbose_a_normal_session_logs_nothing() -> None:
    assert await session_log() == []
