"""Hostile MQTT clients (malformed, oversized, out of order, cut off, slow): each gets the exact answer,
nothing wrong is accepted, and the broker keeps serving everyone else."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator

import pytest
import pytest_asyncio
from emulator_core_helpers import rest
from mqtt_helpers import RawClient, device, raw_client

from webpubsub_emulator import Emulator
from webpubsub_emulator import _mqtt_endpoint
from webpubsub_emulator._mqtt_codec import (MQTT_5, MQTT_311, PUBCOMP, PUBREC, PUBREL, Ack, ConnAck, Connect,
                                            Disconnect, Publish, SubAck, Subscribe, Subscription, encode)
from webpubsub_emulator._mqtt_properties import encode_varint

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator
        # whatever the test did, a well-behaved client is still served
        client = await device(emulator, "healthy")
        await client.subscribe("room1")
        await client.disconnect()


async def connected(emu: Emulator, version: int = MQTT_5) -> RawClient:
    client = await raw_client(emu, version)
    await client.send(Connect("dev1", protocol_level=version))
    answer = await client.receive()
    assert isinstance(answer, ConnAck) and answer.code == 0
    return client


async def expect_disconnect(client: RawClient, code: int, fragment: str) -> None:
    if client.version == MQTT_311:
        assert await client.closed()  # 3.1.1 has no DISCONNECT from the server: the connection just ends
    else:
        answer = await client.receive()
        assert isinstance(answer, Disconnect) and answer.code == code, answer
        assert fragment in answer.properties[0x1F]
        assert await client.closed()
    await client.close()


@pytest.mark.parametrize("version", [MQTT_311, MQTT_5], ids=["3.1.1", "5.0"])
@pytest.mark.parametrize("data, code, fragment", [
    (b"\x30\xff\xff\xff\xff\x01", 0x81, "more than four bytes"),
    (b"\x30\x04\x00\x09ab", 0x81, "shorter than"),
    (b"\x30\x04\x00\x02\xc3\x28", 0x81, "UTF-8"),
    (b"\x80\x06\x00\x01\x00\x01a\x00", 0x81, "Reserved flags"),
    (b"\x00\x00", 0x81, "reserved"),
    (b"\x36\x05\x00\x01a\x00\x01", 0x81, "QoS 3"),
    (b"\x82\x02\x00\x01", 0x82, "without any topic filter"),
], ids=["remaining length", "truncated", "invalid UTF-8", "reserved flags", "reserved type", "QoS 3",
        "empty subscribe"])
async def test_malformed_packets_end_the_connection_with_their_reason(emu: Emulator, version: int, data: bytes,
                                                                      code: int, fragment: str) -> None:
    if version == MQTT_5 and data == b"\x82\x02\x00\x01":
        data = b"\x82\x03\x00\x01\x00"  # 5.0 SUBSCRIBE also has a property length
    client = await connected(emu, version)
    await client.send_bytes(data)
    await expect_disconnect(client, code, fragment)


async def test_duplicate_properties_are_a_protocol_error(emu: Emulator) -> None:
    client = await connected(emu)
    body = b"\x00\x01a" + b"\x0a\x03\x00\x03a/b\x03\x00\x01c"
    await client.send_bytes(b"\x30" + encode_varint(len(body)) + body)
    await expect_disconnect(client, 0x82, "more than once")


async def test_an_oversized_packet_is_refused_before_it_arrives(emu: Emulator) -> None:
    client = await connected(emu)
    await client.send_bytes(b"\x30" + encode_varint(2 * 1024 * 1024) + b"\x00\x01a")
    await expect_disconnect(client, 0x95, "larger than the maximum")


async def test_text_frames_are_not_mqtt(emu: Emulator) -> None:
    client = await connected(emu)
    await client.ws.send_str("hello")
    await expect_disconnect(client, 0x82, "binary WebSocket frames")


async def test_a_second_connect_is_a_protocol_error(emu: Emulator) -> None:
    client = await connected(emu)
    await client.send(Connect("dev1"))
    await expect_disconnect(client, 0x82, "CONNECT")


async def test_a_client_must_not_send_subscription_identifiers_in_publish(emu: Emulator) -> None:
    client = await connected(emu)
    await client.send(Publish("room1", b"x", properties={0x0B: [1]}))
    await expect_disconnect(client, 0x82, "Subscription Identifier")


@pytest.mark.parametrize("first", [b"\xc0\x00", b"GET / HTTP/1.1\r\n\r\n", b"\x20\x02\x00\x00"])
async def test_anything_but_connect_first_is_closed_without_connack(emu: Emulator, first: bytes) -> None:
    client = await raw_client(emu)
    await client.send_bytes(first)
    assert await client.closed()
    await client.close()


async def test_a_client_that_never_sends_connect_is_closed(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_mqtt_endpoint, "CONNECT_TIMEOUT_SECONDS", 0.3)
    client = await raw_client(emu)
    await client.send_bytes(b"\x10\x10")  # a CONNECT that is cut off
    assert await client.closed(timeout=3)
    await client.close()


async def test_packets_split_across_frames_and_joined_in_one_frame(emu: Emulator) -> None:
    client = await raw_client(emu)
    data = encode(Connect("dev1"), MQTT_5) + encode(Subscribe(1, [Subscription("room1", 1)]), MQTT_5)
    for index in range(len(data)):
        await client.send_bytes(data[index:index + 1])
    assert isinstance(await client.receive(), ConnAck)
    assert await client.receive() == SubAck(1, [1])
    await client.close()


async def test_a_topic_with_a_wildcard_cannot_be_published_to(emu: Emulator) -> None:
    client = await connected(emu)
    await client.send(Publish("room/+", b"x", qos=1, packet_id=1))
    answer = await client.receive()
    assert isinstance(answer, Ack) and answer.code == 0x90
    await client.close()


async def test_a_qos2_message_sent_twice_is_delivered_once(emu: Emulator) -> None:
    listener = await device(emu, "listener")
    await listener.subscribe("room1", qos=2)
    client = await connected(emu)
    for dup in (False, True):
        await client.send(Publish("room1", b"once", qos=2, packet_id=9, dup=dup))
        assert await client.receive() == Ack(PUBREC, 9)
    await client.send(Ack(PUBREL, 9))
    assert await client.receive() == Ack(PUBCOMP, 9)
    assert (await listener.message()).payload == b"once"
    await listener.no_message()
    await client.send(Ack(PUBREL, 9))  # released already: the identifier is unknown now
    assert await client.receive() == Ack(PUBCOMP, 9, 0x92)
    await client.close()
    await listener.disconnect()


async def test_acks_for_unknown_packet_ids_change_nothing(emu: Emulator) -> None:
    client = await connected(emu)
    await client.send(Ack(PUBREC, 77))
    assert await client.receive() == Ack(PUBREL, 77, 0x92)
    await client.send(Ack(PUBCOMP, 78))
    await client.send(Subscribe(2, [Subscription("room1")]))
    assert await client.receive() == SubAck(2, [0])
    await client.close()


async def test_a_client_that_vanishes_mid_packet_leaves_no_session(emu: Emulator) -> None:
    client = await connected(emu)
    await client.send_bytes(b"\x30\x20\x00\x05ro")  # half a PUBLISH
    await client.close()
    hub = emu.core.hub("chat")
    for _ in range(100):
        if "dev1" not in hub.connections:
            break
        await asyncio.sleep(0.02)
    assert "dev1" not in hub.connections
    assert (await rest(emu, "HEAD", "/api/hubs/chat/connections/dev1")).status == 404
