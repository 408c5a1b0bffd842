"""The sans-IO core: exact requests in, exact responses out, for every event and every failure."""

from __future__ import annotations

import base64
import json
import logging
import threading
from typing import Any, Dict, List, Optional

import pytest
from azure.core.credentials import AzureKeyCredential

from azure.messaging.webpubsubservice.eventhandler import (
    ClientCertificate,
    ConnectedRequest,
    ConnectRequest,
    ConnectResponse,
    DisconnectedRequest,
    EventHandlerError,
    HandlerResponse,
    UserEventRequest,
    UserEventResponse,
    WebPubSubEventHandler,
)
from azure.messaging.webpubsubservice.eventhandler._keys import expected_signature

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
OTHER_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210ZYXWVUTS"
CONNECTION_ID = "conn1"
SIGNATURE = "sha256=8de7281e588e23b0a30a7180ffa240257b8176e983004c240c9f3f7a7233c993"
TEXT = ("Content-Type", "text/plain; charset=utf-8")
JSON = ("Content-Type", "application/json; charset=utf-8")
STATE_NICK_ALICE = "eyJuaWNrIjoiYWxpY2UifQ=="  # {"nick":"alice"}


def event_headers(event_type: str, **overrides: Optional[str]) -> Dict[str, str]:
    headers: Dict[str, Optional[str]] = {
        "Content-Type": "application/json; charset=utf-8",
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": event_type,
        "ce-source": f"/hubs/chat/client/{CONNECTION_ID}",
        "ce-id": "1",
        "ce-time": "2024-05-01T08:00:00Z",
        "ce-hub": "chat",
        "ce-connectionId": CONNECTION_ID,
        "ce-eventName": event_type.rsplit(".", 1)[-1],
        "ce-signature": SIGNATURE,
        "WebHook-Request-Origin": "localhost",
    }
    headers.update({name.replace("_", "-"): value for name, value in overrides.items()})
    return {name: value for name, value in headers.items() if value is not None}


def make_handler(**options: Any) -> WebPubSubEventHandler:
    options.setdefault("allowed_origins", ["localhost"])
    options.setdefault("access_keys", [KEY])
    return WebPubSubEventHandler("chat", **options)


def post(handler: WebPubSubEventHandler, headers: Dict[str, str], body: bytes = b"") -> HandlerResponse:
    return handler.handle("POST", "/eventhandler", headers, body)


def text_response(status: int, text: str) -> HandlerResponse:
    return HandlerResponse(status, (TEXT,), text.encode("utf-8"))


CONNECT = "azure.webpubsub.sys.connect"
CONNECTED = "azure.webpubsub.sys.connected"
DISCONNECTED = "azure.webpubsub.sys.disconnected"
MESSAGE = "azure.webpubsub.user.message"
CONNECT_BODY = json.dumps(
    {
        "claims": {"sub": ["alice"], "role": ["webpubsub.joinLeaveGroup"]},
        "query": {"room": ["lobby"]},
        "headers": {"Origin": ["http://localhost:8080"]},
        "subprotocols": ["json.webpubsub.azure.v1"],
        "clientCertificates": [{"thumbprint": "3ce9", "content": "-----BEGIN CERTIFICATE-----"}],
    }
).encode()


# --- abuse-protection handshake -------------------------------------------------------------


def test_handshake_allows_a_configured_origin() -> None:
    response = make_handler().handle("OPTIONS", "/eventhandler", {"WebHook-Request-Origin": "localhost"}, b"")
    assert response == HandlerResponse(200, (("WebHook-Allowed-Origin", "localhost"),))


def test_handshake_matches_hosts_case_insensitively() -> None:
    handler = make_handler(allowed_origins=["Contoso.WebPubSub.Azure.com"])
    response = handler.handle(
        "OPTIONS", "/eventhandler", {"webhook-request-origin": "contoso.webpubsub.azure.COM"}, b""
    )
    assert response.status == 200


def test_handshake_accepts_origins_written_as_urls() -> None:
    handler = make_handler(allowed_origins=["https://contoso.webpubsub.azure.com:443/"])
    response = handler.handle(
        "OPTIONS", "/eventhandler", {"WebHook-Request-Origin": "contoso.webpubsub.azure.com"}, b""
    )
    assert response.status == 200


