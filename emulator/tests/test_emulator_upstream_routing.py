"""Which handler (if any) gets an event: systemEvents, userEventPattern, first match, hub lookup."""

from __future__ import annotations

from typing import AsyncIterator, Tuple

import pytest
import pytest_asyncio
from test_emulator_upstream_support import TEST_KEY, FakeHandler, running_handler

from webpubsub_emulator._upstream import EventHandlerSettings, Upstream, UpstreamConnection, UpstreamFailed

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def handler() -> AsyncIterator[FakeHandler]:
    async with running_handler() as fake:
        yield fake


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[Upstream]:
    upstream = Upstream(access_keys=[TEST_KEY], request_timeout=3.0, retry_delays=())
    yield upstream
    await upstream.close()


def connection(hub: str = "chat") -> UpstreamConnection:
    return UpstreamConnection(hub=hub, connection_id="conn1", user_id=None, subprotocol=None, origin="localhost")


def only(pattern: str = "", system_events: Tuple[str, ...] = ()) -> EventHandlerSettings:
    return EventHandlerSettings("http://127.0.0.1:1/{event}", user_event_pattern=pattern, system_events=system_events)


@pytest.mark.parametrize(
    "pattern, event, expected",
    [
        ("*", "anything", True),
        ("", "message", False),
        ("message", "message", True),
        ("message", "MESSAGE", True),
        ("message", "other", False),
        ("a, B ,c", "b", True),
        ("a,b", "c", False),
        ("a,*", "zzz", True),
    ],
)
async def test_user_event_pattern(upstream: Upstream, pattern: str, event: str, expected: bool) -> None:
    upstream.set_handlers("chat", [only(pattern)])

    assert upstream.handles("chat", event, system=False) is expected


@pytest.mark.parametrize(
    "system_events, event, expected",
    [
        (("connect", "connected", "disconnected"), "disconnected", True),
        (("Connect",), "connect", True),
        (("connected",), "connect", False),
        ((), "connected", False),
    ],
)
async def test_system_events(upstream: Upstream, system_events: Tuple[str, ...], event: str, expected: bool) -> None:
    upstream.set_handlers("chat", [only(system_events=system_events)])

    assert upstream.handles("chat", event, system=True) is expected


async def test_system_event_names_are_not_user_events(upstream: Upstream) -> None:
    upstream.set_handlers("chat", [only(system_events=("connect",))])

    assert not upstream.handles("chat", "connect", system=False)


async def test_hub_names_match_case_insensitively(upstream: Upstream) -> None:
    upstream.set_handlers("Chat", [only("*")])

    assert upstream.handles("CHAT", "message", system=False)
    assert not upstream.handles("other", "message", system=False)


async def test_default_hub_entry_catches_unconfigured_hubs(upstream: Upstream) -> None:
    upstream.set_handlers("_default", [only("*")])
    upstream.set_handlers("quiet", [])

    assert upstream.handles("anyhub", "message", system=False)
    assert not upstream.handles("quiet", "message", system=False)


async def test_first_matching_handler_gets_the_event(upstream: Upstream, handler: FakeHandler) -> None:
    upstream.set_handlers("chat", [
        EventHandlerSettings(handler.base_url + "/first/{event}", user_event_pattern="other", system_events=()),
        EventHandlerSettings(handler.base_url + "/second/{event}", user_event_pattern="*", system_events=()),
        EventHandlerSettings(handler.base_url + "/third/{event}", user_event_pattern="*", system_events=()),
    ])

    await upstream.user_event(connection(), "message", b"x", "text/plain")

    assert [request.raw_path for request in handler.received("POST")] == ["/second/message"]


async def test_set_handlers_replaces_previous_ones(upstream: Upstream, handler: FakeHandler) -> None:
    upstream.set_handlers("chat", [only("*")])
    upstream.set_handlers("chat", [only("")])

    assert not upstream.handles("chat", "message", system=False)


async def test_connect_without_handler_returns_none(upstream: Upstream, handler: FakeHandler) -> None:
    upstream.set_handlers("chat", [EventHandlerSettings(handler.url_template, system_events=("connected",))])

    assert await upstream.connect(connection(), {}) is None
    assert handler.requests == []


async def test_user_event_without_handler_fails(upstream: Upstream, handler: FakeHandler) -> None:
    upstream.set_handlers("chat", [EventHandlerSettings(handler.url_template, user_event_pattern="")])

    with pytest.raises(UpstreamFailed, match="no event handler"):
        await upstream.user_event(connection(), "message", b"x", "text/plain")
    assert handler.requests == []


async def test_notifications_without_handler_send_nothing(upstream: Upstream, handler: FakeHandler) -> None:
    upstream.set_handlers("chat", [EventHandlerSettings(handler.url_template, system_events=("connect",))])

    upstream.connected(connection())
    upstream.disconnected(connection(), None)
    await upstream.close()

    assert handler.requests == []


@pytest.mark.parametrize(
    "template",
    ["ftp://example.com/{event}", "/relative/{event}", "http://{hub}.example.com/x", "tunnel:///api/{event}"],
)
async def test_unusable_url_templates_are_refused(upstream: Upstream, template: str) -> None:
    with pytest.raises(ValueError):
        upstream.set_handlers("chat", [EventHandlerSettings(template)])
