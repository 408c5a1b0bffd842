"""The chat sample starts with one command and relays a message between WebSocket clients."""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator
from urllib.parse import urlsplit

import aiohttp
import pytest

pytest.importorskip("webpubsub_emulator")
from webpubsub_emulator import Emulator  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SERVER = REPO / "samples" / "chat" / "server.py"
WAIT_SECONDS = 15
SUBPROTOCOL = "json.webpubsub.azure.v1"


def sample_environment(**variables: str) -> Dict[str, str]:
    """The test's environment less WEBPUBSUB_CONNECTION_STRING (the sample then starts its own emulator)."""
    environment = {name: value for name, value in os.environ.items() if name != "WEBPUBSUB_CONNECTION_STRING"}
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**environment, **variables}


@pytest.fixture
def chat_url() -> Iterator[str]:
    with running_chat("--port", "0") as url:
        yield url


@contextmanager
def running_chat(*arguments: str, **environment: str) -> Iterator[str]:
    """Start ``server.py`` as a user does; yield the URL it prints once it is running."""
    process = subprocess.Popen(
        [sys.executable, str(SERVER), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=sample_environment(**environment),
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


def chat_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT_SECONDS))


def join(session: aiohttp.ClientSession, chat_url: str, user: str) -> Any:
    """Open a chat connection as the page does: negotiate, then the JSON subprotocol."""
    return session.ws_connect(negotiate(chat_url, user), protocols=[SUBPROTOCOL])


async def next_server_data(socket: aiohttp.ClientWebSocketResponse) -> Dict[str, Any]:
    while True:
        message = json.loads((await socket.receive(timeout=WAIT_SECONDS)).data)
        if message.get("type") == "message" and message.get("from") == "server":
            data: Dict[str, Any] = message["data"]
            return data


def test_sample_serves_the_page(chat_url: str) -> None:
    with urllib.request.urlopen(f"{chat_url}/", timeout=WAIT_SECONDS) as response:
        assert SUBPROTOCOL.encode() in response.read()


def test_negotiate_refuses_a_missing_or_overlong_name(chat_url: str) -> None:
    for query, reason in [("id=%20", b"missing ?id=<your name>"), ("id=" + "n" * 33, b"at most 32 characters")]:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{chat_url}/negotiate?{query}", timeout=WAIT_SECONDS)
        assert refused.value.code == 400
        assert reason in refused.value.read()


@pytest.mark.asyncio
async def test_negotiate_then_chat_message_is_broadcast(chat_url: str) -> None:
    async with chat_session() as session:
        async with join(session, chat_url, "alice") as alice:
            assert await next_server_data(alice) == {"system": "alice joined", "online": ["alice"]}
            async with join(session, chat_url, "bob") as bob:
                assert await next_server_data(bob) == {"system": "bob joined", "online": ["alice", "bob"]}
                assert await next_server_data(alice) == {"system": "bob joined", "online": ["alice", "bob"]}
                await alice.send_json({"type": "event", "event": "chat", "dataType": "text", "data": "hello"})
                assert await next_server_data(bob) == {"from": "alice", "text": "hello"}
                assert await next_server_data(alice) == {"from": "alice", "text": "hello"}
            assert await next_server_data(alice) == {"system": "bob left", "online": ["alice"]}


@pytest.mark.asyncio
async def test_with_webpubsub_connection_string_it_chats_through_that_resource_and_starts_no_emulator() -> None:
    with socket.socket() as probe:  # the port the hub settings name before the chat starts
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # A separate emulator stands in for a real resource, its hub set up as the sample's docstring says.
    with Emulator(event_handlers={"chat": f"http://127.0.0.1:{port}/eventhandler"}) as resource, \
            running_chat("--port", str(port), WEBPUBSUB_CONNECTION_STRING=resource.connection_string) as url:
        assert urlsplit(negotiate(url, "alice")).port == resource.port
        async with chat_session() as session, join(session, url, "alice") as alice:
            assert await next_server_data(alice) == {"system": "alice joined", "online": ["alice"]}
            await alice.send_json({"type": "event", "event": "chat", "dataType": "text", "data": "hello"})
            assert await next_server_data(alice) == {"from": "alice", "text": "hello"}


@pytest.mark.asyncio
async def test_a_second_tab_gets_the_online_list_without_a_join_or_leave_notice(chat_url: str) -> None:
    async with chat_session() as session:
        async with join(session, chat_url, "alice") as first_tab:
            assert await next_server_data(first_tab) == {"system": "alice joined", "online": ["alice"]}
            async with join(session, chat_url, "alice") as second_tab:
                assert await next_server_data(second_tab) == {"online": ["alice"]}
            async with join(session, chat_url, "bob"):
                # The next thing the first tab hears is bob: the second tab came and went quietly.
                assert await next_server_data(first_tab) == {"system": "bob joined", "online": ["alice", "bob"]}


@pytest.mark.asyncio
async def test_an_overlong_or_blank_message_is_not_broadcast(chat_url: str) -> None:
    async with chat_session() as session:
        async with join(session, chat_url, "alice") as alice:
            assert await next_server_data(alice) == {"system": "alice joined", "online": ["alice"]}
            for text in ["x" * 2001, "   ", "short"]:
                await alice.send_json({"type": "event", "event": "chat", "dataType": "text", "data": text})
            assert await next_server_data(alice) == {"from": "alice", "text": "short"}


def test_a_busy_port_is_one_clear_line_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run([sys.executable, str(SERVER), "--port", str(port)], capture_output=True,
                                  text=True, timeout=WAIT_SECONDS * 4, env=sample_environment())
    assert finished.returncode == 1
    assert finished.stdout == ""
    assert finished.stderr.splitlines() == [
        f"chat: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(is the chat already running? --port 0 picks a free port)"]


def test_the_default_port_is_not_the_standalone_emulators() -> None:
    from webpubsub_emulator._cli import _parser

    sample_help = subprocess.run([sys.executable, str(SERVER), "--help"], capture_output=True, text=True,
                                 timeout=WAIT_SECONDS * 4, env=sample_environment()).stdout
    chat_default = re.search(r"\(default (\d+);", sample_help)
    assert chat_default, sample_help
    assert int(chat_default.group(1)) != _parser().get_default("port")