def test_handshake_refuses_an_unknown_origin() -> None:
    response = make_handler().handle("OPTIONS", "/eventhandler", {"WebHook-Request-Origin": "evil.example"}, b"")
    assert response == text_response(400, "origin not allowed: evil.example")


def test_handshake_does_not_match_host_suffixes() -> None:
    response = make_handler().handle(
        "OPTIONS", "/eventhandler", {"WebHook-Request-Origin": "localhost.evil.example"}, b""
    )
    assert response.status == 400


def test_handshake_without_origin_header_is_refused() -> None:
    assert make_handler().handle("OPTIONS", "/eventhandler", {}, b"") == text_response(
        400, "WebHook-Request-Origin header is missing"
    )


def test_handshake_with_several_origins_needs_all_of_them_allowed() -> None:
    handler = make_handler(allowed_origins=["a.example", "b.example"])
    response = handler.handle("OPTIONS", "/eventhandler", {"WebHook-Request-Origin": "a.example, b.example"}, b"")
    assert response == HandlerResponse(
        200, (("WebHook-Allowed-Origin", "a.example"), ("WebHook-Allowed-Origin", "b.example"))
    )
    refused = handler.handle("OPTIONS", "/eventhandler", {"WebHook-Request-Origin": "a.example,c.example"}, b"")
    assert refused == text_response(400, "origin not allowed: c.example")


def test_handshake_wildcard_is_only_answered_when_configured() -> None:
    assert make_handler().handle("OPTIONS", "/eventhandler", {"WebHook-Request-Origin": "*"}, b"").status == 400
    wildcard = make_handler(allowed_origins="*")
    response = wildcard.handle("OPTIONS", "/eventhandler", {"WebHook-Request-Origin": "anything.example"}, b"")
    assert response == HandlerResponse(200, (("WebHook-Allowed-Origin", "*"),))


def test_allowed_origins_default_to_the_connection_string_endpoint() -> None:
    handler = WebPubSubEventHandler("chat", access_keys=f"Endpoint=http://127.0.0.1:8080;AccessKey={KEY};Version=1.0;")
    response = handler.handle("OPTIONS", "/eventhandler", {"WebHook-Request-Origin": "127.0.0.1"}, b"")
    assert response.status == 200


def test_allowed_origins_are_required_without_a_connection_string() -> None:
    with pytest.raises(ValueError, match="allowed_origins is required"):
        WebPubSubEventHandler("chat", access_keys=[KEY])


# --- signatures ------------------------------------------------------------------------------


def test_signature_matches_the_reference_test_vector() -> None:
    assert expected_signature(KEY, CONNECTION_ID) == SIGNATURE


def test_signed_event_is_accepted() -> None:
    assert post(make_handler(), event_headers(CONNECTED), b"{}") == HandlerResponse(200)


def test_signature_hex_case_does_not_matter() -> None:
    upper = "sha256=" + SIGNATURE[len("sha256=") :].upper()
    assert post(make_handler(), event_headers(CONNECTED, ce_signature=upper), b"{}").status == 200


def test_any_of_several_signatures_may_match() -> None:
    both = f"{expected_signature(OTHER_KEY, CONNECTION_ID)}, {SIGNATURE}"
    assert post(make_handler(), event_headers(CONNECTED, ce_signature=both), b"{}").status == 200


def test_missing_signature_is_refused_when_keys_are_configured() -> None:
    response = post(make_handler(), event_headers(CONNECTED, ce_signature=None), b"{}")
    assert response == text_response(401, "ce-signature is missing or does not match any access key")


def test_signature_from_another_key_is_refused() -> None:
    forged = expected_signature(OTHER_KEY, CONNECTION_ID)
    assert post(make_handler(), event_headers(CONNECTED, ce_signature=forged), b"{}").status == 401


def test_signature_for_another_connection_is_refused() -> None:
    replayed = event_headers(CONNECTED, ce_connectionId="conn2")
    assert post(make_handler(), replayed, b"{}").status == 401


def test_every_configured_key_is_tried_so_rotation_works() -> None:
    handler = make_handler(access_keys=[OTHER_KEY, KEY])
    assert post(handler, event_headers(CONNECTED), b"{}").status == 200


