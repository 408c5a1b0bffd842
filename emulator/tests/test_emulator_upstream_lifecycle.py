"""Fire-and-forget connected/disconnected notifications and close()."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import AsyncIterator

import pytest
import pytest_asyncio
from test_emulator_upstream_support import TEST_KEY, FakeHandler, hang, respond, running_handler, unused_port

from webpubsub_emulator._upstream import EventHandlerSettings, Upstream, UpstreamConnection, UpstreamFailed

pytestmark = pytest.mark.asyncio

LOGGER = "webpubsub_emulator.upstream"


@pytest_asyncio.fixture
async def handler() -> AsyncIterator[FakeHandler]:
    async with running_handler() as fake:
        yield fake


def make_upstream(url_template: str, close_grace: float = 2.0) -> Upstream:
    upstream = Upstream(access_keys=[TEST_KEY], request_timeout=3.0, retry_delays=(), validation_timeout=1.0,
                        close_grace=close_grace)
    upstream.set_handlers("chat", [EventHandlerSettings(url_template)])
    return upstream


@pytest_asyncio.fixture
async def upstream(handler: FakeHandler) -> AsyncIterator[Upstream]:
    upstream = make_upstream(handler.url_template)
    yield upstream
    await upstream.close()


def connection() -> UpstreamConnection:
    return UpstreamConnection(hub="chat", connection_id="conn1", user_id=None, subprotocol=None, origin="localhost")


async def test_connected_returns_before_the_handler_answers(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("POST", "connected", hang(1.0))
    started = time.monotonic()

    upstream.connected(connection())

    assert time.monotonic() - started < 0.1
    await handler.wait_for(1, "POST", "connected")


async def test_failing_notification_is_logged_not_raised(
    upstream: Upstream, handler: FakeHandler, caplog: pytest.LogCaptureFixture
) -> None:
    handler.on("POST", "connected", respond(500))
    caplog.set_level(logging.WARNING, logger=LOGGER)

    upstream.connected(connection())
    await upstream.close()

    assert len(handler.received("POST", "connected")) == 1
    assert any("connected" in record.getMessage() and "500" in record.getMessage() for record in caplog.records)


async def test_unreachable_notification_target_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    upstream = make_upstream(f"http://127.0.0.1:{unused_port()}/{{event}}")

    upstream.disconnected(connection(), "bye")
    await upstream.close()

    assert any("disconnected" in record.getMessage() for record in caplog.records)


async def test_disconnected_waits_for_pending_connected(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("POST", "connected", hang(0.3))
    conn = connection()

    upstream.connected(conn)
    upstream.disconnected(conn, None)
    [disconnected] = await handler.wait_for(1, "POST", "disconnected")

    [connected] = handler.received("POST", "connected")
    assert disconnected.received_at - connected.received_at >= 0.25
    assert [connected.headers["ce-id"], disconnected.headers["ce-id"]] == ["1", "2"]


async def test_close_lets_pending_notifications_finish(handler: FakeHandler) -> None:
    handler.on("POST", "disconnected", hang(0.2))
    upstream = make_upstream(handler.url_template, close_grace=2.0)

    upstream.disconnected(connection(), "shutdown")
    await upstream.close()

    assert len(handler.received("POST", "disconnected")) == 1
    assert not upstream._background


async def test_close_cancels_hanging_notifications(handler: FakeHandler) -> None:
    handler.on("POST", "connected", hang())
    upstream = make_upstream(handler.url_template, close_grace=0.2)
    upstream.connected(connection())
    await handler.wait_for(1, "POST", "connected")
    started = time.monotonic()

    await asyncio.wait_for(upstream.close(), 2.0)

    assert time.monotonic() - started < 1.0
    assert not upstream._background


async def test_notifications_after_close_are_dropped(upstream: Upstream, handler: FakeHandler) -> None:
    await upstream.close()

    upstream.connected(connection())
    upstream.disconnected(connection(), None)
    await asyncio.sleep(0.05)

    assert handler.requests == []


async def test_blocking_events_after_close_fail(upstream: Upstream) -> None:
    await upstream.close()

    with pytest.raises(UpstreamFailed):
        await upstream.user_event(connection(), "message", b"x", "text/plain")


async def test_close_twice_is_harmless(upstream: Upstream) -> None:
    await upstream.close()
    await upstream.close()


async def test_notification_outside_event_loop_is_logged(
    upstream: Upstream, handler: FakeHandler, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=LOGGER)

    await asyncio.to_thread(upstream.connected, connection())

    assert any("no running event loop" in record.getMessage() for record in caplog.records)
