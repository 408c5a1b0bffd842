"""Delivery across protocol families (protobuf, JSON, simple clients, REST, the event handler) and the
choice of subprotocol at the handshake, over real sockets."""
from __future__ import annotations

import base64
import json
from typing import Any, Dict, Tuple, Union

import aiohttp
import pytest
from aiohttp import web
from emulator_core_helpers import JSON_PROTOCOL, connect, open_socket, rest
from protobuf_test_helpers import (EXAMPLE_ANY_BYTES, PROTOBUF_PROTOCOL, RELIABLE_PROTOBUF_PROTOCOL, ack,
                                   binary, connect_protobuf, event, gather_close, json_data, protobuf_data,
                                   send_to_group, text)
from test_emulator_events import FakeApp, app, emu, json_reply  # noqa: F401 (the fixtures)

from webpubsub_emulator import Emulator

pytestmark = pytest.mark.asyncio

SEND = "webpubsub.sendToGroup"
ANY_BASE64 = base64.b64encode(EXAMPLE_ANY_BYTES).decode()


# -- a protobuf client publishes ------------------------------------------------------------------------------
PROTOBUF_PUBLISHES = [
    # MessageData, what JSON members get as (dataType, data), what simple members get
    (text("text data"), ("text", "text data"), "text data"),
    (binary(b"\x01\x02\x03"), ("binary", "AQID"), b"\x01\x02\x03"),
    (protobuf_data(), ("protobuf", ANY_BASE64), EXAMPLE_ANY_BYTES),
    (json_data('{"a":1}'), ("json", {"a": 1}), '{"a":1}'),
]


@pytest.mark.parametrize("data, json_view, simple_frame", PROTOBUF_PUBLISHES,
                         ids=["text", "binary", "protobuf", "json"])
async def test_protobuf_publish_reaches_json_simple_and_protobuf_members(
        emu: Emulator, data: Any, json_view: Tuple[str, Any], simple_frame: Union[str, bytes]) -> None:
    publisher = await connect_protobuf(emu, user="alice", roles=[SEND])
    json_member = await connect(emu, groups=["G"])
    simple_member = await connect(emu, protocol=None, groups=["G"])
    protobuf_member = await connect_protobuf(emu, groups=["G"])
    assert await publisher.request_ack(send_to_group("G", data, 1)) == ack(1)
    assert await json_member.receive_data() == {"type": "message", "from": "group", "group": "G",
                                                "fromUserId": "alice", "dataType": json_view[0],
                                                "data": json_view[1]}
    assert (await simple_member.receive()).data == simple_frame
    received = await protobuf_member.receive_data()
    assert (getattr(received, "from"), received.group, received.data) == ("group", "G", data)
    await gather_close(publisher, json_member, simple_member, protobuf_member)


# -- others publish, a protobuf client receives ---------------------------------------------------------------
JSON_PUBLISHES = [
    # the JSON request's dataType and data, the MessageData a protobuf member gets, what simple members get
    ("text", "hi", text("hi"), "hi"),
    ("json", {"hello": "world"}, json_data('{"hello":"world"}'), '{"hello":"world"}'),
    ("binary", "AQID", binary(b"\x01\x02\x03"), b"\x01\x02\x03"),
    ("protobuf", ANY_BASE64, protobuf_data(), EXAMPLE_ANY_BYTES),
]


@pytest.mark.parametrize("data_type, data, protobuf_view, simple_frame", JSON_PUBLISHES,
                         ids=["text", "json", "binary", "protobuf"])
async def test_json_publish_reaches_protobuf_and_simple_members(emu: Emulator, data_type: str, data: Any,
                                                                protobuf_view: Any,
                                                                simple_frame: Union[str, bytes]) -> None:
    publisher = await connect(emu, user="bob", roles=[SEND])
    protobuf_member = await connect_protobuf(emu, groups=["G"])
    simple_member = await connect(emu, protocol=None, groups=["G"])
    json_member = await connect(emu, groups=["G"])
    answer = await publisher.request({"type": "sendToGroup", "group": "G", "dataType": data_type, "data": data,
                                      "ackId": 1})
    assert answer["success"], answer
    received = await protobuf_member.receive_data()
    assert (received.group, received.data) == ("G", protobuf_view)
    assert (await simple_member.receive()).data == simple_frame
    echoed = await json_member.receive_data()
    assert (echoed["dataType"], echoed["data"]) == (data_type, data)
    await gather_close(publisher, protobuf_member, simple_member, json_member)


