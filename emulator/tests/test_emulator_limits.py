"""Connection limit, keep-alive and ping timeout, and size limits (service-limits-and-errors.md sections 1-3)."""
from __future__ import annotations

import asyncio
import json
import time
from typing import AsyncIterator, Tuple

import aiohttp
import pytest
import pytest_asyncio
from emulator_core_helpers import (JSON_PROTOCOL, RELIABLE_PROTOCOL, WAIT, client_token, connect, rest,
                                   wait_until)
from test_emulator_reliable import drop, recover
from test_emulator_upstream_support import running_handler

from webpubsub_emulator import Emulator

pytestmark = pytest.mark.asyncio


async def refused_status(emu: Emulator, hub: str = "chat") -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(emu, hub)
    return refused.value.status


# -- the connection limit ---------------------------------------------------------------------------
async def test_connections_beyond_the_limit_get_429_before_any_connect_event() -> None:
    async with running_handler() as handler:
        async with Emulator(max_connections=2, event_handlers={"_default": handler.url_template}) as emu:
            first, second = await connect(emu, "chat"), await connect(emu, "news")  # the limit spans hubs
            await handler.wait_for(2, event="connect")
            async with aiohttp.ClientSession() as session:
                url = f"{emu.endpoint}/client/hubs/chat?access_token={client_token(emu)}"
                async with session.get(url, headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                     "Sec-WebSocket-Version": "13",
                                                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as response:
                    assert response.status == 429
                    assert "ConnectionCountLimitReached" in await response.text()
            assert len(handler.received(event="connect")) == 2
            await first.close()
            await wait_until(lambda: emu.core.connection_count() == 1)
            third = await connect(emu)
            assert third.connection_id
            await second.close()
            await third.close()


async def test_without_a_limit_connections_are_not_counted_against_anything() -> None:
    async with Emulator() as emu:
        clients = [await connect(emu) for _ in range(25)]  # more than a Free unit's 20
        assert emu.core.connection_count() == 25
        for client in clients:
            await client.close()


async def test_a_reliable_connection_in_its_recovery_window_keeps_its_place_and_recovers() -> None:
    async with Emulator(max_connections=1) as emu:
        client = await connect(emu, protocol=RELIABLE_PROTOCOL)
        assert client.connected is not None
        token, connection_id = client.connected["reconnectionToken"], client.connection_id or ""
        await drop(client)
        await asyncio.sleep(0.1)
        assert await refused_status(emu) == 429
        recovered = await recover(emu, connection_id, token)
        assert (await recovered.receive_json())["connectionId"] == connection_id
        await recovered.close()


async def test_refused_and_failed_handshakes_give_their_place_back() -> None:
    async with Emulator(max_connections=1) as emu:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await connect(emu, token="not-a-token")
        client = await connect(emu)
        assert emu.core.connection_count() == 1 and emu.core.handshakes_in_progress == 0
        await client.close()


# -- keep-alive and ping timeout ----------------------------------------------------------------------
async def raw_client(emu: Emulator, hub: str = "chat") -> Tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    """A JSON client that does not answer pings by itself (aiohttp's autoping off)."""
    session = aiohttp.ClientSession()
    url = f"{emu.endpoint}/client/hubs/{hub}?access_token={client_token(emu, hub)}"
    ws = await asyncio.wait_for(session.ws_connect(url, protocols=[JSON_PROTOCOL], autoping=False), WAIT)
    assert (await ws.receive_json(timeout=WAIT))["event"] == "connected"
    return session, ws


async def test_a_client_that_stops_answering_is_closed_with_reason_ping_timeout() -> None:
    async with running_handler() as handler:
        async with Emulator(keep_alive_interval=0.1, ping_timeout=0.35,
                            event_handlers={"chat": handler.url_template}) as emu:
            session, ws = await raw_client(emu)
            started = time.monotonic()
            pings = 0
            while True:
                message = await ws.receive(timeout=WAIT)
                if message.type == aiohttp.WSMsgType.PING:
                    pings += 1
                    continue
                break
            assert message.type == aiohttp.WSMsgType.TEXT
            assert message.json() == {"type": "system", "event": "disconnected", "message": "PingTimeout"}
            close = await ws.receive(timeout=WAIT)
            assert (close.type, close.data, close.extra) == (aiohttp.WSMsgType.CLOSE, 1000, "PingTimeout")
            assert pings >= 2 and 0.3 <= time.monotonic() - started < WAIT
            disconnected = (await handler.wait_for(1, event="disconnected"))[0]
            assert b"PingTimeout" in disconnected.body
            await session.close()


async def test_a_client_that_answers_pings_stays_connected() -> None:
    async with Emulator(keep_alive_interval=0.2, ping_timeout=1.0) as emu:
        client = await connect(emu)
        assert await client.nothing_within(2.5)  # reading, so aiohttp answers each ping with a pong
        assert (await rest(emu, "HEAD", f"/api/hubs/chat/connections/{client.connection_id}")).status == 200
        await client.close()


async def test_any_frame_from_the_client_counts_as_alive() -> None:
    async with Emulator(keep_alive_interval=0.2, ping_timeout=1.0) as emu:
        session, ws = await raw_client(emu)
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            await ws.send_json({"type": "ping"})
            message = await ws.receive(timeout=WAIT)
            assert message.type in (aiohttp.WSMsgType.PING, aiohttp.WSMsgType.TEXT), message
            await asyncio.sleep(0.1)
        assert len(emu.core.hub("chat").connections) == 1
        await ws.close()
        await session.close()


async def test_client_pings_are_answered_with_pongs() -> None:
    async with Emulator() as emu:
        session, ws = await raw_client(emu)
        await ws.ping(b"are you there")
        pong = await ws.receive(timeout=WAIT)
        assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"are you there")
        await ws.close()
        await session.close()


