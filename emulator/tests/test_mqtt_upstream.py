"""The MQTT flavour of the upstream: connect, connected and disconnected events with their MQTT headers and
bodies, connect answers that shape the session or refuse it with an MQTT code, and user events over topics."""
from __future__ import annotations

import json
from typing import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from emulator_core_helpers import rest, wait_until
from mqtt_helpers import V5, V311, VERSION_IDS, VERSIONS, Device, device, properties, raw_client
from paho.mqtt.packettypes import PacketTypes
from test_emulator_events import FakeApp, app, json_reply  # noqa: F401 - app is the shared fixture

from webpubsub_emulator import Emulator
from webpubsub_emulator._mqtt_codec import ConnAck, Connect

pytestmark = pytest.mark.asyncio
versions = pytest.mark.parametrize("version", VERSIONS, ids=VERSION_IDS)


@pytest_asyncio.fixture
async def emu(app: FakeApp) -> AsyncIterator[Emulator]:
    async with Emulator(event_handlers={"chat": app.url}) as emulator:
        emulator.core.upstream._retry_delays = ()  # a 5xx answer is final here, not retried for 9 s
        yield emulator


def refuse(status: int, document: object = None) -> object:
    if document is None:
        return lambda request, body: web.Response(status=status, text="no")
    return lambda request, body: web.json_response(document, status=status)


# -- connect --------------------------------------------------------------------------------------------------
async def test_connect_event_carries_the_mqtt_fields(app: FakeApp, emu: Emulator) -> None:
    client = Device(emu, "dev1", user="alice")
    client.client.username_pw_set("dev-user", b"\x00secret")
    await client.connect(properties(PacketTypes.CONNECT, UserProperty=[("model", "x1")]))
    _, headers, body = app.named("connect")[0]
    document = json.loads(body)
    assert document["mqtt"] == {"protocolVersion": 5, "cleanStart": True, "username": "dev-user",
                                "password": "AHNlY3JldA==", "userProperties": [{"name": "model", "value": "x1"}]}
    assert document["subprotocols"] == ["mqtt"] and document["claims"]["sub"] == ["alice"]
    assert "access_token" not in document["query"]
    assert (headers["ce-connectionId"], headers["ce-subprotocol"], headers["ce-userId"]) == ("dev1", "mqtt", "alice")
    physical = headers["ce-physicalConnectionId"]
    assert headers["ce-source"] == f"/hubs/chat/client/dev1/{physical}" and "ce-sessionId" not in headers
    await client.disconnect()


async def test_a_3_1_1_connect_has_no_user_properties(app: FakeApp, emu: Emulator) -> None:
    client = await device(emu, "dev1", version=V311)
    assert json.loads(app.named("connect")[0][2])["mqtt"] == {
        "protocolVersion": 4, "cleanStart": True, "username": None, "password": None, "userProperties": None}
    await client.disconnect()


async def test_connect_answer_sets_user_groups_roles_and_connack_user_properties(app: FakeApp,
                                                                                 emu: Emulator) -> None:
    app.replies["connect"] = json_reply({"userId": "bob", "groups": ["room1"], "roles": [],
                                         "subProtocol": "mqtt", "mqtt": {"userProperties": [{"name": "n",
                                                                                             "value": "v"}]}})
    client = Device(emu, "dev1", user="alice")
    code, _, props = await client.connect()
    assert (code, props.UserProperty) == (0, [("n", "v")])
    assert (await rest(emu, "HEAD", "/api/hubs/chat/users/bob")).status == 200
    await rest(emu, "POST", "/api/hubs/chat/groups/room1/:send", body="hi", content_type="text/plain")
    assert (await client.message()).topic == "room1"
    assert [int(c.value) for c in await client.subscribe("room2")] == [0x87]  # roles [] removed the token's
    await client.disconnect()


REFUSALS = [
    # (handler answer, 3.1.1 CONNACK code, 5.0 reason code)
    ("mqtt code", refuse(403, {"mqtt": {"code": 0x8A, "reason": "banned"}}), 0x03, 0x8A),
    ("3.1.1 mqtt code", refuse(401, {"mqtt": {"code": 5}}), 0x05, 0x80),
    ("plain 400", refuse(400), 0x04, 0x86),
    ("plain 401", refuse(401), 0x05, 0x87),
    ("plain 403", refuse(403), 0x05, 0x87),
    ("plain 500", refuse(500), 0x03, 0x88),
]