def test_credential_is_read_at_verification_time() -> None:
    credential = AzureKeyCredential(OTHER_KEY)
    handler = make_handler(access_keys=credential)
    assert post(handler, event_headers(CONNECTED), b"{}").status == 401
    credential.update(KEY)
    assert post(handler, event_headers(CONNECTED), b"{}").status == 200


def test_connection_string_key_names_are_case_insensitive() -> None:
    handler = make_handler(access_keys=f"endpoint=http://localhost;ACCESSKEY={KEY};version=1.0")
    assert post(handler, event_headers(CONNECTED), b"{}").status == 200


def test_a_bare_key_string_is_rejected_as_ambiguous() -> None:
    with pytest.raises(ValueError, match="connection string"):
        make_handler(access_keys=KEY)


def test_without_keys_signatures_are_not_checked() -> None:
    handler = make_handler(access_keys=None)
    assert post(handler, event_headers(CONNECTED, ce_signature=None), b"{}").status == 200


# --- requests that are not well-formed events --------------------------------------------------


def test_missing_cloud_event_headers_are_named() -> None:
    response = post(make_handler(), {"Content-Type": "text/plain"}, b"hi")
    assert response == text_response(
        400, "not a Web PubSub CloudEvents request: missing ce-awpsversion, ce-type, ce-hub, ce-connectionid"
    )


def test_foreign_event_type_is_refused() -> None:
    response = post(make_handler(), event_headers("com.example.order"), b"{}")
    assert response == text_response(400, "unknown event type 'com.example.order'")


def test_unknown_system_event_is_refused() -> None:
    response = post(make_handler(), event_headers("azure.webpubsub.sys.reboot"), b"{}")
    assert response == text_response(400, "unknown event type 'azure.webpubsub.sys.reboot'")


def test_event_for_another_hub_is_refused() -> None:
    response = post(make_handler(), event_headers(CONNECTED, ce_hub="news"), b"{}")
    assert response == text_response(400, "event for hub 'news' sent to the handler of hub 'chat'")


def test_hub_names_compare_case_insensitively() -> None:
    assert post(make_handler(), event_headers(CONNECTED, ce_hub="CHAT"), b"{}").status == 200


def test_connect_body_that_is_not_json_is_refused() -> None:
    response = post(make_handler(on_connect=lambda request: None), event_headers(CONNECT), b"{oops")
    assert response.status == 400
    assert response.body.startswith(b"connect body is not valid JSON")


def test_connect_body_with_wrongly_typed_fields_is_refused() -> None:
    response = post(make_handler(on_connect=lambda request: None), event_headers(CONNECT), b'{"subprotocols": "x"}')
    assert response == text_response(400, "connect body field 'subprotocols' must be an array of strings")


def test_connection_state_that_is_not_base64_json_is_refused() -> None:
    response = post(make_handler(), event_headers(CONNECTED, ce_connectionState="%%%"), b"{}")
    assert response.status == 400
    assert response.body.startswith(b"ce-connectionState is not base64 of UTF-8 JSON")


def test_oversized_body_is_refused() -> None:
    handler = make_handler(max_body_size=4)
    response = post(handler, event_headers(MESSAGE, Content_Type="text/plain"), b"12345")
    assert response == text_response(413, "request body is larger than 4 bytes")


def test_other_methods_are_refused() -> None:
    response = make_handler().handle("GET", "/eventhandler", {}, b"")
    assert response == HandlerResponse(
        405, (TEXT, ("Allow", "OPTIONS, POST")), b"method GET is not allowed; use OPTIONS or POST"
    )


def test_other_paths_are_not_found() -> None:
    assert make_handler().handle("POST", "/elsewhere", event_headers(CONNECTED), b"{}").status == 404


def test_sub_paths_match_so_event_url_templates_work() -> None:
    handler = make_handler()
    assert handler.matches("/eventhandler/connect?x=1")
    assert not handler.matches("/eventhandlers")


def test_refusals_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="azure.messaging.webpubsubservice.eventhandler"):
        post(make_handler(), event_headers(CONNECTED, ce_signature=None), b"{}")
    assert "Refused event handler request with 401" in caplog.text


# --- connect -----------------------------------------------------------------------------------


