"""What the event-handler requests look like on the wire: URL, CloudEvents headers, bodies."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator, Optional

import pytest
import pytest_asyncio
from test_emulator_upstream_support import TEST_KEY, FakeHandler, running_handler

from webpubsub_emulator._upstream import EventHandlerSettings, Upstream, UpstreamConnection

pytestmark = pytest.mark.asyncio

CONNECT_BODY = {
    "claims": {"sub": ["alice"]},
    "query": {"room": ["lobby"]},
    "headers": {"Origin": ["http://localhost"]},
    "subprotocols": ["json.webpubsub.azure.v1"],
    "clientCertificates": [],
}


@pytest_asyncio.fixture
async def handler() -> AsyncIterator[FakeHandler]:
    async with running_handler() as fake:
        yield fake


@pytest_asyncio.fixture
async def upstream(handler: FakeHandler) -> AsyncIterator[Upstream]:
    upstream = Upstream(access_keys=[TEST_KEY], request_timeout=3.0, retry_delays=(0.01,))
    upstream.set_handlers("chat", [EventHandlerSettings(handler.url_template)])
    yield upstream
    await upstream.close()


def connection(user_id: Optional[str] = "alice", subprotocol: Optional[str] = None,
               state: Optional[str] = None) -> UpstreamConnection:
    return UpstreamConnection(hub="chat", connection_id="conn1", user_id=user_id, subprotocol=subprotocol,
                              origin="localhost", connection_state=state)


async def test_connect_request_carries_cloudevents_headers(upstream: Upstream, handler: FakeHandler) -> None:
    await upstream.connect(connection(), CONNECT_BODY)

    [request] = handler.received("POST", "connect")
    assert request.raw_path == "/api/chat/connect"
    expected = {
        "Content-Type": "application/json; charset=utf-8",
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": "azure.webpubsub.sys.connect",
        "ce-source": "/hubs/chat/client/conn1",
        "ce-id": "0",
        "ce-hub": "chat",
        "ce-connectionId": "conn1",
        "ce-eventName": "connect",
        "ce-userId": "alice",
        "WebHook-Request-Origin": "localhost",
    }
    assert {name: request.headers.get(name) for name in expected} == expected


async def test_connect_request_never_carries_subprotocol_or_state(upstream: Upstream, handler: FakeHandler) -> None:
    await upstream.connect(connection(subprotocol="json.webpubsub.azure.v1", state="c3RhdGU="), CONNECT_BODY)

    [request] = handler.received("POST", "connect")
    assert "ce-subprotocol" not in request.headers
    assert "ce-connectionState" not in request.headers


async def test_connect_body_is_the_given_json(upstream: Upstream, handler: FakeHandler) -> None:
    await upstream.connect(connection(), CONNECT_BODY)

    [request] = handler.received("POST", "connect")
    assert json.loads(request.body) == CONNECT_BODY


async def test_signature_matches_reference_vector(upstream: Upstream, handler: FakeHandler) -> None:
    await upstream.connect(connection(), CONNECT_BODY)

    [request] = handler.received("POST", "connect")
    assert request.headers["ce-signature"] == "sha256=8de7281e588e23b0a30a7180ffa240257b8176e983004c240c9f3f7a7233c993"


async def test_signature_has_one_entry_per_key(handler: FakeHandler) -> None:
    upstream = Upstream(access_keys=[TEST_KEY, "secondary-key"])
    upstream.set_handlers("chat", [EventHandlerSettings(handler.url_template)])
    try:
        await upstream.connect(connection(), CONNECT_BODY)
    finally:
        await upstream.close()

    [request] = handler.received("POST", "connect")
    entries = request.headers["ce-signature"].split(",")
    assert len(entries) == 2
    assert entries[0] == "sha256=8de7281e588e23b0a30a7180ffa240257b8176e983004c240c9f3f7a7233c993"
    assert entries[1].startswith("sha256=") and entries[1] != entries[0]


async def test_no_signature_without_keys(handler: FakeHandler) -> None:
    upstream = Upstream(access_keys=[])
    upstream.set_handlers("chat", [EventHandlerSettings(handler.url_template)])
    try:
        await upstream.connect(connection(), CONNECT_BODY)
    finally:
        await upstream.close()

    [request] = handler.received("POST", "connect")
    assert "ce-signature" not in request.headers


async def test_user_event_headers_and_body(upstream: Upstream, handler: FakeHandler) -> None:
    conn = connection(subprotocol="json.webpubsub.azure.v1", state="eyJrZXkiOiJhIn0=")
    await upstream.user_event(conn, "chatMessage", b'{"text":"hi"}', "application/json")

    [request] = handler.received("POST", "chatMessage")
    assert request.raw_path == "/api/chat/chatMessage"
    assert request.body == b'{"text":"hi"}'
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["ce-type"] == "azure.webpubsub.user.chatMessage"
    assert request.headers["ce-eventName"] == "chatMessage"
    assert request.headers["ce-subprotocol"] == "json.webpubsub.azure.v1"
    assert request.headers["ce-connectionState"] == "eyJrZXkiOiJhIn0="
    assert request.headers["ce-userId"] == "alice"


async def test_event_ids_count_up_after_connect(upstream: Upstream, handler: FakeHandler) -> None:
    conn = connection()
    await upstream.connect(conn, CONNECT_BODY)
    await upstream.user_event(conn, "message", b"a", "text/plain")
    await upstream.user_event(conn, "message", b"b", "text/plain")

    ids = [request.headers["ce-id"] for request in handler.received("POST")]
    assert ids == ["0", "1", "2"]


async def test_user_id_header_left_out_without_user(upstream: Upstream, handler: FakeHandler) -> None:
    await upstream.user_event(connection(user_id=None), "message", b"hello", "text/plain")

    [request] = handler.received("POST", "message")
    assert "ce-userId" not in request.headers


async def test_time_header_is_rfc3339_utc(upstream: Upstream, handler: FakeHandler) -> None:
    await upstream.user_event(connection(), "message", b"hello", "text/plain")

    [request] = handler.received("POST", "message")
    sent = datetime.strptime(request.headers["ce-time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert abs(datetime.now(timezone.utc) - sent) < timedelta(seconds=10)


async def test_url_template_escapes_hub_and_event(handler: FakeHandler) -> None:
    upstream = Upstream(access_keys=[TEST_KEY])
    upstream.set_handlers("my hub", [EventHandlerSettings(handler.base_url + "/events/{hub}/x/{event}")])
    conn = UpstreamConnection(hub="my hub", connection_id="c", user_id=None, subprotocol=None, origin="localhost")
    try:
        await upstream.user_event(conn, "a/b", b"x", "text/plain")
    finally:
        await upstream.close()

    [request] = handler.received("POST")
    assert request.raw_path == "/events/my%20hub/x/a%2Fb"


async def test_url_template_keeps_query_and_placeholder_case(handler: FakeHandler) -> None:
    upstream = Upstream(access_keys=[TEST_KEY])
    upstream.set_handlers("chat", [EventHandlerSettings(handler.base_url + "/api/{Hub}/{EVENT}?code=s3cret")])
    try:
        await upstream.user_event(connection(), "message", b"x", "text/plain")
    finally:
        await upstream.close()

    [request] = handler.received("POST")
    assert request.raw_path == "/api/chat/message?code=s3cret"


async def test_connected_body_is_empty_object(upstream: Upstream, handler: FakeHandler) -> None:
    upstream.connected(connection(subprotocol="json.webpubsub.azure.v1"))

    [request] = await handler.wait_for(1, "POST", "connected")
    assert json.loads(request.body) == {}
    assert request.headers["ce-type"] == "azure.webpubsub.sys.connected"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["ce-subprotocol"] == "json.webpubsub.azure.v1"


async def test_disconnected_body_carries_reason(upstream: Upstream, handler: FakeHandler) -> None:
    upstream.disconnected(connection(), "Closed by REST API.")

    [request] = await handler.wait_for(1, "POST", "disconnected")
    assert json.loads(request.body) == {"reason": "Closed by REST API."}
    assert request.headers["ce-type"] == "azure.webpubsub.sys.disconnected"


async def test_disconnected_without_reason_sends_null(upstream: Upstream, handler: FakeHandler) -> None:
    upstream.disconnected(connection(), None)

    [request] = await handler.wait_for(1, "POST", "disconnected")
    assert json.loads(request.body) == {"reason": None}
