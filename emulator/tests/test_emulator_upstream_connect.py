"""The blocking connect event: accepting, overriding identity, rejecting, and broken answers."""

from __future__ import annotations

import json
import time
from typing import Any, AsyncIterator, Dict, Optional

import pytest
import pytest_asyncio
from test_emulator_upstream_support import TEST_KEY, FakeHandler, hang, respond, running_handler, unused_port

from webpubsub_emulator._upstream import (
    ConnectResult,
    EventHandlerSettings,
    Upstream,
    UpstreamConnection,
    UpstreamFailed,
    UpstreamRejected,
)

pytestmark = pytest.mark.asyncio

CONNECT_BODY: Dict[str, Any] = {
    "claims": {"sub": ["alice"]},
    "query": {},
    "headers": {},
    "subprotocols": ["json.webpubsub.azure.v1", "custom.v2"],
    "clientCertificates": [],
}


@pytest_asyncio.fixture
async def handler() -> AsyncIterator[FakeHandler]:
    async with running_handler() as fake:
        yield fake


@pytest_asyncio.fixture
async def upstream(handler: FakeHandler) -> AsyncIterator[Upstream]:
    upstream = Upstream(access_keys=[TEST_KEY], request_timeout=0.5, retry_delays=())
    upstream.set_handlers("chat", [EventHandlerSettings(handler.url_template)])
    yield upstream
    await upstream.close()


def connection() -> UpstreamConnection:
    return UpstreamConnection(hub="chat", connection_id="conn1", user_id="alice", subprotocol=None,
                              origin="localhost")


def json_answer(document: Any, headers: Optional[Dict[str, str]] = None) -> Any:
    return respond(200, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})})


async def connect_with(upstream: Upstream, handler: FakeHandler, *responders: Any) -> Optional[ConnectResult]:
    handler.on("POST", "connect", *responders)
    return await upstream.connect(connection(), CONNECT_BODY)


@pytest.mark.parametrize(
    "answer",
    [respond(204), respond(200), json_answer(None)],
    ids=["204", "empty 200", "json null"],
)
async def test_plain_success_accepts_with_token_identity(upstream: Upstream, handler: FakeHandler, answer: Any) -> None:
    result = await connect_with(upstream, handler, answer)

    assert result == ConnectResult(user_id=None, user_id_set=False, groups=None, roles=None, subprotocol=None)


async def test_json_answer_overrides_identity(upstream: Upstream, handler: FakeHandler) -> None:
    result = await connect_with(upstream, handler, json_answer({
        "userId": "bob",
        "groups": ["room1", "room2"],
        "roles": ["webpubsub.sendToGroup.room1"],
        "subprotocol": "custom.v2",
    }))

    assert result == ConnectResult(user_id="bob", user_id_set=True, groups=["room1", "room2"],
                                   roles=["webpubsub.sendToGroup.room1"], subprotocol="custom.v2")


async def test_property_names_are_case_insensitive(upstream: Upstream, handler: FakeHandler) -> None:
    result = await connect_with(upstream, handler, json_answer({"UserID": "bob", "subProtocol": "custom.v2"}))

    assert result is not None
    assert (result.user_id, result.subprotocol) == ("bob", "custom.v2")


async def test_empty_user_id_still_overrides(upstream: Upstream, handler: FakeHandler) -> None:
    result = await connect_with(upstream, handler, json_answer({"userId": ""}))

    assert result is not None
    assert (result.user_id, result.user_id_set) == ("", True)


async def test_null_user_id_keeps_token_identity(upstream: Upstream, handler: FakeHandler) -> None:
    result = await connect_with(upstream, handler, json_answer({"userId": None, "roles": []}))

    assert result == ConnectResult(user_id=None, user_id_set=False, groups=None, roles=[], subprotocol=None)


async def test_state_header_sets_connection_state(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("POST", "connect", respond(204, headers={"ce-connectionState": "eyJrZXkiOiJhIn0="}))
    conn = connection()

    await upstream.connect(conn, CONNECT_BODY)

    assert conn.connection_state == "eyJrZXkiOiJhIn0="


@pytest.mark.parametrize("status", [400, 401, 403])
async def test_error_status_rejects_with_that_status(upstream: Upstream, handler: FakeHandler, status: int) -> None:
    with pytest.raises(UpstreamRejected) as raised:
        await connect_with(upstream, handler, respond(status, b"go away", {"Content-Type": "text/plain"}))

    assert raised.value.status == status
    assert "go away" not in raised.value.reason


async def test_rejection_leaves_state_alone(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("POST", "connect", respond(401, headers={"ce-connectionState": "bad"}))
    conn = connection()

    with pytest.raises(UpstreamRejected):
        await upstream.connect(conn, CONNECT_BODY)
    assert conn.connection_state is None


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"alice"',
        b'{"userId": 42}',
        b'{"groups": "room1"}',
        b'{"roles": [1]}',
        b'{"subprotocol": "never.offered"}',
        b'{"subprotocol": ""}',
        b'{"userId": NaN}',
        b'{"userId": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
async def test_unusable_answer_fails(upstream: Upstream, handler: FakeHandler, body: bytes) -> None:
    with pytest.raises(UpstreamFailed):
        await connect_with(upstream, handler, respond(200, body, {"Content-Type": "application/json"}))


async def test_hanging_handler_times_out(upstream: Upstream, handler: FakeHandler) -> None:
    started = time.monotonic()

    with pytest.raises(UpstreamFailed, match="did not answer"):
        await connect_with(upstream, handler, hang())

    assert time.monotonic() - started < 2.0


async def test_unreachable_handler_fails() -> None:
    upstream = Upstream(access_keys=[TEST_KEY], request_timeout=1.0, retry_delays=(), validation_timeout=1.0)
    upstream.set_handlers("chat", [EventHandlerSettings(f"http://127.0.0.1:{unused_port()}/{{event}}")])
    try:
        with pytest.raises(UpstreamFailed):
            await upstream.connect(connection(), CONNECT_BODY)
    finally:
        await upstream.close()
