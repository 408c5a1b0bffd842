"""The emulator as an MQTT broker, driven by paho-mqtt over WebSocket (3.1.1 and 5.0): connecting, topics as
groups, QoS flows, permissions, unsupported features, sessions, keep-alive and wills."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from emulator_core_helpers import client_token, rest, wait_until
from mqtt_helpers import (V5, V311, VERSION_IDS, VERSIONS, Device, device, mqtt_token, properties, raw_client)
from paho.mqtt.packettypes import PacketTypes

from webpubsub_emulator import Emulator, MqttOptions
from webpubsub_emulator._mqtt_codec import (MQTT_5, MQTT_311, PUBACK, Ack, ConnAck, Connect, Disconnect, PingReq,
                                            PingResp, Publish, SubAck, Subscribe, Subscription, UnsubAck, Unsubscribe,
                                            Will)

pytestmark = pytest.mark.asyncio
versions = pytest.mark.parametrize("version", VERSIONS, ids=VERSION_IDS)


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(mqtt=MqttOptions(session_expiry_max_seconds=5)) as emulator:
        yield emulator


# -- connecting -----------------------------------------------------------------------------------------------
async def test_the_mqtt_subprotocol_is_selected(emu: Emulator) -> None:
    client = await raw_client(emu)
    assert client.ws.protocol == "mqtt"
    await client.send(Connect("dev1"))
    assert await client.receive() == ConnAck(0, properties={0x25: 0, 0x28: 0, 0x2A: 0, 0x27: 1024 * 1024})
    await client.close()


async def test_a_client_offering_no_subprotocol_is_still_served_mqtt(emu: Emulator) -> None:
    client = await raw_client(emu, MQTT_311, protocols=())
    await client.send(Connect("dev1", protocol_level=4))
    assert await client.receive() == ConnAck(0)
    await client.close()


@versions
async def test_token_in_the_query_string(emu: Emulator, version: int) -> None:
    code, flags, _ = await (client := Device(emu, "dev1", version=version)).connect()
    assert (code, flags.session_present) == (0, False)
    await client.disconnect()


async def test_token_in_the_authorization_header(emu: Emulator) -> None:
    client = Device(emu, "dev1", token=None, headers={"Authorization": f"Bearer {mqtt_token(emu)}"})
    assert (await client.connect())[0] == 0
    await client.disconnect()


@pytest.mark.parametrize("token", ["", "not-a-jwt", "wrong-audience", "wrong-key"])
async def test_a_missing_or_bad_token_is_refused_with_401_before_any_mqtt(emu: Emulator, token: str) -> None:
    if token == "wrong-audience":
        token = mqtt_token(emu, aud=f"{emu.endpoint}/client/hubs/chat")
    elif token == "wrong-key":
        token = mqtt_token(emu).rsplit(".", 1)[0] + ".AAAA"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{emu.endpoint}/clients/mqtt/hubs/chat?access_token={token}",
                                     protocols=["mqtt"])
    assert refused.value.status == 401


async def test_anonymous_clients_connect_when_the_hub_allows_it() -> None:
    async with Emulator(anonymous_connect=True) as emu:
        client = Device(emu, "dev1", token=None)
        assert (await client.connect())[0] == 0
        await client.disconnect()


@pytest.mark.parametrize("path, status", [("/clients/mqtt/hubs/1bad", 400), ("/clients/mqtt/hubs/a/b", 404)])
async def test_hub_path_is_checked(emu: Emulator, path: str, status: int) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{emu.endpoint}{path}", protocols=["mqtt"])
    assert refused.value.status == status


CONNECT_RULES = [
    # (name, CONNECT, 3.1.1 CONNACK code or None = closed without CONNACK, 5.0 reason code)
    ("client id with underscore", Connect("dev_1"), 0x02, 0x85),
    ("client id of 129 characters", Connect("a" * 129), 0x02, 0x85),
    ("client id with a dash", Connect("dev-1"), 0x02, 0x85),
    ("keep-alive 181 seconds", Connect("dev1", keep_alive=181), None, 0),
    ("keep-alive 0", Connect("dev1", keep_alive=0), None, 0),
    ("blank will topic", Connect("dev1", will=Will("  ", b"x")), None, 0x90),
    ("will topic of 1025 characters", Connect("dev1", will=Will("t" * 1025, b"x")), None, 0x90),
    ("will topic with a wildcard", Connect("dev1", will=Will("a/+", b"x")), None, 0x90),
    ("will message of 2001 bytes", Connect("dev1", will=Will("t", b"x" * 2001)), None, 0x97),
]


@pytest.mark.parametrize("connect, v311_code, v5_code", [c[1:] for c in CONNECT_RULES],
                         ids=[c[0] for c in CONNECT_RULES])
@versions
async def test_connect_parameters_are_checked(emu: Emulator, version: int, connect: Connect,
                                              v311_code: "int | None", v5_code: int) -> None:
    level = MQTT_5 if version == V5 else MQTT_311
    connect.protocol_level = level
    client = await raw_client(emu, level)
    await client.send(connect)
    answer = await client.receive()
    if level == MQTT_311:
        assert answer == (None if v311_code is None else ConnAck(v311_code))
    else:
        assert isinstance(answer, ConnAck) and answer.code == v5_code
        if v5_code:
            assert await client.closed()
    await client.close()


async def test_keep_alive_out_of_range_in_5_0_is_replaced_by_server_keep_alive(emu: Emulator) -> None:
    client = await raw_client(emu)
    await client.send(Connect("dev1", keep_alive=0))
    answer = await client.receive()
    assert isinstance(answer, ConnAck) and answer.properties[0x13] == 180
    await client.close()


async def test_5_0_refusals_of_retained_wills_and_enhanced_auth(emu: Emulator) -> None:
    for connect, code in [(Connect("dev1", will=Will("t", b"x", retain=True)), 0x9A),
                          (Connect("dev1", properties={0x15: "SCRAM-SHA-1"}), 0x8C)]:
        client = await raw_client(emu)
        await client.send(connect)
        answer = await client.receive()
        assert isinstance(answer, ConnAck) and answer.code == code and 0x1F in answer.properties
        await client.close()


async def test_an_empty_client_id_gets_one_assigned_in_5_0_and_is_refused_in_3_1_1(emu: Emulator) -> None:
    client = await raw_client(emu)
    await client.send(Connect(""))
    answer = await client.receive()
    assert isinstance(answer, ConnAck) and answer.code == 0
    assigned = answer.properties[0x12]
    assert (await rest(emu, "HEAD", f"/api/hubs/chat/connections/{assigned}")).status == 200
    await client.close()
    old = await raw_client(emu, MQTT_311)
    await old.send(Connect("", protocol_level=4))
    assert await old.receive() == ConnAck(0x02)
    await old.close()


@pytest.mark.parametrize("level, expected", [(3, ConnAck(0x01)), (6, ConnAck(0x84))])
async def test_unsupported_protocol_versions_are_refused(emu: Emulator, level: int, expected: ConnAck) -> None:
    client = await raw_client(emu, MQTT_311 if level < 5 else MQTT_5)
    await client.send_bytes(b"\x10\x0e\x00\x06MQIsdp" + bytes((level,)) + b"\x02\x00\x3c\x00\x02ab")
    assert await client.receive() == expected
    await client.close()


async def test_the_underscore_option_admits_tool_generated_client_ids() -> None:
    async with Emulator(mqtt=MqttOptions(allow_underscore_in_client_id=True)) as emu:
        client = await device(emu, "mqttx_0a1b2c")
        await client.disconnect()


# -- topics are groups ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("qos", [0, 1, 2])
@versions
async def test_publish_reaches_subscribers_of_the_topic(emu: Emulator, version: int, qos: int) -> None:
    receiver = await device(emu, "receiver", version=version)
    sender = await device(emu, "sender", version=version)
    granted = await receiver.subscribe("room1", qos=qos)
    assert [int(code.value) if hasattr(code, "value") else code for code in granted] == [qos]
    assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/room1")).status == 200
    acked = await sender.publish("room1", b"reading=21", qos=qos)
    assert acked is None or acked == 0
    message = await receiver.message()
    assert (message.topic, message.payload, message.qos) == ("room1", b"reading=21", qos)
    await receiver.disconnect()
    await sender.disconnect()


async def test_the_receiver_gets_the_lower_of_publish_and_subscription_qos(emu: Emulator) -> None:
    client = await device(emu, "dev1")
    await client.subscribe("room1", qos=0)
    await client.publish("room1", b"x", qos=2)
    assert (await client.message()).qos == 0
    await client.disconnect()


@versions
async def test_unsubscribe_leaves_the_group(emu: Emulator, version: int) -> None:
    client = await device(emu, "dev1", version=version)
    await client.subscribe("room1", qos=1)
    await client.unsubscribe("room1")
    assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/room1")).status == 404
    await client.publish("room1", b"x", qos=1)
    await client.no_message()
    await client.disconnect()


async def test_unsuback_reason_codes_in_5_0(emu: Emulator) -> None:
    client = await raw_client(emu)
    await client.send(Connect("dev1"))
    await client.receive()
    await client.send(Subscribe(1, [Subscription("a")]))
    await client.receive()
    await client.send(Unsubscribe(2, ["a", "b", "c/#"]))
    answer = await client.receive()
    assert isinstance(answer, UnsubAck) and answer.codes == [0x00, 0x11, 0x8F]
    await client.close()


# -- permissions ----------------------------------------------------------------------------------------------
@versions
async def test_without_roles_nothing_may_be_subscribed(emu: Emulator, version: int) -> None:
    client = await device(emu, "dev1", version=version, roles=())
    codes = await client.subscribe("room1", qos=1)
    assert [int(getattr(code, "value", code)) for code in codes] == [0x87 if version == V5 else 0x80]
    await client.disconnect()


async def test_a_refused_qos1_publish_is_answered_with_not_authorized(emu: Emulator) -> None:
    listener = await device(emu, "listener")
    await listener.subscribe("room1")
    client = await device(emu, "dev1", roles=())
    assert await client.publish("room1", b"x", qos=1) == 0x87
    await listener.no_message()
    await client.disconnect()
    await listener.disconnect()


@versions
async def test_a_refused_qos0_publish_ends_the_connection(emu: Emulator, version: int) -> None:
    client = await device(emu, "dev1", version=version, roles=())
    await client.publish("room1", b"x", qos=0)
    code, _ = await client.disconnected()
    assert code == 0x87 if version == V5 else code.is_failure  # 3.1.1 has no DISCONNECT: the socket closes
    await client.close()


async def test_per_group_and_wildcard_roles(emu: Emulator) -> None:
    client = await device(emu, "dev1", roles=("webpubsub.joinLeaveGroup.room1", "webpubsub.sendToGroups.sensors.*"))
    assert [int(c.value) for c in await client.subscribe("room1")] == [0]
    assert [int(c.value) for c in await client.subscribe("room2")] == [0x87]
    assert await client.publish("sensors.kitchen", b"1", qos=1) == 0
    assert await client.publish("sensors.kitchen.fridge", b"1", qos=1) == 0x87
    await client.disconnect()


async def test_rest_grants_and_revokes_apply_to_mqtt_sessions(emu: Emulator) -> None:
    client = await device(emu, "dev1", roles=())
    path = "/api/hubs/chat/permissions/joinLeaveGroup/connections/dev1"
    assert (await rest(emu, "PUT", path, [("targetName", "room1")])).status == 200
    assert (await rest(emu, "HEAD", path, [("targetName", "room1")])).status == 200
    assert [int(c.value) for c in await client.subscribe("room1")] == [0]
    assert (await rest(emu, "DELETE", path, [("targetName", "room1")])).status == 204
    assert [int(c.value) for c in await client.unsubscribe("room1")] == [0x87]
    await client.disconnect()


# -- unsupported features -------------------------------------------------------------------------------------
@pytest.mark.parametrize("topic, v5_code", [("a/+", 0xA2), ("#", 0xA2), ("$share/g/a", 0x9E),
                                            ("$webpubsub/anything", 0x8F)])
@versions
async def test_unsupported_subscriptions_are_refused(emu: Emulator, version: int, topic: str, v5_code: int) -> None:
    client = await device(emu, "dev1", version=version)
    codes = await client.subscribe(topic)
    assert [int(getattr(code, "value", code)) for code in codes] == [v5_code if version == V5 else 0x80]
    await client.disconnect()


async def test_server_topics_may_be_subscribed_although_they_need_no_subscription(emu: Emulator) -> None:
    client = await device(emu, "dev1", roles=())
    for topic in ("$webpubsub/server/messages", "$webpubsub/server/events/chat/succeeded"):
        assert [int(c.value) for c in await client.subscribe(topic, qos=1)] == [1]
    await client.disconnect()


async def test_retained_publish_ends_a_5_0_connection(emu: Emulator) -> None:
    client = await device(emu, "dev1")
    client.client.publish("room1", b"x", qos=1, retain=True)
    code, props = await client.disconnected()
    assert code == 0x9A and "Retained" in props.ReasonString
    await client.close()


async def test_retained_publish_from_3_1_1_is_delivered_without_the_flag(emu: Emulator) -> None:
    client = await device(emu, "dev1", version=V311)
    await client.subscribe("room1")
    client.client.publish("room1", b"x", qos=0, retain=True)
    message = await client.message()
    assert (message.payload, message.retain) == (b"x", False)
    await client.disconnect()


async def test_topic_alias_ends_the_connection(emu: Emulator) -> None:
    client = await raw_client(emu)
    await client.send(Connect("dev1"))
    await client.receive()
    await client.send(Publish("room1", b"x", properties={0x23: 1}))
    answer = await client.receive()
    assert isinstance(answer, Disconnect) and answer.code == 0x94
    assert await client.closed()
    await client.close()


# -- sessions -------------------------------------------------------------------------------------------------
def resuming(version: int) -> dict:
    if version == V5:
        return {"props": properties(PacketTypes.CONNECT, SessionExpiryInterval=5)}
    return {}


@versions
async def test_a_session_resumes_with_its_subscriptions_and_queued_messages(emu: Emulator, version: int) -> None:
    client = Device(emu, "dev1", version=version, clean_start=False)
    await client.connect(**resuming(version))
    await client.subscribe("room1", qos=1)
    await client.drop()
    assert (await rest(emu, "HEAD", "/api/hubs/chat/connections/dev1")).status == 200  # the session exists
    sender = await device(emu, "sender")
    assert await sender.publish("room1", b"while you were away", qos=1) == 0
    again = Device(emu, "dev1", version=version, clean_start=False)
    code, flags, _ = await again.connect(**resuming(version))
    assert (code, flags.session_present) == (0, True)
    message = await again.message()
    assert (message.topic, message.payload, message.qos) == ("room1", b"while you were away", 1)
    await sender.publish("room1", b"live", qos=1)
    assert (await again.message()).payload == b"live"
    await again.disconnect()
    await sender.disconnect()


async def test_unacknowledged_messages_are_sent_again_with_dup_on_resume(emu: Emulator) -> None:
    client = await raw_client(emu)
    await client.send(Connect("dev1", clean_start=False, properties={0x11: 5}))
    await client.receive()
    await client.send(Subscribe(1, [Subscription("room1", 1)]))
    await client.receive()
    assert (await rest(emu, "POST", "/api/hubs/chat/groups/room1/:send", body="hi", content_type="text/plain")).status == 202
    first = await client.receive()
    assert isinstance(first, Publish) and first.qos == 1 and not first.dup
    await client.close()  # no PUBACK
    await wait_until(lambda: not emu.core.hub("chat").connections["dev1"].attached)
    again = await raw_client(emu)
    await again.send(Connect("dev1", clean_start=False, properties={0x11: 5}))
    connack = await again.receive()
    assert isinstance(connack, ConnAck) and connack.session_present
    resent = await again.receive()
    assert isinstance(resent, Publish) and resent.dup and resent.packet_id == first.packet_id
    assert resent.payload == b"hi"
    await again.send(Ack(PUBACK, resent.packet_id or 0))
    await again.send(Disconnect())
    assert await again.closed()
    await again.close()


@versions
async def test_clean_start_discards_the_old_session(emu: Emulator, version: int) -> None:
    client = Device(emu, "dev1", version=version, clean_start=False)
    await client.connect(**resuming(version))
    await client.subscribe("room1")
    await client.drop()
    fresh = Device(emu, "dev1", version=version, clean_start=True)
    code, flags, _ = await fresh.connect()
    assert (code, flags.session_present) == (0, False)
    assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/room1")).status == 404
    await fresh.disconnect()


async def test_a_session_expires_after_its_interval(emu: Emulator) -> None:
    client = Device(emu, "dev1", clean_start=False)
    await client.connect(properties(PacketTypes.CONNECT, SessionExpiryInterval=1))
    await client.drop()
    assert (await rest(emu, "HEAD", "/api/hubs/chat/connections/dev1")).status == 200
    await wait_until(lambda: "dev1" not in emu.core.hub("chat").connections, timeout=5)


async def test_a_session_expiry_above_the_maximum_is_lowered_and_told(emu: Emulator) -> None:
    client = Device(emu, "dev1")
    _, _, props = await client.connect(properties(PacketTypes.CONNECT, SessionExpiryInterval=3600))
    assert props.SessionExpiryInterval == 5  # this test emulator's maximum; the service keeps sessions 30 s
    await client.disconnect()


async def test_a_second_connection_with_the_same_client_id_takes_the_session_over(emu: Emulator) -> None:
    first = await device(emu, "dev1")
    second = await device(emu, "dev1")
    code, _ = await first.disconnected()
    assert code == 0x8E
    await first.close()
    await second.subscribe("room1")
    await second.disconnect()


async def test_an_mqtt_client_cannot_take_another_connections_id(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{emu.endpoint}/client/hubs/chat?access_token={client_token(emu)}",
                                      protocols=["json.webpubsub.azure.v1"])
        connection_id = (await ws.receive_json())["connectionId"]
        client = Device(emu, connection_id)
        code, _, _ = await client.connect()
        assert code == 0x85
        await client.close()
        await ws.close()


async def test_keep_alive_expiry_disconnects_with_the_services_reason(emu: Emulator) -> None:
    client = await raw_client(emu)
    await client.send(Connect("dev1", keep_alive=1))
    await client.receive()
    answer = await client.receive(timeout=5)
    assert isinstance(answer, Disconnect) and answer.code == 0x8D
    assert answer.properties[0x1F] == ("An mqtt session is ended.  Reason: No packet has been received for 1.5 "
                                       "times the Keepalive time.")
    assert await client.closed()
    await client.close()


async def test_pings_keep_the_connection_alive(emu: Emulator) -> None:
    client = await raw_client(emu)
    await client.send(Connect("dev1", keep_alive=1))
    await client.receive()
    for _ in range(5):  # 2.5 s in all, well past the 1.5 s the connection would last without them
        await asyncio.sleep(0.5)
        await client.send(PingReq())
        assert await client.receive() == PingResp()
    await client.close()


# -- wills ----------------------------------------------------------------------------------------------------
@versions
async def test_the_will_is_published_when_the_connection_is_lost(emu: Emulator, version: int) -> None:
    listener = await device(emu, "listener")
    await listener.subscribe("status", qos=1)
    client = Device(emu, "dev1", version=version)
    client.will_set("status", b"dev1 offline", qos=1)
    await client.connect()
    await client.drop()
    message = await listener.message()
    assert (message.topic, message.payload) == ("status", b"dev1 offline")
    await listener.disconnect()


async def test_a_normal_disconnect_discards_the_will_and_reason_4_sends_it(emu: Emulator) -> None:
    listener = await device(emu, "listener")
    await listener.subscribe("status")
    for code, expected in [(0, False), (4, True)]:
        client = Device(emu, f"dev{code}")
        client.will_set("status", b"gone")
        await client.connect()
        await client.disconnect(code)
        if expected:
            assert (await listener.message()).payload == b"gone"
        else:
            await listener.no_message()
    await listener.disconnect()


async def test_a_delayed_will_is_not_sent_when_the_session_resumes_in_time(emu: Emulator) -> None:
    listener = await device(emu, "listener")
    await listener.subscribe("status")
    client = Device(emu, "dev1", clean_start=False)
    client.will_set("status", b"gone", props=properties(PacketTypes.WILLMESSAGE, WillDelayInterval=2))
    await client.connect(properties(PacketTypes.CONNECT, SessionExpiryInterval=5))
    await client.drop()
    again = Device(emu, "dev1", clean_start=False)
    await again.connect(properties(PacketTypes.CONNECT, SessionExpiryInterval=5))
    await listener.no_message(2.5)
    await again.disconnect()
    await listener.disconnect()


# -- flow control ---------------------------------------------------------------------------------------------
async def test_receive_maximum_limits_messages_in_flight(emu: Emulator) -> None:
    client = await raw_client(emu)
    await client.send(Connect("dev1", properties={0x21: 1}))
    await client.receive()
    await client.send(Subscribe(1, [Subscription("room1", 1)]))
    assert isinstance(await client.receive(), SubAck)
    for text in ("one", "two"):
        await rest(emu, "POST", "/api/hubs/chat/groups/room1/:send", body=text, content_type="text/plain")
    first = await client.receive()
    assert isinstance(first, Publish) and first.payload == b"one"
    with pytest.raises(asyncio.TimeoutError):
        await client.receive(timeout=0.3)
    await client.send(Ack(PUBACK, first.packet_id or 0))
    second = await client.receive()
    assert isinstance(second, Publish) and second.payload == b"two"
    await client.close()


async def test_mqtt_sessions_count_toward_the_connection_limit() -> None:
    async with Emulator(max_connections=1) as emu:
        client = await device(emu, "dev1")
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{emu.endpoint}/clients/mqtt/hubs/chat?access_token={mqtt_token(emu)}",
                                         protocols=["mqtt"])
        assert refused.value.status == 429
        await client.disconnect()