def test_connect_request_is_parsed_into_a_typed_request() -> None:
    seen: List[ConnectRequest] = []
    handler = make_handler(on_connect=lambda request: seen.append(request))
    post(handler, event_headers(CONNECT, ce_userId="alice"), CONNECT_BODY)
    request = seen[0]
    assert request.claims == {"sub": ["alice"], "role": ["webpubsub.joinLeaveGroup"]}
    assert request.query == {"room": ["lobby"]}
    assert request.headers == {"Origin": ["http://localhost:8080"]}
    assert request.subprotocols == ["json.webpubsub.azure.v1"]
    assert request.client_certificates == [ClientCertificate("3ce9", "-----BEGIN CERTIFICATE-----")]
    context = request.context
    assert (context.hub, context.connection_id, context.user_id) == ("chat", CONNECTION_ID, "alice")
    assert (context.event_name, context.event_id, context.origin) == ("connect", "1", "localhost")
    assert (context.signature, context.states) == (SIGNATURE, {})
    assert context.headers["ce-time"] == "2024-05-01T08:00:00Z"


def test_connect_response_sets_identity_groups_roles_and_subprotocol() -> None:
    handler = make_handler(
        on_connect=lambda request: ConnectResponse(
            user_id="bob",
            groups=["room1"],
            roles=["webpubsub.sendToGroup.room1"],
            subprotocol="json.webpubsub.azure.v1",
        )
    )
    assert post(handler, event_headers(CONNECT), CONNECT_BODY) == HandlerResponse(
        200,
        (JSON,),
        b'{"userId":"bob","groups":["room1"],"roles":["webpubsub.sendToGroup.room1"],'
        b'"subprotocol":"json.webpubsub.azure.v1"}',
    )


def test_connect_response_leaves_out_unset_fields() -> None:
    handler = make_handler(on_connect=lambda request: ConnectResponse(roles=[]))
    assert post(handler, event_headers(CONNECT), CONNECT_BODY) == HandlerResponse(200, (JSON,), b'{"roles":[]}')


def test_connect_returning_none_accepts_with_no_content() -> None:
    handler = make_handler(on_connect=lambda request: None)
    assert post(handler, event_headers(CONNECT), CONNECT_BODY) == HandlerResponse(204)


def test_empty_connect_response_accepts_with_no_content() -> None:
    handler = make_handler(on_connect=lambda request: ConnectResponse())
    assert post(handler, event_headers(CONNECT), CONNECT_BODY) == HandlerResponse(204)


def test_connect_without_callback_is_accepted() -> None:
    assert post(make_handler(), event_headers(CONNECT), CONNECT_BODY) == HandlerResponse(204)


def test_connect_can_be_refused_with_a_status_and_reason() -> None:
    def refuse(request: ConnectRequest) -> None:
        raise EventHandlerError(401, "unknown user")

    assert post(make_handler(on_connect=refuse), event_headers(CONNECT), CONNECT_BODY) == text_response(
        401, "unknown user"
    )


def test_refusal_codes_are_limited_to_the_documented_ones() -> None:
    with pytest.raises(ValueError):
        EventHandlerError(418, "teapot")


def test_connect_choosing_a_subprotocol_the_client_did_not_offer_is_a_server_error() -> None:
    handler = make_handler(on_connect=lambda request: ConnectResponse(subprotocol="mqtt"))
    response = post(handler, event_headers(CONNECT), CONNECT_BODY)
    assert response == text_response(
        500, "on_connect chose subprotocol 'mqtt' that the client did not offer (['json.webpubsub.azure.v1'])"
    )


def test_connect_sets_initial_connection_state() -> None:
    def remember_nick(request: ConnectRequest) -> ConnectResponse:
        request.context.set_state("nick", "alice")
        return ConnectResponse(user_id="alice")

    response = post(make_handler(on_connect=remember_nick), event_headers(CONNECT), CONNECT_BODY)
    assert response == HandlerResponse(200, (JSON, ("ce-connectionState", STATE_NICK_ALICE)), b'{"userId":"alice"}')


def test_connect_callback_exception_is_a_logged_server_error(caplog: pytest.LogCaptureFixture) -> None:
    def broken(request: ConnectRequest) -> None:
        raise RuntimeError("database password is hunter2")

    with caplog.at_level(logging.ERROR, logger="azure.messaging.webpubsubservice.eventhandler"):
        response = post(make_handler(on_connect=broken), event_headers(CONNECT), CONNECT_BODY)
    assert response == text_response(500, "on_connect failed")
    assert "on_connect raised for connect of connection conn1" in caplog.text


