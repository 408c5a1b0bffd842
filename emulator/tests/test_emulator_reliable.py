"""Reliable subprotocol (sequence ids, acks, recovery), message TTL and bounded outbound queues."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import AsyncIterator, List, Optional, Tuple, Type

import aiohttp
import pytest
import pytest_asyncio
from emulator_core_helpers import (RELIABLE_PROTOCOL, WAIT, Client, client_token, connect, hub_connections, rest,
                                   wait_until)

from webpubsub_emulator import ConnectionLimits, Emulator

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(limits=ConnectionLimits(recovery_seconds=2.0, reliable_max_messages=20)) as emulator:
        yield emulator


async def send_text(emu: Emulator, text: str, *params: Tuple[str, str]) -> None:
    result = await rest(emu, "POST", "/api/hubs/chat/:send", list(params), body=text, content_type="text/plain")
    assert result.status == 202


async def recover(emu: Emulator, connection_id: str, token: str, protocol: str = RELIABLE_PROTOCOL,
                  client_type: Type[Client] = Client) -> Client:
    session = aiohttp.ClientSession()
    query = f"awps_connection_id={connection_id}&awps_reconnection_token={token}"
    url = f"{emu.endpoint}/client/hubs/chat?{query}"
    ws = await asyncio.wait_for(session.ws_connect(url, protocols=[protocol]), WAIT)
    return client_type(session, ws)


async def drop(client: Client) -> None:
    """Leave without a normal close (code 1000 would end the session for good)."""
    await client.ws.close(code=4000)
    await client.session.close()


async def test_reliable_connected_message_has_a_reconnection_token(emu: Emulator) -> None:
    client = await connect(emu, protocol=RELIABLE_PROTOCOL)
    assert client.connected is not None and client.connected["reconnectionToken"]
    await client.close()


async def test_every_data_message_carries_an_increasing_sequence_id_but_acks_do_not(emu: Emulator) -> None:
    client = await connect(emu, protocol=RELIABLE_PROTOCOL, roles=["webpubsub.joinLeaveGroup"])
    await send_text(emu, "a")
    await send_text(emu, "b")
    assert [(await client.receive_data())["sequenceId"] for _ in range(2)] == [1, 2]
    ack = await client.request({"type": "joinGroup", "group": "g", "ackId": 1})
    assert "sequenceId" not in ack
    await client.close()


async def test_recovery_keeps_id_and_groups_and_replays_unacked_in_order(emu: Emulator) -> None:
    client = await connect(emu, protocol=RELIABLE_PROTOCOL, groups=["g"])
    assert client.connected is not None
    connection_id, token = client.connected["connectionId"], client.connected["reconnectionToken"]
    await send_text(emu, "one")
    await send_text(emu, "two")
    assert (await client.receive_data())["data"] == "one"
    assert (await client.receive_data())["data"] == "two"
    await client.send({"type": "sequenceAck", "sequenceId": 1})
    await asyncio.sleep(0.1)
    await drop(client)
    await wait_until(lambda: not emu.core.hub("chat").connections[connection_id].attached)
    assert (await rest(emu, "HEAD", f"/api/hubs/chat/connections/{connection_id}")).status == 200
    await rest(emu, "POST", "/api/hubs/chat/groups/g/:send", body="three", content_type="text/plain")
    recovered = await recover(emu, connection_id, token)
    connected = await recovered.receive_json()
    assert (connected["event"], connected["connectionId"]) == ("connected", connection_id)
    replayed = [await recovered.receive_data() for _ in range(2)]
    assert [(item["sequenceId"], item["data"]) for item in replayed] == [(2, "two"), (3, "three")]
    await send_text(emu, "four")
    assert (await recovered.receive_data())["sequenceId"] == 4
    await recovered.close()


async def test_processed_ack_ids_survive_recovery(emu: Emulator) -> None:
    client = await connect(emu, protocol=RELIABLE_PROTOCOL, roles=["webpubsub.joinLeaveGroup"])
    assert client.connected is not None
    assert (await client.request({"type": "joinGroup", "group": "g", "ackId": 9}))["success"]
    await drop(client)
    recovered = await recover(emu, client.connected["connectionId"], client.connected["reconnectionToken"])
    await recovered.receive_json()
    assert (await recovered.request({"type": "joinGroup", "group": "g", "ackId": 9}))["error"]["name"] == "Duplicate"
    await recovered.close()


async def test_recovery_with_a_bad_token_is_refused_with_1008(emu: Emulator) -> None:
    client = await connect(emu, protocol=RELIABLE_PROTOCOL)
    refused = await recover(emu, client.connection_id or "", "not-a-token")
    closing = await refused.receive()
    assert (closing.type.name, closing.data) == ("CLOSE", 1008)
    await refused.close()
    await client.close()


async def test_normal_close_ends_the_session_for_good(emu: Emulator) -> None:
    client = await connect(emu, protocol=RELIABLE_PROTOCOL)
    assert client.connected is not None
    await client.close()
    await wait_until(lambda: not hub_connections(emu))
    refused = await recover(emu, client.connected["connectionId"], client.connected["reconnectionToken"])
    assert (await refused.receive()).data == 1008
    await refused.close()


async def test_recovery_window_expiry_removes_the_connection(emu: Emulator) -> None:
    client = await connect(emu, protocol=RELIABLE_PROTOCOL, user="late")
    assert client.connected is not None
    await drop(client)
    await wait_until(lambda: not hub_connections(emu), timeout=WAIT)
    assert (await rest(emu, "HEAD", "/api/hubs/chat/users/late")).status == 404
    refused = await recover(emu, client.connected["connectionId"], client.connected["reconnectionToken"])
    assert (await refused.receive()).data == 1008
    await refused.close()


async def test_reliable_buffer_overflow_closes_with_1008(emu: Emulator) -> None:
    client = await connect(emu, protocol=RELIABLE_PROTOCOL)
    for index in range(21):
        await send_text(emu, str(index))
    while True:
        message = await client.receive()
        if message.type == aiohttp.WSMsgType.CLOSE:
            break
    assert message.data == 1008
    await client.close()
    await wait_until(lambda: not hub_connections(emu))


async def test_message_within_ttl_is_delivered(emu: Emulator) -> None:
    client = await connect(emu)
    await send_text(emu, "fresh", ("messageTtlSeconds", "30"))
    assert (await client.receive_data())["data"] == "fresh"
    await client.close()


# -- slow clients: a raw socket that completes the upgrade and then stops reading -----------------------
class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, emu: Emulator, protocol: Optional[str] = None, **token_args: object) -> "RawClient":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", emu.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=16384)
        key = base64.b64encode(os.urandom(16)).decode()
        token = client_token(emu, **token_args)  # type: ignore[arg-type]
        writer.write((f"GET /client/hubs/chat?access_token={token} HTTP/1.1\r\nHost: 127.0.0.1:{emu.port}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      + (f"Sec-WebSocket-Protocol: {protocol}\r\n" if protocol else "")
                      + "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def frame(self) -> Tuple[int, bytes]:
        first, second = await asyncio.wait_for(self.reader.readexactly(2), WAIT)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await asyncio.wait_for(self.reader.readexactly(length), WAIT)

    async def texts_until(self, wanted: str) -> List[str]:
        texts: List[str] = []
        while wanted not in texts:
            opcode, payload = await self.frame()
            if opcode == 1:
                texts.append(payload.decode())
        return texts

    def send_close_without_status(self) -> None:
        """A close frame with an empty payload (what the official JS client's stop() sends), masked as clients must."""
        self.writer.write(b"\x88\x80" + os.urandom(4))

    def close(self) -> None:
        self.writer.transport.abort()


async def fill_until_blocked(emu: Emulator) -> None:
    """Queue far more than the kernel and transport buffers hold, so the writer task blocks."""
    for _ in range(12):
        await rest(emu, "POST", "/api/hubs/chat/:send", body=b"\0" * 700_000, content_type="application/octet-stream")


async def test_close_frame_without_a_status_code_ends_the_session_like_1000(emu: Emulator) -> None:
    raw = await RawClient.open(emu, protocol=RELIABLE_PROTOCOL)
    opcode, payload = await raw.frame()
    connected = json.loads(payload)
    raw.send_close_without_status()
    connections = emu.core.hub("chat").connections
    await wait_until(lambda: connected["connectionId"] not in connections
                     or not connections[connected["connectionId"]].attached)
    assert connected["connectionId"] not in connections  # ended, not waiting in the recovery window
    raw.close()
    refused = await recover(emu, connected["connectionId"], connected["reconnectionToken"])
    assert (opcode, (await refused.receive()).data) == (1, 1008)
    await refused.close()


async def test_message_that_waited_longer_than_its_ttl_is_dropped_not_delivered_late(emu: Emulator) -> None:
    raw = await RawClient.open(emu)
    await fill_until_blocked(emu)
    await send_text(emu, "expire-me", ("messageTtlSeconds", "1"))
    await send_text(emu, "keep-me")
    await asyncio.sleep(1.5)
    texts = await raw.texts_until("keep-me")
    assert "expire-me" not in texts
    raw.close()


async def test_client_ttl_seconds_drops_a_group_message_that_waited_too_long(emu: Emulator) -> None:
    raw = await RawClient.open(emu, groups=["g"])
    sender = await connect(emu, roles=["webpubsub.sendToGroup"])
    await fill_until_blocked(emu)
    await sender.send({"type": "sendToGroup", "group": "g", "dataType": "text", "data": "expire-me", "ttlSeconds": 1})
    await sender.send({"type": "sendToGroup", "group": "g", "dataType": "text", "data": "keep-me"})
    await asyncio.sleep(1.5)
    texts = await raw.texts_until("keep-me")
    assert "expire-me" not in texts
    raw.close()
    await sender.close()


async def test_client_that_stays_over_the_queue_bound_is_closed_with_1008_and_a_reason() -> None:
    limits = ConnectionLimits(queue_max_messages=5, queue_grace_seconds=0.3, close_timeout_seconds=5)
    async with Emulator(limits=limits) as emu:
        raw = await RawClient.open(emu, user="slow")
        await fill_until_blocked(emu)
        for index in range(8):
            await send_text(emu, f"small {index}")
        connection = emu.core.hub("chat").connections[hub_connections(emu)[0]]
        await wait_until(lambda: connection.closing)
        while True:  # reading again lets the queued close frame through; the dropped backlog never comes
            opcode, payload = await raw.frame()
            assert opcode != 1, "a message queued over the bound was still delivered"
            if opcode == 8:
                break
        assert struct.unpack("!H", payload[:2])[0] == 1008
        assert b"slow" in payload[2:]
        await wait_until(lambda: not hub_connections(emu))
        assert (await rest(emu, "HEAD", "/api/hubs/chat/users/slow")).status == 404
        raw.close()


async def test_client_over_the_byte_bound_past_the_grace_period_is_dropped_even_if_it_never_reads() -> None:
    # ~14 MB sent, a few MB fit in socket buffers: the queue ends between the bound and twice the bound,
    # so it is the grace period (not the hard limit) that closes it.
    limits = ConnectionLimits(queue_max_bytes=6_000_000, queue_grace_seconds=0.3, close_timeout_seconds=0.5)
    async with Emulator(limits=limits) as emu:
        raw = await RawClient.open(emu)
        for _ in range(20):
            await rest(emu, "POST", "/api/hubs/chat/:send", body=b"\0" * 700_000,
                       content_type="application/octet-stream")
        await wait_until(lambda: not hub_connections(emu))
        raw.close()


async def test_fast_client_never_trips_the_queue_bound() -> None:
    limits = ConnectionLimits(queue_max_messages=50, queue_grace_seconds=0.3)
    async with Emulator(limits=limits) as emu:
        client = await connect(emu)
        for index in range(200):
            await send_text(emu, str(index))
        received = [(await client.receive_data())["data"] for _ in range(200)]
        assert received == [str(index) for index in range(200)]
        await client.close()
