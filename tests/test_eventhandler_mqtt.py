"""The sans-IO core and MQTT clients: exact requests in, exact responses out (connect with its MQTT fields,
CONNACK codes for refusals, connected/disconnected with sessions, user events with user properties)."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from test_eventhandler_core import CONNECT, CONNECTED, DISCONNECTED, JSON, event_headers, make_handler, post

from azure.messaging.webpubsubservice.eventhandler import (
    ConnectedRequest,
    ConnectRequest,
    ConnectResponse,
    DisconnectedRequest,
    EventHandlerError,
    HandlerResponse,
    MqttConnectProperties,
    MqttDisconnected,
    MqttDisconnectPacket,
    UserEventRequest,
    UserEventResponse,
)

PHYSICAL = "5a4b3c2d1e0f"
SESSION = "0f1e2d3c4b5a"


def mqtt_headers(event_type: str, **overrides: str) -> Dict[str, str]:
    headers = event_headers(event_type, ce_subprotocol="mqtt", ce_physicalConnectionId=PHYSICAL,
                            ce_source=f"/hubs/chat/client/conn1/{PHYSICAL}")
    if event_type != CONNECT:
        headers["ce-sessionId"] = SESSION
    headers.update({name.replace("_", "-"): value for name, value in overrides.items()})
    return headers


def connect_body(version: int = 5, **mqtt: Any) -> bytes:
    fields: Dict[str, Any] = {"protocolVersion": version, "cleanStart": True, "username": "dev1",
                              "password": "c2VjcmV0", "userProperties": [{"name": "model", "value": "x1"}]}
    fields.update(mqtt)
    return json.dumps({"mqtt": fields, "claims": {}, "query": {}, "headers": {}, "subprotocols": ["mqtt"],
                       "clientCertificates": []}).encode()


def refuse_with(error: EventHandlerError) -> Any:
    def on_connect(request: ConnectRequest) -> None:
        raise error

    return on_connect


def test_an_mqtt_connect_is_parsed_with_its_mqtt_fields() -> None:
    seen: List[ConnectRequest] = []
    post(make_handler(on_connect=seen.append), mqtt_headers(CONNECT), connect_body())
    request = seen[0]
    assert request.mqtt == MqttConnectProperties(5, "dev1", b"secret", [("model", "x1")], True)
    assert request.subprotocols == ["mqtt"]
    assert (request.context.physical_connection_id, request.context.session_id) == (PHYSICAL, None)
    assert request.context.subprotocol == "mqtt"


def test_a_3_1_1_connect_without_credentials() -> None:
    seen: List[ConnectRequest] = []
    body = connect_body(4, username=None, password=None, userProperties=None, cleanStart=False)
    post(make_handler(on_connect=seen.append), mqtt_headers(CONNECT), body)
    assert seen[0].mqtt == MqttConnectProperties(4, None, None, [], False)


def test_other_connects_have_no_mqtt_fields() -> None:
    seen: List[ConnectRequest] = []
    post(make_handler(on_connect=seen.append), event_headers(CONNECT), b'{"subprotocols":[]}')
    assert seen[0].mqtt is None and seen[0].context.physical_connection_id is None


def test_the_answer_can_carry_connack_user_properties() -> None:
    handler = make_handler(on_connect=lambda request: ConnectResponse(
        user_id="dev1", groups=["room1"], roles=["webpubsub.sendToGroup.room1"], subprotocol="mqtt",
        mqtt_user_properties=[("region", "eu"), ("region", "us")]))
    assert post(handler, mqtt_headers(CONNECT), connect_body()) == HandlerResponse(200, (JSON,), (
        b'{"userId":"dev1","groups":["room1"],"roles":["webpubsub.sendToGroup.room1"],"subprotocol":"mqtt",'
        b'"mqtt":{"userProperties":[{"name":"region","value":"eu"},{"name":"region","value":"us"}]}}'))


def test_an_mqtt_connect_without_callback_is_accepted_with_no_content() -> None:
    assert post(make_handler(), mqtt_headers(CONNECT), connect_body()) == HandlerResponse(204)


@pytest.mark.parametrize("status, version, code", [
    (400, 4, 4), (401, 4, 5), (403, 4, 5), (500, 4, 3),
    (400, 5, 0x86), (401, 5, 0x87), (403, 5, 0x87), (500, 5, 0x88),
])
def test_refusals_of_mqtt_clients_carry_the_connack_code_for_their_version(status: int, version: int,
                                                                           code: int) -> None:
    handler = make_handler(on_connect=refuse_with(EventHandlerError(status, "no")))
    response = post(handler, mqtt_headers(CONNECT), connect_body(version))
    assert response == HandlerResponse(status, (JSON,), b'{"mqtt":{"code":%d,"reason":"no"}}' % code)


def test_a_refusal_can_name_its_mqtt_reason_code_and_user_properties() -> None:
    error = EventHandlerError(403, "banned by server", mqtt_code=0x8A, mqtt_user_properties=[("until", "never")])
    response = post(make_handler(on_connect=refuse_with(error)), mqtt_headers(CONNECT), connect_body())
    assert response == HandlerResponse(403, (JSON,), (
        b'{"mqtt":{"code":138,"reason":"banned by server","userProperties":[{"name":"until","value":"never"}]}}'))


@pytest.mark.parametrize("code", [0, 6, 0x7F, 0xA0, 0x100])
def test_mqtt_codes_must_be_connack_failure_codes(code: int) -> None:
    with pytest.raises(ValueError, match="mqtt_code must be a CONNACK code"):
        EventHandlerError(401, mqtt_code=code)


@pytest.mark.parametrize("mqtt, message", [
    ({"protocolVersion": 3}, "mqtt 'protocolVersion' must be 4 or 5, not 3"),
    ({"protocolVersion": None}, "mqtt 'protocolVersion' must be 4 or 5, not None"),
    ({"password": "%%%"}, "mqtt 'password' is not base64"),
    ({"userProperties": [{"name": "a"}]}, "each MQTT user property needs a string name and value"),
    ({"userProperties": "a=b"}, "mqtt 'userProperties' must be an array"),
])
def test_malformed_mqtt_connect_fields_are_refused(mqtt: Dict[str, Any], message: str) -> None:
    response = post(make_handler(on_connect=lambda request: None), mqtt_headers(CONNECT), connect_body(**mqtt))
    assert response == HandlerResponse(400, (("Content-Type", "text/plain; charset=utf-8"),), message.encode())


def test_connected_knows_the_session() -> None:
    seen: List[ConnectedRequest] = []
    assert post(make_handler(on_connected=seen.append), mqtt_headers(CONNECTED), b"{}") == HandlerResponse(200)
    assert (seen[0].context.session_id, seen[0].context.physical_connection_id) == (SESSION, PHYSICAL)


def test_disconnected_carries_the_disconnect_packet() -> None:
    seen: List[DisconnectedRequest] = []
    body = (b'{"reason":"bye","mqtt":{"initiatedByClient":true,"disconnectPacket":{"code":4,'
            b'"userProperties":[{"name":"a","value":"b"}]}}}')
    assert post(make_handler(on_disconnected=seen.append), mqtt_headers(DISCONNECTED), body) == HandlerResponse(200)
    assert (seen[0].reason, seen[0].mqtt) == ("bye", MqttDisconnected(True, MqttDisconnectPacket(4, [("a", "b")])))


def test_disconnected_after_a_lost_connection_has_no_packet() -> None:
    seen: List[DisconnectedRequest] = []
    body = b'{"reason":null,"mqtt":{"initiatedByClient":false,"disconnectPacket":null}}'
    post(make_handler(on_disconnected=seen.append), mqtt_headers(DISCONNECTED), body)
    assert seen[0].mqtt == MqttDisconnected(False, None)


def test_a_disconnect_packet_code_must_be_an_integer() -> None:
    body = b'{"mqtt":{"initiatedByClient":false,"disconnectPacket":{"code":"0"}}}'
    response = post(make_handler(on_disconnected=lambda request: None), mqtt_headers(DISCONNECTED), body)
    assert response.status == 400 and response.body == b"mqtt 'disconnectPacket.code' must be an integer"


def test_user_events_read_and_answer_mqtt_user_properties() -> None:
    seen: List[UserEventRequest] = []

    def on_user_event(request: UserEventRequest) -> UserEventResponse:
        seen.append(request)
        return UserEventResponse({"ok": True}, mqtt_user_properties=[("handled-by", "backend")])

    headers = mqtt_headers("azure.webpubsub.user.telemetry", Content_Type="application/json", mqtt_unit="C")
    response = post(make_handler(on_user_event=on_user_event), headers, b'{"t":21}')
    assert seen[0].mqtt_user_properties == [("unit", "C")] and seen[0].data == {"t": 21}
    assert response == HandlerResponse(200, (JSON, ("mqtt-handled-by", "backend")), b'{"ok":true}')