def test_connect_returning_the_wrong_type_is_a_server_error() -> None:
    handler = make_handler(on_connect=lambda request: {"userId": "bob"})
    assert post(handler, event_headers(CONNECT), CONNECT_BODY) == text_response(
        500, "on_connect must return ConnectResponse or None, not dict"
    )


# --- user events -------------------------------------------------------------------------------


def received_data(content_type: str, body: bytes) -> UserEventRequest:
    seen: List[UserEventRequest] = []
    handler = make_handler(on_user_event=lambda request: seen.append(request))
    assert post(handler, event_headers(MESSAGE, Content_Type=content_type), body).status == 204
    return seen[0]


def test_text_event_data_is_a_str() -> None:
    request = received_data("text/plain", "héllo".encode())
    assert (request.data, request.data_type, request.context.event_name) == ("héllo", "text", "message")


def test_json_event_data_is_parsed() -> None:
    request = received_data("application/json", b'{"text":"hi"}')
    assert (request.data, request.data_type) == ({"text": "hi"}, "json")


def test_binary_event_data_is_bytes() -> None:
    request = received_data("application/octet-stream", b"\x00\xff")
    assert (request.data, request.data_type, request.body) == (b"\x00\xff", "binary", b"\x00\xff")


# A serialized google.protobuf.Any: type_url "type.googleapis.com/azure.webpubsub.TestMessage", value 08 01.
PROTOBUF_ANY = b"\x0a\x2ftype.googleapis.com/azure.webpubsub.TestMessage\x12\x02\x08\x01"


def test_protobuf_event_data_is_the_bytes_of_the_serialized_any() -> None:
    request = received_data("application/x-protobuf", PROTOBUF_ANY)
    assert (request.data, request.data_type, request.body) == (PROTOBUF_ANY, "protobuf", PROTOBUF_ANY)
    assert request.content_type == "application/x-protobuf"


def test_protobuf_event_data_type_ignores_parameters_and_case() -> None:
    assert received_data("Application/X-Protobuf; charset=binary", PROTOBUF_ANY).data_type == "protobuf"


def test_protobuf_event_data_may_be_empty() -> None:
    assert (received_data("application/x-protobuf", b"").data, received_data("application/x-protobuf", b"").data_type
            ) == (b"", "protobuf")


def test_protobuf_reply_is_sent_as_x_protobuf_byte_for_byte() -> None:
    handler = make_handler(on_user_event=lambda request: UserEventResponse(request.data, data_type="protobuf"))
    response = post(handler, event_headers(MESSAGE, Content_Type="application/x-protobuf"), PROTOBUF_ANY)
    assert response == HandlerResponse(200, (("Content-Type", "application/x-protobuf"),), PROTOBUF_ANY)


def test_protobuf_reply_takes_a_bytearray_or_memoryview() -> None:
    for data in (bytearray(PROTOBUF_ANY), memoryview(PROTOBUF_ANY)):
        handler = make_handler(on_user_event=lambda request, data=data: UserEventResponse(data, data_type="protobuf"))
        assert post(handler, event_headers(MESSAGE, Content_Type="text/plain"), b"x").body == PROTOBUF_ANY


def test_protobuf_reply_that_is_not_bytes_is_a_server_error() -> None:
    handler = make_handler(on_user_event=lambda request: UserEventResponse("not bytes", data_type="protobuf"))
    response = post(handler, event_headers(MESSAGE, Content_Type="text/plain"), b"x")
    assert response == text_response(500, "on_user_event returned protobuf data that is not bytes")


def test_bytes_without_a_data_type_are_still_binary() -> None:
    handler = make_handler(on_user_event=lambda request: UserEventResponse(request.data))
    response = post(handler, event_headers(MESSAGE, Content_Type="application/x-protobuf"), PROTOBUF_ANY)
    assert response.header("Content-Type") == "application/octet-stream"


def test_an_unknown_reply_data_type_is_refused_when_the_response_is_made() -> None:
    with pytest.raises(ValueError, match="'text', 'json', 'binary' or 'protobuf', not 'proto'"):
        UserEventResponse(b"x", data_type="proto")  # type: ignore[arg-type]


