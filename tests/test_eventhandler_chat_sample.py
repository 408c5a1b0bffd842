"""The chat sample starts with one command and relays a message between WebSocket clients."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator

import aiohttp
import pytest

pytest.importorskip("webpubsub_emulator")

REPO = Path(__file__).resolve().parent.parent
SERVER = REPO / "samples" / "chat" / "server.py"
WAIT_SECONDS = 15
SUBPROTOCOL = "json.webpubsub.azure.v1"


@pytest.fixture
def chat_url() -> Iterator[str]:
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )
    lines: "queue.Queue[str]" = queue.Queue()

    def forward_output() -> None:
        for line in process.stdout or []:
            lines.put(line)

    threading.Thread(target=forward_output, daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=WAIT_SECONDS)
            found = re.search(r"Chat running at (http://\S+?)/ ", line)
            if found:
                yield found.group(1)
                return
    finally:
        process.terminate()
        process.wait(timeout=WAIT_SECONDS)


def negotiate(chat_url: str, user: str) -> str:
    with urllib.request.urlopen(f"{chat_url}/negotiate?id={user}", timeout=WAIT_SECONDS) as response:
        url: str = json.loads(response.read())["url"]
    return url


async def next_server_data(socket: aiohttp.ClientWebSocketResponse) -> Dict[str, Any]:
    while True:
        message = json.loads((await socket.receive(timeout=WAIT_SECONDS)).data)
        if message.get("type") == "message" and message.get("from") == "server":
            data: Dict[str, Any] = message["data"]
            return data


def test_sample_serves_the_page(chat_url: str) -> None:
    with urllib.request.urlopen(f"{chat_url}/", timeout=WAIT_SECONDS) as response:
        assert SUBPROTOCOL.encode() in response.read()


@pytest.mark.asyncio
async def test_negotiate_then_chat_message_is_broadcast(chat_url: str) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT_SECONDS)) as session:
        async with session.ws_connect(negotiate(chat_url, "alice"), protocols=[SUBPROTOCOL]) as alice:
            assert await next_server_data(alice) == {"system": "alice joined"}
            async with session.ws_connect(negotiate(chat_url, "bob"), protocols=[SUBPROTOCOL]) as bob:
                assert await next_server_data(bob) == {"system": "bob joined"}
                assert await next_server_data(alice) == {"system": "bob joined"}
                await alice.send_json({"type": "event", "event": "chat", "dataType": "text", "data": "hello"})
                assert await next_server_data(bob) == {"from": "alice", "text": "hello"}
                assert await next_server_data(alice) == {"from": "alice", "text": "hello"}
            assert await next_server_data(alice) == {"system": "bob left"}