@pytest.mark.parametrize("data", ["***", base64.b64encode(b"\xff\xff").decode()], ids=["not base64", "not an Any"])
async def test_json_protobuf_data_that_is_not_a_base64_any_closes_with_1007(emu: Emulator, data: str) -> None:
    client = await connect(emu, roles=[SEND])
    await client.send({"type": "sendToGroup", "group": "G", "dataType": "protobuf", "data": data})
    assert (await client.receive_json())["event"] == "disconnected"
    assert (await client.receive()).data == 1007
    await client.close()


async def test_simple_publisher_frames_reach_protobuf_members_as_text_and_binary(emu: Emulator) -> None:
    member = await connect_protobuf(emu, groups=["G"])
    publisher = await connect(emu, protocol=None, roles=[SEND], query="webpubsub_mode=sendToGroup&group=G")
    await publisher.ws.send_str("hello")
    await publisher.ws.send_bytes(b"\x09")
    assert (await member.receive_data()).data == text("hello")
    assert (await member.receive_data()).data == binary(b"\x09")
    await gather_close(member, publisher)


@pytest.mark.parametrize("content_type, body, protobuf_view", [
    ("text/plain", "Hello World", text("Hello World")),
    ("application/json", '{"Hello":"World"}', json_data('{"Hello":"World"}')),
    ("application/json", '"Hello World"', json_data('"Hello World"')),
    ("application/octet-stream", b"\x00\x01", binary(b"\x00\x01")),
], ids=["text", "json object", "json string", "binary"])
async def test_rest_sends_reach_protobuf_clients_from_the_server(emu: Emulator, content_type: str,
                                                                 body: Union[str, bytes], protobuf_view: Any) -> None:
    client = await connect_protobuf(emu, protocol=RELIABLE_PROTOBUF_PROTOCOL)
    assert (await rest(emu, "POST", "/api/hubs/chat/:send", body=body, content_type=content_type)).status == 202
    received = await client.receive_data()
    assert (getattr(received, "from"), received.HasField("group"), received.data) == ("server", False, protobuf_view)
    assert received.sequence_id == 1
    await client.close()


# -- the event handler ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("data, content_type, body", [
    (text("hi"), "text/plain", b"hi"),
    (binary(b"\x01\x02"), "application/octet-stream", b"\x01\x02"),
    (protobuf_data(), "application/x-protobuf", EXAMPLE_ANY_BYTES),
    (json_data('{"a":1}'), "application/json", b'{"a":1}'),
], ids=["text", "binary", "protobuf", "json"])
async def test_protobuf_client_events_reach_the_handler_with_the_kinds_content_type(
        app: FakeApp, emu: Emulator, data: Any, content_type: str, body: bytes) -> None:
    client = await connect_protobuf(emu, user="alice")
    assert await client.request_ack(event("chat", data, 1)) == ack(1)
    _, headers, received_body = app.named("chat")[0]
    assert (headers["Content-Type"].split(";")[0], received_body) == (content_type, body)
    assert (headers["ce-subprotocol"], headers["ce-eventName"], headers["ce-userId"]) == (
        PROTOBUF_PROTOCOL, "chat", "alice")
    await client.close()


@pytest.mark.parametrize("content_type, body, protobuf_view", [
    ("text/plain", b"echo", text("echo")),
    ("application/json", b'{"ok":true}', json_data('{"ok":true}')),
    ("application/octet-stream", b"\x07", binary(b"\x07")),
    ("application/x-protobuf", EXAMPLE_ANY_BYTES, protobuf_data()),
], ids=["text", "json", "binary", "protobuf"])
async def test_event_replies_come_back_to_the_protobuf_client_before_the_ack(
        app: FakeApp, emu: Emulator, content_type: str, body: bytes, protobuf_view: Any) -> None:
    app.replies["chat"] = lambda request, _: web.Response(body=body, headers={"Content-Type": content_type})
    client = await connect_protobuf(emu)
    await client.send_message(event("chat", text("hi"), 2))
    reply = await client.receive_data()
    assert (getattr(reply, "from"), reply.data) == ("server", protobuf_view)
    assert (await client.receive_case("ack_message")) == ack(2)
    await client.close()


async def test_protobuf_reply_to_a_json_client_has_data_type_protobuf(app: FakeApp, emu: Emulator) -> None:
    app.replies["chat"] = lambda request, _: web.Response(body=EXAMPLE_ANY_BYTES,
                                                          headers={"Content-Type": "application/x-protobuf"})
    client = await connect(emu)
    await client.send({"type": "event", "event": "chat", "dataType": "text", "data": "hi"})
    assert await client.receive_data() == {"type": "message", "from": "server", "dataType": "protobuf",
                                           "data": ANY_BASE64}
    await client.close()


async def test_a_protobuf_reply_that_is_not_an_any_fails_the_event(app: FakeApp, emu: Emulator) -> None:
    app.replies["chat"] = lambda request, _: web.Response(body=b"\xff\xff",
                                                          headers={"Content-Type": "application/x-protobuf"})
    client = await connect_protobuf(emu)
    assert await client.request_ack(event("chat", text("hi"), 3)) == ack(3, "InternalServerError")
    await client.close()