def test_json_event_with_invalid_body_is_refused() -> None:
    handler = make_handler(on_user_event=lambda request: None)
    response = post(handler, event_headers(MESSAGE, Content_Type="application/json"), b"{oops")
    assert response.status == 400
    assert response.body.startswith(b"user event body is not valid JSON")


def test_custom_event_name_comes_from_the_headers() -> None:
    seen: List[UserEventRequest] = []
    handler = make_handler(on_user_event=lambda request: seen.append(request))
    post(
        handler,
        event_headers("azure.webpubsub.user.chat", Content_Type="text/plain", ce_subprotocol="json.webpubsub.azure.v1"),
        b"x",
    )
    assert (seen[0].context.event_name, seen[0].context.subprotocol) == ("chat", "json.webpubsub.azure.v1")


def test_text_reply() -> None:
    handler = make_handler(on_user_event=lambda request: UserEventResponse("pong"))
    assert post(handler, event_headers(MESSAGE, Content_Type="text/plain"), b"ping") == HandlerResponse(
        200, (TEXT,), b"pong"
    )


def test_json_reply() -> None:
    handler = make_handler(on_user_event=lambda request: UserEventResponse({"echo": request.data}))
    response = post(handler, event_headers(MESSAGE, Content_Type="application/json"), b'"hi"')
    assert response == HandlerResponse(200, (JSON,), b'{"echo":"hi"}')


def test_json_reply_of_a_string_when_asked_for() -> None:
    handler = make_handler(on_user_event=lambda request: UserEventResponse("hi", data_type="json"))
    assert post(handler, event_headers(MESSAGE, Content_Type="text/plain"), b"x") == HandlerResponse(
        200, (JSON,), b'"hi"'
    )


def test_binary_reply() -> None:
    handler = make_handler(on_user_event=lambda request: UserEventResponse(b"\x01\x02"))
    assert post(handler, event_headers(MESSAGE, Content_Type="text/plain"), b"x") == HandlerResponse(
        200, (("Content-Type", "application/octet-stream"),), b"\x01\x02"
    )


def test_no_reply_is_no_content() -> None:
    handler = make_handler(on_user_event=lambda request: None)
    assert post(handler, event_headers(MESSAGE, Content_Type="text/plain"), b"x") == HandlerResponse(204)


def test_user_event_can_fail_with_a_status_and_reason() -> None:
    def refuse(request: UserEventRequest) -> None:
        raise EventHandlerError(400, "messages must not be empty")

    response = post(make_handler(on_user_event=refuse), event_headers(MESSAGE, Content_Type="text/plain"), b"")
    assert response == text_response(400, "messages must not be empty")


def test_reply_that_is_not_json_serialisable_is_a_server_error() -> None:
    handler = make_handler(on_user_event=lambda request: UserEventResponse({1, 2}))
    response = post(handler, event_headers(MESSAGE, Content_Type="text/plain"), b"x")
    assert response.status == 500


def test_user_event_reads_and_rewrites_the_whole_connection_state() -> None:
    def count(request: UserEventRequest) -> None:
        request.context.set_state("count", request.context.states.get("count", 0) + 1)

    headers = event_headers(MESSAGE, Content_Type="text/plain", ce_connectionState=STATE_NICK_ALICE)
    response = post(make_handler(on_user_event=count), headers, b"x")
    state_header = response.header("ce-connectionState")
    assert response.status == 204 and state_header is not None
    assert json.loads(base64.b64decode(state_header)) == {"nick": "alice", "count": 1}


def test_unchanged_state_is_not_sent_back() -> None:
    headers = event_headers(MESSAGE, Content_Type="text/plain", ce_connectionState=STATE_NICK_ALICE)
    response = post(make_handler(on_user_event=lambda request: UserEventResponse("ok")), headers, b"x")
    assert response.header("ce-connectionState") is None


def test_cleared_state_is_sent_as_an_empty_object() -> None:
    def forget(request: UserEventRequest) -> None:
        request.context.clear_states()

    headers = event_headers(MESSAGE, Content_Type="text/plain", ce_connectionState=STATE_NICK_ALICE)
    assert post(make_handler(on_user_event=forget), headers, b"x").header("ce-connectionState") == "e30="


