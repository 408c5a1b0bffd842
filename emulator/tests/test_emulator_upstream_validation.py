"""The abuse-protection OPTIONS handshake before events, and how its result is cached."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

import pytest
import pytest_asyncio
from test_emulator_upstream_support import (
    TEST_KEY,
    FakeHandler,
    allow_origin,
    hang,
    respond,
    running_handler,
    unused_port,
)

from webpubsub_emulator import _upstream_validation
from webpubsub_emulator._upstream import EventHandlerSettings, Upstream, UpstreamConnection, UpstreamFailed

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def handler() -> AsyncIterator[FakeHandler]:
    async with running_handler() as fake:
        yield fake


def make_upstream(url_template: str, *, validation_timeout: float = 1.0, validation_ttl: float = 60.0,
                  validation_retry_initial: float = 1.0) -> Upstream:
    upstream = Upstream(access_keys=[TEST_KEY], request_timeout=3.0, retry_delays=(),
                        validation_timeout=validation_timeout, validation_ttl=validation_ttl,
                        validation_retry_initial=validation_retry_initial)
    upstream.set_handlers("chat", [EventHandlerSettings(url_template)])
    upstream.set_handlers("news", [EventHandlerSettings(url_template)])
    return upstream


@pytest_asyncio.fixture
async def upstream(handler: FakeHandler) -> AsyncIterator[Upstream]:
    upstream = make_upstream(handler.url_template)
    yield upstream
    await upstream.close()


def connection(hub: str = "chat", origin: str = "localhost") -> UpstreamConnection:
    return UpstreamConnection(hub=hub, connection_id="conn1", user_id=None, subprotocol=None, origin=origin)


async def send(upstream: Upstream, conn: UpstreamConnection) -> None:
    await upstream.user_event(conn, "message", b"x", "text/plain")


async def test_validation_request_precedes_first_event(upstream: Upstream, handler: FakeHandler) -> None:
    await send(upstream, connection())

    assert [(request.method, request.raw_path) for request in handler.requests] == [
        ("OPTIONS", "/api/chat/validate"),
        ("POST", "/api/chat/message"),
    ]
    validation = handler.requests[0]
    assert validation.headers["WebHook-Request-Origin"] == "localhost"
    assert validation.headers["ce-awpsversion"] == "1.0"
    assert "ce-signature" not in validation.headers


async def test_successful_validation_is_reused(upstream: Upstream, handler: FakeHandler) -> None:
    await send(upstream, connection())
    await send(upstream, connection())

    assert len(handler.received("OPTIONS")) == 1
    assert len(handler.received("POST")) == 2


async def test_concurrent_first_events_share_one_validation(upstream: Upstream, handler: FakeHandler) -> None:
    await asyncio.gather(*(send(upstream, connection()) for _ in range(3)))

    assert len(handler.received("OPTIONS")) == 1


async def test_the_cache_keeps_the_latest_results_only(upstream: Upstream, handler: FakeHandler,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Origins (the clients' Host header) and URLs (a {hub} in the template) are the clients' choice.
    monkeypatch.setattr(_upstream_validation, "MAX_VERDICTS", 3)
    for index in range(10):
        await send(upstream, connection(origin=f"host{index}"))
    cache = upstream._abuse_protection
    assert len(cache._verdicts) == len(cache._locks) == 3
    await send(upstream, connection(origin="host9"))  # still cached
    assert len(handler.received("OPTIONS")) == 10
    await send(upstream, connection(origin="host0"))  # forgotten: validated again
    assert len(handler.received("OPTIONS")) == 11


async def test_each_resolved_url_is_validated(upstream: Upstream, handler: FakeHandler) -> None:
    await send(upstream, connection("chat"))
    await send(upstream, connection("news"))

    assert [request.raw_path for request in handler.received("OPTIONS")] == ["/api/chat/validate", "/api/news/validate"]


async def test_origin_is_allowed_case_insensitively(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("OPTIONS", "validate", allow_origin("LocalHost"))

    await send(upstream, connection(origin="localhost"))

    assert len(handler.received("POST")) == 1


async def test_other_origin_fails_the_event(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("OPTIONS", "validate", allow_origin("contoso.webpubsub.azure.com"))

    with pytest.raises(UpstreamFailed, match="validation"):
        await send(upstream, connection(origin="localhost"))
    assert handler.received("POST") == []


async def test_missing_allowed_origin_header_fails_the_event(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("OPTIONS", "validate", allow_origin(None))

    with pytest.raises(UpstreamFailed, match="validation"):
        await send(upstream, connection())
    assert handler.received("POST") == []


async def test_non_success_status_fails_validation(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("OPTIONS", "validate", allow_origin("*", status=400))

    with pytest.raises(UpstreamFailed, match="validation"):
        await send(upstream, connection())


async def test_options_404_falls_back_to_get(upstream: Upstream, handler: FakeHandler) -> None:
    handler.on("OPTIONS", "validate", respond(404))
    handler.on("GET", "validate", allow_origin("*"))

    await send(upstream, connection())

    assert [request.method for request in handler.requests] == ["OPTIONS", "GET", "POST"]
    assert handler.requests[1].headers["WebHook-Request-Origin"] == "localhost"


async def test_success_is_rechecked_after_ttl(handler: FakeHandler) -> None:
    upstream = make_upstream(handler.url_template, validation_ttl=0.2)
    try:
        await send(upstream, connection())
        await asyncio.sleep(0.3)
        await send(upstream, connection())
    finally:
        await upstream.close()

    assert len(handler.received("OPTIONS")) == 2


async def test_failure_is_cached_until_backoff_elapses(handler: FakeHandler) -> None:
    handler.on("OPTIONS", "validate", allow_origin(None), allow_origin("*"))
    upstream = make_upstream(handler.url_template, validation_retry_initial=0.3)
    try:
        with pytest.raises(UpstreamFailed):
            await send(upstream, connection())
        with pytest.raises(UpstreamFailed):
            await send(upstream, connection())
        assert len(handler.received("OPTIONS")) == 1
        await asyncio.sleep(0.4)
        await send(upstream, connection())
    finally:
        await upstream.close()

    assert len(handler.received("OPTIONS")) == 2
    assert len(handler.received("POST")) == 1


async def test_failure_backoff_doubles(handler: FakeHandler) -> None:
    handler.on("OPTIONS", "validate", allow_origin(None))
    upstream = make_upstream(handler.url_template, validation_retry_initial=0.3)
    try:
        checks = []
        for pause in (0.0, 0.4, 0.4, 0.3):  # t = 0, 0.4 (re-check), 0.8 (within 0.6 backoff), 1.1 (re-check)
            await asyncio.sleep(pause)
            with pytest.raises(UpstreamFailed):
                await send(upstream, connection())
            checks.append(len(handler.received("OPTIONS")))
    finally:
        await upstream.close()

    assert checks == [1, 2, 2, 3]


async def test_hanging_validation_times_out(handler: FakeHandler) -> None:
    handler.on("OPTIONS", "validate", hang())
    upstream = make_upstream(handler.url_template, validation_timeout=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamFailed, match="validation"):
            await send(upstream, connection())
    finally:
        await upstream.close()

    assert time.monotonic() - started < 2.0
    assert handler.received("POST") == []


async def test_unreachable_handler_fails_validation() -> None:
    upstream = make_upstream(f"http://127.0.0.1:{unused_port()}/api/{{hub}}/{{event}}")
    try:
        with pytest.raises(UpstreamFailed, match="validation"):
            await send(upstream, connection())
    finally:
        await upstream.close()