async def test_keep_alive_is_set_per_hub_in_the_config() -> None:
    config = {"hubs": {"fast": {"webSocketKeepAliveIntervalInSeconds": 0.1}}}
    async with Emulator(config=config) as emu:
        fast_session, fast = await raw_client(emu, "fast")
        slow_session, slow = await raw_client(emu, "slow")
        assert (await fast.receive(timeout=WAIT)).type == aiohttp.WSMsgType.PING
        with pytest.raises(asyncio.TimeoutError):
            await slow.receive(timeout=0.3)  # the default interval is 20 seconds
        for ws, session in ((fast, fast_session), (slow, slow_session)):
            await ws.close()
            await session.close()


# -- sizes ----------------------------------------------------------------------------------------------
@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


INVALID_GROUP = ("Invalid group name. Valid group name should be in between 1 and 1024 characters long.")


@pytest.mark.parametrize(("group", "status"), [("g" * 1024, 202), ("g" * 1025, 400), ("  ", 400)])
async def test_group_names_are_1_to_1024_characters_and_not_blank(emu: Emulator, group: str, status: int) -> None:
    from urllib.parse import quote
    result = await rest(emu, "POST", f"/api/hubs/chat/groups/{quote(group, safe='')}/:send", body="x",
                        content_type="text/plain")
    assert result.status == status
    if status == 400:
        assert result.json()["message"] == INVALID_GROUP


@pytest.mark.parametrize(("group", "allowed"), [("\U0001F600" * 512, True), ("\U0001F600" * 513, False)])
async def test_group_names_are_measured_as_dotnet_does(emu: Emulator, group: str, allowed: bool) -> None:
    # A character beyond U+FFFF is two UTF-16 code units, as .NET's string.Length counts.
    body = json.dumps({"groups": [group]})
    result = await rest(emu, "POST", "/api/hubs/chat/:addToGroups", body=body, content_type="application/json")
    assert result.status == (200 if allowed else 400)


async def test_a_client_joining_a_too_long_group_gets_a_bad_request_ack(emu: Emulator) -> None:
    client = await connect(emu, roles=["webpubsub.joinLeaveGroup"])
    refused = await client.request({"type": "joinGroup", "group": "g" * 1025, "ackId": 1})
    accepted = await client.request({"type": "joinGroup", "group": "g" * 1024, "ackId": 2})
    assert (refused["success"], refused["error"]["name"], accepted["success"]) == (False, "BadRequest", True)
    await client.close()


@pytest.mark.parametrize(("length", "status"), [(1024, 404), (1025, 400)])
async def test_user_ids_are_at_most_1024_characters(emu: Emulator, length: int, status: int) -> None:
    result = await rest(emu, "PUT", f"/api/hubs/chat/users/{'u' * length}/groups/g")
    assert result.status == status
    if status == 400:
        assert result.json() == {"code": "Error.BadRequest", "message": "Invalid userId. Valid userId should be in "
                                 "between 1 and 1024 characters long.", "target": "userId", "details": None,
                                 "innererror": None}


async def test_a_token_with_a_too_long_user_id_is_refused_before_the_upgrade(emu: Emulator) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(emu, user="u" * 1025)
    assert refused.value.status == 400
    generated = await rest(emu, "POST", "/api/hubs/chat/:generateToken", [("userId", "u" * 1025)])
    assert generated.status == 400


@pytest.mark.parametrize(("name", "bad_request"), [("e" * 128, False), ("e" * 129, True), ("9lives", True)])
async def test_event_names_are_at_most_128_characters(emu: Emulator, name: str, bad_request: bool) -> None:
    client = await connect(emu)
    ack = await client.request({"type": "event", "event": name, "dataType": "text", "data": "x", "ackId": 1})
    assert (ack.get("error", {}).get("name") == "BadRequest") is bad_request
    await client.close()