def test_state_values_must_be_json() -> None:
    def store_object(request: UserEventRequest) -> None:
        request.context.set_state("lock", threading.Lock())

    response = post(make_handler(on_user_event=store_object), event_headers(MESSAGE, Content_Type="text/plain"), b"x")
    assert response == text_response(500, "on_user_event failed")


# --- connected / disconnected ---------------------------------------------------------------------


def test_connected_runs_the_callback_and_answers_200() -> None:
    seen: List[ConnectedRequest] = []
    handler = make_handler(on_connected=lambda request: seen.append(request))
    headers = event_headers(CONNECTED, ce_connectionState=STATE_NICK_ALICE)
    assert post(handler, headers, b"{}") == HandlerResponse(200)
    assert seen[0].context.states == {"nick": "alice"}


def test_disconnected_passes_the_reason() -> None:
    seen: List[DisconnectedRequest] = []
    handler = make_handler(on_disconnected=lambda request: seen.append(request))
    assert post(handler, event_headers(DISCONNECTED), b'{"reason":"client closed"}') == HandlerResponse(200)
    assert seen[0].reason == "client closed"


def test_disconnected_without_reason() -> None:
    seen: List[DisconnectedRequest] = []
    post(make_handler(on_disconnected=lambda request: seen.append(request)), event_headers(DISCONNECTED), b"{}")
    assert seen[0].reason is None


def test_notification_callback_failure_is_a_logged_server_error(caplog: pytest.LogCaptureFixture) -> None:
    def broken(request: DisconnectedRequest) -> None:
        raise KeyError("session")

    with caplog.at_level(logging.ERROR, logger="azure.messaging.webpubsubservice.eventhandler"):
        response = post(make_handler(on_disconnected=broken), event_headers(DISCONNECTED), b"{}")
    assert response == text_response(500, "on_disconnected failed")
    assert "on_disconnected raised" in caplog.text


def test_state_changes_in_notifications_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    def set_state(request: ConnectedRequest) -> None:
        request.context.set_state("late", True)

    with caplog.at_level(logging.WARNING, logger="azure.messaging.webpubsubservice.eventhandler"):
        response = post(make_handler(on_connected=set_state), event_headers(CONNECTED), b"{}")
    assert response == HandlerResponse(200)
    assert "only connect and user events can change state" in caplog.text


# --- plain and coroutine callbacks -----------------------------------------------------------------


def test_sync_handle_runs_coroutine_callbacks() -> None:
    async def reply(request: UserEventRequest) -> UserEventResponse:
        return UserEventResponse("async")

    response = post(make_handler(on_user_event=reply), event_headers(MESSAGE, Content_Type="text/plain"), b"x")
    assert response.body == b"async"


@pytest.mark.asyncio
async def test_async_handle_awaits_coroutine_callbacks() -> None:
    async def reply(request: UserEventRequest) -> UserEventResponse:
        return UserEventResponse("async")

    handler = make_handler(on_user_event=reply)
    response = await handler.handle_async(
        "POST", "/eventhandler", event_headers(MESSAGE, Content_Type="text/plain"), b"x"
    )
    assert response.body == b"async"


@pytest.mark.asyncio
async def test_async_handle_runs_plain_callbacks_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()

    def reply(request: UserEventRequest) -> UserEventResponse:
        return UserEventResponse("worker" if threading.get_ident() != loop_thread else "loop")

    handler = make_handler(on_user_event=reply)
    response = await handler.handle_async(
        "POST", "/eventhandler", event_headers(MESSAGE, Content_Type="text/plain"), b"x"
    )
    assert response.body == b"worker"


@pytest.mark.asyncio
async def test_sync_handle_inside_an_event_loop_explains_to_use_handle_async(caplog: pytest.LogCaptureFixture) -> None:
    async def reply(request: UserEventRequest) -> UserEventResponse:
        return UserEventResponse("async")

    handler = make_handler(on_user_event=reply)
    response = post(handler, event_headers(MESSAGE, Content_Type="text/plain"), b"x")
    assert response == text_response(500, "on_user_event failed")
    assert "use handle_async() there" in caplog.text


def test_reply_data_type_is_checked_where_the_reply_is_made() -> None:
    with pytest.raises(ValueError, match="data_type"):
        UserEventResponse("<x/>", data_type="xml")  # type: ignore[arg-type]