async def test_json_client_protobuf_event_goes_upstream_as_x_protobuf(app: FakeApp, emu: Emulator) -> None:
    client = await connect(emu)
    answer = await client.request({"type": "event", "event": "chat", "dataType": "protobuf", "data": ANY_BASE64,
                                   "ackId": 1})
    assert answer["success"], answer
    _, headers, body = app.named("chat")[0]
    assert (headers["Content-Type"].split(";")[0], body) == ("application/x-protobuf", EXAMPLE_ANY_BYTES)
    await client.close()


# -- choosing the subprotocol ---------------------------------------------------------------------------------
async def test_only_unknown_subprotocols_give_a_simple_client_without_a_subprotocol(app: FakeApp,
                                                                                 emu: Emulator) -> None:
    session, ws = await open_socket(emu, protocols=["chat.v2", "mqtt"])
    try:
        assert ws.protocol is None
        connect_body: Dict[str, Any] = json.loads(app.named("connect")[0][2])
        assert connect_body["subprotocols"] == ["chat.v2", "mqtt"]
        assert (await rest(emu, "POST", "/api/hubs/chat/:send", body="raw", content_type="text/plain")).status == 202
        assert (await ws.receive()).data == "raw"  # a bare frame: a simple client
    finally:
        await ws.close()
        await session.close()


async def test_a_connect_handler_may_pick_an_unknown_subprotocol_for_a_simple_client(app: FakeApp,
                                                                                    emu: Emulator) -> None:
    app.replies["connect"] = json_reply({"subprotocol": "chat.v2"})
    session, ws = await open_socket(emu, protocols=["chat.v2"])
    try:
        assert ws.protocol == "chat.v2"
        await rest(emu, "POST", "/api/hubs/chat/:send", body="raw", content_type="text/plain")
        assert (await ws.receive()).data == "raw"
    finally:
        await ws.close()
        await session.close()


@pytest.mark.parametrize("offered, chosen", [
    ([PROTOBUF_PROTOCOL], PROTOBUF_PROTOCOL),
    (["chat.v2", RELIABLE_PROTOBUF_PROTOCOL, JSON_PROTOCOL], RELIABLE_PROTOBUF_PROTOCOL),
    ([JSON_PROTOCOL, PROTOBUF_PROTOCOL], JSON_PROTOCOL),
], ids=["protobuf only", "first predefined", "json first"])
async def test_the_first_predefined_subprotocol_offered_is_chosen(emu: Emulator, offered: Any, chosen: str) -> None:
    session, ws = await open_socket(emu, protocols=offered)
    try:
        assert ws.protocol == chosen
        first = await ws.receive()
        assert first.type == (aiohttp.WSMsgType.BINARY if chosen.startswith("protobuf") else aiohttp.WSMsgType.TEXT)
    finally:
        await ws.close()
        await session.close()


async def test_connect_handler_may_pick_protobuf_over_json(app: FakeApp, emu: Emulator) -> None:
    app.replies["connect"] = json_reply({"subprotocol": PROTOBUF_PROTOCOL})
    session, ws = await open_socket(emu, protocols=[JSON_PROTOCOL, PROTOBUF_PROTOCOL])
    try:
        assert ws.protocol == PROTOBUF_PROTOCOL
        assert (await ws.receive()).type == aiohttp.WSMsgType.BINARY
    finally:
        await ws.close()
        await session.close()


# -- the strict switch: dataType protobuf from JSON clients as Microsoft's emulator treats it -------------------
async def test_strict_json_data_types_close_a_json_client_that_sends_protobuf_data() -> None:
    async with Emulator(strict_json_data_types=True) as emulator:
        client = await connect(emulator, roles=[SEND])
        await client.send({"type": "sendToGroup", "group": "G", "dataType": "protobuf", "data": ANY_BASE64})
        disconnected = await client.receive_json()
        assert (disconnected["event"], disconnected["message"]) == ("disconnected", 'Unsupported dataType "protobuf".')
        assert (await client.receive()).data == 1007
        protobuf_client = await connect_protobuf(emulator, roles=[SEND])  # protobuf clients are not affected
        assert await protobuf_client.request_ack(send_to_group("G", protobuf_data(), 1)) == ack(1)
        await gather_close(client, protobuf_client)


async def test_strict_json_data_types_is_a_command_line_flag() -> None:
    from webpubsub_emulator._cli import _parser

    assert _parser().parse_args(["--strict-json-data-types"]).strict_json_data_types
    assert not _parser().parse_args([]).strict_json_data_types
