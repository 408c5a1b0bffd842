"""Retries (408, 5xx, broken connections) and the overall request timeout."""

from __future__ import annotations

import time
from typing import AsyncIterator, Sequence

import pytest
import pytest_asyncio
from test_emulator_upstream_support import TEST_KEY, FakeHandler, drop_connection, hang, respond, running_handler

from webpubsub_emulator._upstream import (
    EventHandlerSettings,
    Upstream,
    UpstreamConnection,
    UpstreamFailed,
    UpstreamRejected,
)

pytestmark = pytest.mark.asyncio

TINY_DELAYS = (0.01, 0.01, 0.01)


@pytest_asyncio.fixture
async def handler() -> AsyncIterator[FakeHandler]:
    async with running_handler() as fake:
        yield fake


def make_upstream(handler: FakeHandler, retry_delays: Sequence[float] = TINY_DELAYS,
                  request_timeout: float = 3.0) -> Upstream:
    upstream = Upstream(access_keys=[TEST_KEY], request_timeout=request_timeout, retry_delays=retry_delays)
    upstream.set_handlers("chat", [EventHandlerSettings(handler.url_template)])
    return upstream


@pytest_asyncio.fixture
async def upstream(handler: FakeHandler) -> AsyncIterator[Upstream]:
    upstream = make_upstream(handler)
    yield upstream
    await upstream.close()


def connection() -> UpstreamConnection:
    return UpstreamConnection(hub="chat", connection_id="conn1", user_id=None, subprotocol=None, origin="localhost")


async def send(upstream: Upstream) -> None:
    await upstream.user_event(connection(), "message", b"hello", "text/plain")


@pytest.mark.parametrize("status", [408, 500, 502, 503])
async def test_retryable_status_is_retried(upstream: Upstream, handler: FakeHandler, status: int) -> None:
    handler.on("POST", "message", respond(status), respond(204))

    await send(upstream)

    assert len(handler.received("POST")) == 2


async def test_retry_resends_the_same_event(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("POST", "message", respond(500), respond(204))

    await send(upstream)

    first, second = handler.received("POST")
    assert second.headers["ce-id"] == first.headers["ce-id"]
    assert second.headers["ce-time"] == first.headers["ce-time"]
    assert second.body == first.body == b"hello"


async def test_broken_connection_is_retried(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("POST", "message", drop_connection(), respond(204))

    await send(upstream)

    assert len(handler.received("POST")) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 429])
async def test_client_errors_are_not_retried(upstream: Upstream, handler: FakeHandler, status: int) -> None:
    handler.on("POST", "message", respond(status), respond(204))

    with pytest.raises(UpstreamFailed):
        await send(upstream)
    assert len(handler.received("POST")) == 1


async def test_at_most_four_attempts(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("POST", "message", respond(503))

    with pytest.raises(UpstreamFailed, match="503"):
        await send(upstream)
    assert len(handler.received("POST")) == 4


async def test_persistent_connect_error_is_relayed_after_retries(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("POST", "connect", respond(500))

    with pytest.raises(UpstreamRejected) as raised:
        await upstream.connect(connection(), {"subprotocols": []})
    assert raised.value.status == 500
    assert len(handler.received("POST")) == 4


async def test_persistently_broken_connection_fails(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("POST", "message", drop_connection())

    with pytest.raises(UpstreamFailed):
        await send(upstream)
    assert len(handler.received("POST")) == 4


async def test_retries_wait_the_configured_delays(handler: FakeHandler) -> None:
    handler.on("POST", "message", respond(500), respond(500), respond(204))
    upstream = make_upstream(handler, retry_delays=(0.2, 0.4))
    try:
        await send(upstream)
    finally:
        await upstream.close()

    first, second, third = (request.received_at for request in handler.received("POST"))
    assert second - first >= 0.19
    assert third - second >= 0.39


async def test_timeout_is_not_retried(handler: FakeHandler) -> None:
    handler.on("POST", "message", hang(), respond(204))
    upstream = make_upstream(handler, request_timeout=0.3)
    try:
        with pytest.raises(UpstreamFailed, match="did not answer"):
            await send(upstream)
    finally:
        await upstream.close()

    assert len(handler.received("POST")) == 1


async def test_overall_timeout_includes_retry_delays(handler: FakeHandler) -> None:
    handler.on("POST", "message", respond(500))
    upstream = make_upstream(handler, retry_delays=(1.0, 1.0, 1.0), request_timeout=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamFailed, match="did not answer"):
            await send(upstream)
    finally:
        await upstream.close()

    assert time.monotonic() - started < 1.0
    assert len(handler.received("POST")) == 1
