"""MQTT clients among the others: REST sends and group/close/permission operations act on MQTT sessions,
and messages cross between MQTT, JSON-subprotocol and simple WebSocket clients in the same group."""
from __future__ import annotations

import json
from typing import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from emulator_core_helpers import client_token, connect, rest, wait_until
from mqtt_helpers import V5, V311, VERSION_IDS, VERSIONS, Device, device, properties, raw_client
from paho.mqtt.packettypes import PacketTypes
from protobuf_test_helpers import EXAMPLE_ANY, EXAMPLE_ANY_BYTES, connect_protobuf, protobuf_data, send_to_group, text

from webpubsub_emulator import Emulator
from webpubsub_emulator._mqtt_codec import MQTT_311, Connect

pytestmark = pytest.mark.asyncio
versions = pytest.mark.parametrize("version", VERSIONS, ids=VERSION_IDS)


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


def content_type(message: object) -> "str | None":
    props = getattr(message, "properties", None)
    return getattr(props, "ContentType", None) if props is not None else None


# -- REST -> MQTT ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body, mime", [("hello", "text/plain"), ('{"a":1}', "application/json"),
                                        (b"\x00\x01", "application/octet-stream")])
@versions
async def test_rest_group_sends_arrive_on_the_group_topic(emu: Emulator, version: int, body: "str | bytes",
                                                           mime: str) -> None:
    client = await device(emu, "dev1", version=version)
    await client.subscribe("room1", qos=1)
    await rest(emu, "POST", "/api/hubs/chat/groups/room1/:send", body=body, content_type=mime)
    message = await client.message()
    raw = body.encode() if isinstance(body, str) else body
    assert (message.topic, message.payload, message.qos) == ("room1", raw, 1)
    assert content_type(message) == (mime if version == V5 else None)
    await client.disconnect()


@pytest.mark.parametrize("path", ["/api/hubs/chat/:send", "/api/hubs/chat/users/alice/:send",
                                  "/api/hubs/chat/connections/dev1/:send"])
@versions
async def test_rest_sends_to_all_users_and_connections_arrive_on_the_server_topic(emu: Emulator, version: int,
                                                                                  path: str) -> None:
    client = await device(emu, "dev1", version=version, user="alice", roles=())
    await rest(emu, "POST", path, body='{"cmd":"reboot"}', content_type="application/json")
    message = await client.message()
    assert (message.topic, message.payload, message.qos) == ("$webpubsub/server/messages", b'{"cmd":"reboot"}', 1)
    await client.disconnect()


async def test_message_ttl_becomes_the_message_expiry_interval(emu: Emulator) -> None:
    client = await device(emu, "dev1")
    await rest(emu, "POST", "/api/hubs/chat/connections/dev1/:send", [("messageTtlSeconds", "60")], body="x",
               content_type="text/plain")
    message = await client.message()
    assert 59 <= message.properties.MessageExpiryInterval <= 60
    await client.disconnect()


async def test_rest_excluded_and_filter_use_client_ids(emu: Emulator) -> None:
    one, two = await device(emu, "one", roles=()), await device(emu, "two", roles=())
    await rest(emu, "POST", "/api/hubs/chat/:send", [("excluded", "one")], body="a", content_type="text/plain")
    assert (await two.message()).payload == b"a"
    await rest(emu, "POST", "/api/hubs/chat/:send", [("filter", "connectionId eq 'one'")], body="b",
               content_type="text/plain")
    assert (await one.message()).payload == b"b"
    await two.no_message()
    await one.disconnect()
    await two.disconnect()


@pytest.mark.parametrize("claim", ["group", "webpubsub.group"])
async def test_token_groups_are_subscriptions_under_either_claim_name(emu: Emulator, claim: str) -> None:
    client = await device(emu, "dev1", groups=["room1"], group_claim=claim, roles=())
    await rest(emu, "POST", "/api/hubs/chat/groups/room1/:send", body="hi", content_type="text/plain")
    message = await client.message()
    assert (message.topic, message.qos) == ("room1", 0)  # joined with MQTT's default subscription options
    await client.disconnect()


async def test_rest_group_membership_changes_apply_to_mqtt_sessions(emu: Emulator) -> None:
    client = await device(emu, "dev1", user="alice", roles=())
    assert (await rest(emu, "PUT", "/api/hubs/chat/groups/room1/connections/dev1")).status == 200
    assert (await rest(emu, "PUT", "/api/hubs/chat/users/alice/groups/room2")).status == 200
    for group in ("room1", "room2"):
        await rest(emu, "POST", f"/api/hubs/chat/groups/{group}/:send", body=group, content_type="text/plain")
        assert (await client.message()).topic == group
    await rest(emu, "DELETE", "/api/hubs/chat/connections/dev1/groups")
    await rest(emu, "POST", "/api/hubs/chat/groups/room1/:send", body="x", content_type="text/plain")
    await client.no_message()
    await client.disconnect()