@pytest.mark.parametrize("answer, v311_code, v5_code", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
@versions
async def test_connect_refusals_become_connack_codes(app: FakeApp, emu: Emulator, version: int, answer: object,
                                                     v311_code: int, v5_code: int) -> None:
    app.replies["connect"] = answer  # type: ignore[assignment]
    level = 5 if version == V5 else 4  # raw bytes: paho reports 3.1.1 codes translated to 5.0 ones
    client = await raw_client(emu, level)
    await client.send(Connect("dev1", protocol_level=level))
    answer_packet = await client.receive()
    assert isinstance(answer_packet, ConnAck) and answer_packet.code == (v5_code if version == V5 else v311_code)
    assert await client.closed()
    await client.close()
    assert not app.named("connected")


@pytest.mark.parametrize("answer", [{"userId": "u" * 1025}, {"groups": [" "]}], ids=["user id", "group"])
@versions
async def test_a_connect_answer_with_an_invalid_user_id_or_group_refuses_the_client(
        app: FakeApp, emu: Emulator, version: int, answer: object) -> None:
    app.replies["connect"] = json_reply(answer)
    level = 5 if version == V5 else 4
    client = await raw_client(emu, level)
    await client.send(Connect("dev1", protocol_level=level))
    answer_packet = await client.receive()
    assert isinstance(answer_packet, ConnAck) and answer_packet.code == (0x88 if version == V5 else 0x03)
    assert await client.closed()
    await client.close()
    assert (await rest(emu, "HEAD", "/api/hubs/chat/connections/dev1")).status == 404


async def test_a_refusal_reason_and_user_properties_reach_a_5_0_client(app: FakeApp, emu: Emulator) -> None:
    app.replies["connect"] = refuse(401, {"mqtt": {"code": 0x87, "reason": "Invalid Certificate",
                                                   "userProperties": [{"name": "hint", "value": "renew"}]}})
    client = await raw_client(emu)
    await client.send(Connect("dev1"))
    assert await client.receive() == ConnAck(0x87, properties={0x1F: "Invalid Certificate",
                                                               0x26: [("hint", "renew")]})
    assert await client.closed()
    await client.close()


async def test_an_unreachable_handler_refuses_with_server_unavailable(app: FakeApp, emu: Emulator) -> None:
    app.replies["connect"] = lambda request, body: web.Response(text="{broken", content_type="application/json")
    client = Device(emu, "dev1")
    assert (await client.connect())[0] == 0x88
    await client.close()


# -- connected and disconnected -------------------------------------------------------------------------------
async def test_connected_and_disconnected_carry_session_and_network_ids(app: FakeApp, emu: Emulator) -> None:
    client = await device(emu, "dev1")
    await wait_until(lambda: bool(app.named("connected")))
    await client.disconnect(0, properties(PacketTypes.DISCONNECT, ReasonString="bye", UserProperty=[("a", "b")]))
    await wait_until(lambda: bool(app.named("disconnected")))
    (_, connected, body), = app.named("connected")
    (_, disconnected, reason), = app.named("disconnected")
    assert body == b"{}" and connected["ce-subprotocol"] == "mqtt"
    assert connected["ce-sessionId"] == disconnected["ce-sessionId"]
    assert connected["ce-physicalConnectionId"] == app.named("connect")[0][1]["ce-physicalConnectionId"]
    assert json.loads(reason) == {"reason": "bye", "mqtt": {"initiatedByClient": True, "disconnectPacket": {
        "code": 0, "userProperties": [{"name": "a", "value": "b"}]}}}


@versions
async def test_a_lost_connection_is_reported_without_a_disconnect_packet(app: FakeApp, emu: Emulator,
                                                                         version: int) -> None:
    client = await device(emu, "dev1", version=version)
    await client.drop()
    await wait_until(lambda: bool(app.named("disconnected")))
    document = json.loads(app.named("disconnected")[0][2])
    assert document["mqtt"] == {"initiatedByClient": False, "disconnectPacket": None}
    assert document["reason"]


async def test_rest_close_is_reported_with_the_servers_disconnect_packet(app: FakeApp, emu: Emulator) -> None:
    client = await device(emu, "dev1")
    await rest(emu, "DELETE", "/api/hubs/chat/connections/dev1", [("reason", "kicked")])
    await wait_until(lambda: bool(app.named("disconnected")))
    assert json.loads(app.named("disconnected")[0][2]) == {"reason": "kicked", "mqtt": {
        "initiatedByClient": False, "disconnectPacket": {"code": 0x98, "userProperties": None}}}
    await client.close()


async def test_a_resumed_session_gets_connect_but_no_new_connected(app: FakeApp, emu: Emulator) -> None:
    app.replies["connect"] = json_reply({"userId": "first"})
    client = Device(emu, "dev1", clean_start=False)
    await client.connect(properties(PacketTypes.CONNECT, SessionExpiryInterval=30))
    await client.drop()
    app.replies["connect"] = json_reply({"userId": "second"})
    again = Device(emu, "dev1", clean_start=False)
    _, flags, _ = await again.connect(properties(PacketTypes.CONNECT, SessionExpiryInterval=30))
    assert flags.session_present
    assert len(app.named("connect")) == 2 and len(app.named("connected")) == 1
    assert emu.core.hub("chat").connections["dev1"].user_id == "first"  # identity only set for a new session
    assert not app.named("disconnected")
    await again.disconnect(0, properties(PacketTypes.DISCONNECT, SessionExpiryInterval=0))  # end the session
    await wait_until(lambda: bool(app.named("disconnected")))


# -- user events over topics ----------------------------------------------------------------------------------
async def test_a_publish_to_the_events_topic_is_a_user_event_with_a_reply(app: FakeApp, emu: Emulator) -> None:
    app.replies["telemetry"] = lambda request, body: web.Response(
        body=b"ok:" + body, content_type="text/plain", headers={"mqtt-handled-by": "backend"})
    client = await device(emu, "dev1", roles=())
    props = properties(PacketTypes.PUBLISH, ContentType="application/json", CorrelationData=b"r1",
                       UserProperty=[("unit", "C")])
    assert await client.publish("$webpubsub/server/events/telemetry", b'{"t":21}', qos=1, props=props) == 0
    reply = await client.message()
    assert (reply.topic, reply.payload, reply.qos) == ("$webpubsub/server/events/telemetry/succeeded",
                                                       b'ok:{"t":21}', 1)
    assert reply.properties.ContentType.startswith("text/plain") and reply.properties.CorrelationData == b"r1"
    assert ("azure-status-code", "200") in reply.properties.UserProperty
    assert ("handled-by", "backend") in reply.properties.UserProperty
    _, headers, body = app.named("telemetry")[0]
    assert (headers["Content-Type"], headers["mqtt-unit"], body) == ("application/json", "C", b'{"t":21}')
    assert headers["ce-type"] == "azure.webpubsub.user.telemetry" and headers["ce-eventName"] == "telemetry"
    await client.disconnect()


async def test_a_failed_user_event_is_answered_on_the_failed_topic(app: FakeApp, emu: Emulator) -> None:
    app.replies["telemetry"] = lambda request, body: web.Response(status=400, text="bad reading")
    client = await device(emu, "dev1", version=V311, roles=())
    await client.publish("$webpubsub/server/events/telemetry", b"x", qos=1)
    reply = await client.message()
    assert (reply.topic, reply.payload) == ("$webpubsub/server/events/telemetry/failed", b"bad reading")
    _, headers, _ = app.named("telemetry")[0]
    assert headers["Content-Type"] == "application/octet-stream"  # 3.1.1 has no content type
    await client.disconnect()


async def test_a_user_event_nobody_handles_fails_with_500(emu: Emulator) -> None:
    async with Emulator() as lonely:
        client = await device(lonely, "dev1", roles=())
        await client.publish("$webpubsub/server/events/nobody", b"x", qos=0)
        reply = await client.message()
        assert reply.topic == "$webpubsub/server/events/nobody/failed"
        assert ("azure-status-code", "500") in reply.properties.UserProperty
        await client.disconnect()


async def test_an_invalid_event_name_is_refused(emu: Emulator) -> None:
    client = await device(emu, "dev1", roles=())
    assert await client.publish("$webpubsub/server/events/a/b", b"x", qos=1) == 0x90
    await client.disconnect()