async def test_rest_close_sends_a_5_0_client_administrative_action(emu: Emulator) -> None:
    client = await device(emu, "dev1")
    assert (await rest(emu, "DELETE", "/api/hubs/chat/connections/dev1", [("reason", "maintenance")])).status == 204
    code, props = await client.disconnected()
    assert (code, props.ReasonString) == (0x98, "maintenance")
    assert (await rest(emu, "HEAD", "/api/hubs/chat/connections/dev1")).status == 404
    await client.close()


async def test_rest_close_ends_a_3_1_1_client_and_its_session(emu: Emulator) -> None:
    client = await device(emu, "dev1", version=V311, clean_start=False)
    await rest(emu, "POST", "/api/hubs/chat/:closeConnections")
    code, _ = await client.disconnected()
    assert code.is_failure
    assert (await rest(emu, "HEAD", "/api/hubs/chat/connections/dev1")).status == 404
    await client.close()


async def test_rest_close_ends_an_offline_session(emu: Emulator) -> None:
    client = Device(emu, "dev1", clean_start=False)
    await client.connect(properties(PacketTypes.CONNECT, SessionExpiryInterval=30))
    await client.drop()
    await wait_until(lambda: not emu.core.hub("chat").connections["dev1"].attached)
    assert (await rest(emu, "DELETE", "/api/hubs/chat/connections/dev1")).status == 204
    assert (await rest(emu, "HEAD", "/api/hubs/chat/connections/dev1")).status == 404


# -- MQTT <-> WebSocket clients -------------------------------------------------------------------------------
async def test_mqtt_3_1_1_publishes_reach_json_clients_as_binary(emu: Emulator) -> None:
    listener = await connect(emu, groups=["room1"])
    client = await device(emu, "dev1", version=V311, user="dev-user")
    await client.publish("room1", b"hi", qos=1)
    assert await listener.receive_data() == {"type": "message", "from": "group", "group": "room1",
                                             "fromUserId": "dev-user", "dataType": "binary", "data": "aGk="}
    await client.disconnect()
    await listener.close()


@pytest.mark.parametrize("mime, payload, data_type, data", [
    ("application/json", b'{"a":1}', "json", {"a": 1}),
    ("text/plain; charset=utf-8", "héllo".encode(), "text", "héllo"),
    ("application/octet-stream", b"\x01", "binary", "AQ=="),
    ("image/png", b"\x89PNG", "binary", "iVBORw=="),
])
async def test_mqtt_5_0_content_types_choose_the_data_type(emu: Emulator, mime: str, payload: bytes,
                                                           data_type: str, data: object) -> None:
    listener = await connect(emu, groups=["room1"])
    client = await device(emu, "dev1")
    await client.publish("room1", payload, qos=1, props=properties(PacketTypes.PUBLISH, ContentType=mime))
    message = await listener.receive_data()
    assert (message["dataType"], message["data"]) == (data_type, data)
    await client.disconnect()
    await listener.close()


async def test_invalid_json_under_a_json_content_type_is_refused(emu: Emulator) -> None:
    client = await device(emu, "dev1")
    code = await client.publish("room1", b"{nope", qos=1,
                                props=properties(PacketTypes.PUBLISH, ContentType="application/json"))
    assert code == 0x99
    await client.disconnect()


async def test_mqtt_publishes_reach_simple_clients_as_raw_frames(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{emu.endpoint}/client/hubs/chat?access_token={client_token(emu, groups=['room1'])}"
        async with session.ws_connect(url) as simple:
            client = await device(emu, "dev1")
            await client.publish("room1", b"\x00raw", qos=0)
            await client.publish("room1", b"text", qos=0, props=properties(PacketTypes.PUBLISH,
                                                                            ContentType="text/plain"))
            first, second = await simple.receive(timeout=5), await simple.receive(timeout=5)
            assert (first.type, first.data) == (aiohttp.WSMsgType.BINARY, b"\x00raw")
            assert (second.type, second.data) == (aiohttp.WSMsgType.TEXT, "text")
            await client.disconnect()


async def test_simple_clients_publishing_to_a_group_reach_mqtt_subscribers(emu: Emulator) -> None:
    client = await device(emu, "dev1")
    await client.subscribe("room1", qos=1)
    async with aiohttp.ClientSession() as session:
        token = client_token(emu, roles=["webpubsub.sendToGroup.room1"])
        url = f"{emu.endpoint}/client/hubs/chat?access_token={token}&webpubsub_mode=sendToGroup&group=room1"
        async with session.ws_connect(url) as simple:
            await simple.send_str("text frame")
            await simple.send_bytes(b"\x00binary frame")
            text, binary = await client.message(), await client.message()
    assert (text.payload, text.qos, content_type(text)) == (b"text frame", 1, "text/plain")
    assert (binary.payload, content_type(binary)) == (b"\x00binary frame", "application/octet-stream")
    await client.disconnect()


@versions
async def test_json_client_publishes_reach_mqtt_subscribers(emu: Emulator, version: int) -> None:
    client = await device(emu, "dev1", version=version)
    await client.subscribe("room1", qos=2)
    sender = await connect(emu, roles=["webpubsub.sendToGroup"])
    await sender.send({"type": "sendToGroup", "group": "room1", "dataType": "text", "data": "hi"})
    await sender.send({"type": "sendToGroup", "group": "room1", "dataType": "json", "data": {"t": 21}})
    text, document = await client.message(), await client.message()
    assert (text.payload, text.qos, content_type(text)) == (b"hi", 1, "text/plain" if version == V5 else None)
    assert (json.loads(document.payload), content_type(document)) == (
        {"t": 21}, "application/json" if version == V5 else None)
    await client.disconnect()
    await sender.close()


async def test_mqtt_properties_are_forwarded_between_mqtt_clients_only(emu: Emulator) -> None:
    receiver = await device(emu, "receiver")
    await receiver.subscribe("room1", qos=1)
    listener = await connect(emu, groups=["room1"])
    sender = await device(emu, "sender")
    props = properties(PacketTypes.PUBLISH, ContentType="text/plain", ResponseTopic="replies",
                       CorrelationData=b"c1", UserProperty=[("k", "v")])
    await sender.publish("room1", b"hi", qos=1, props=props)
    got = (await receiver.message()).properties
    assert (got.ResponseTopic, got.CorrelationData, got.UserProperty) == ("replies", b"c1", [("k", "v")])
    assert set(await listener.receive_data()) == {"type", "from", "group", "dataType", "data"}
    await receiver.disconnect()
    await sender.disconnect()
    await listener.close()


async def test_no_local_subscriptions_do_not_echo_the_publisher(emu: Emulator) -> None:
    client = await device(emu, "dev1")
    await client.subscribe("room1", qos=1, noLocal=True)
    other = await device(emu, "other")
    await client.publish("room1", b"mine", qos=1)
    await other.publish("room1", b"theirs", qos=1)
    assert (await client.message()).payload == b"theirs"
    await client.disconnect()
    await other.disconnect()


async def test_subscription_identifiers_come_back_on_messages(emu: Emulator) -> None:
    client = await device(emu, "dev1")
    await client.subscribe("room1", qos=1, props=properties(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=42))
    await rest(emu, "POST", "/api/hubs/chat/groups/room1/:send", body="x", content_type="text/plain")
    assert (await client.message()).properties.SubscriptionIdentifier == [42]
    await client.disconnect()


async def test_an_offline_session_exists_for_rest_and_gets_messages_later(emu: Emulator) -> None:
    raw = await raw_client(emu, MQTT_311)
    await raw.send(Connect("dev1", protocol_level=4, clean_start=False))
    await raw.receive()
    await raw.close()
    await wait_until(lambda: not emu.core.hub("chat").connections["dev1"].attached)
    assert (await rest(emu, "HEAD", "/api/hubs/chat/connections/dev1")).status == 200
    await rest(emu, "POST", "/api/hubs/chat/connections/dev1/:send", body="later", content_type="text/plain")
    client = await device(emu, "dev1", version=V311, clean_start=False)
    assert (await client.message()).payload == b"later"
    await client.disconnect()


# -- MQTT <-> protobuf clients --------------------------------------------------------------------------------
@pytest.mark.parametrize("mime, payload, case", [
    (None, b"\x00\x01", "binary_data"),
    ("text/plain", b"hi", "text_data"),
    ("application/json", b'{"a":1}', "json_data"),
    ("application/x-protobuf", EXAMPLE_ANY_BYTES, "protobuf_data"),
])
async def test_mqtt_publishes_reach_protobuf_clients_in_the_matching_case(emu: Emulator, mime: "str | None",
                                                                          payload: bytes, case: str) -> None:
    listener = await connect_protobuf(emu, groups=["room1"])
    client = await device(emu, "dev1")
    props = properties(PacketTypes.PUBLISH, ContentType=mime) if mime else None
    await client.publish("room1", payload, qos=1, props=props)
    data = await listener.receive_data()
    assert (data.group, data.data.WhichOneof("data")) == ("room1", case)
    expected = {"binary_data": payload, "text_data": "hi", "json_data": '{"a":1}', "protobuf_data": EXAMPLE_ANY}
    assert getattr(data.data, case) == expected[case]
    await client.disconnect()
    await listener.close()


async def test_a_protobuf_payload_that_is_not_an_any_is_refused(emu: Emulator) -> None:
    client = await device(emu, "dev1")
    props = properties(PacketTypes.PUBLISH, ContentType="application/x-protobuf")
    assert await client.publish("room1", b"\xff\xff", qos=1, props=props) == 0x99
    await client.disconnect()


@versions
async def test_protobuf_client_publishes_reach_mqtt_subscribers(emu: Emulator, version: int) -> None:
    client = await device(emu, "dev1", version=version)
    await client.subscribe("room1", qos=1)
    sender = await connect_protobuf(emu, roles=["webpubsub.sendToGroup"])
    await sender.send_message(send_to_group("room1", protobuf_data()))
    await sender.send_message(send_to_group("room1", text("hello")))
    first, second = await client.message(), await client.message()
    assert (first.payload, content_type(first)) == (EXAMPLE_ANY_BYTES,
                                                    "application/x-protobuf" if version == V5 else None)
    assert (second.payload, content_type(second)) == (b"hello", "text/plain" if version == V5 else None)
    await client.disconnect()
    await sender.close()
