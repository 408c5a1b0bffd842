"""Upstream: calls the app's event handlers with CloudEvents requests (connect, connected,
disconnected and user events), following the behaviour of the real service and Microsoft's emulator.

Only two exceptions ever leave the blocking calls: ``UpstreamRejected`` (the connect handler said
no) and ``UpstreamFailed`` (anything else went wrong). Notifications never raise; they log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, Coroutine, Dict, List, Optional, Sequence, Set, Tuple

import aiohttp
from multidict import CIMultiDictProxy

from ._cloudevents import (
    DEFAULT_HUB,
    SYSTEM_EVENTS,
    SYSTEM_EVENT_CONTENT_TYPE,
    VALIDATE_EVENT,
    check_url_template,
    event_headers,
    expand_url_template,
    system_events_contain,
    user_event_pattern_matches,
)
from ._upstream_replies import (
    MAX_REPLY_BYTES,
    ConnectResult,
    InvalidResponse,
    Reply,
    parse_connect_result,
    parse_reply,
)
from ._upstream_validation import AbuseProtection, ValidationFailed

__all__ = [
    "ConnectResult",
    "EventHandlerSettings",
    "MqttEventFields",
    "Reply",
    "Upstream",
    "UpstreamConnection",
    "UpstreamFailed",
    "UpstreamRejected",
]

_logger = logging.getLogger("webpubsub_emulator.upstream")

_CONNECT_EVENT_ID = 0
_MAX_ERROR_BODY_BYTES = 64 * 1024  # kept from non-2xx answers: MQTT refusals and replies carry a body


@dataclass(frozen=True)
class EventHandlerSettings:
    url_template: str
    user_event_pattern: str = "*"
    system_events: Tuple[str, ...] = SYSTEM_EVENTS


@dataclass
class MqttEventFields:
    """What an MQTT connection adds to its events: the network connection and session ids, and the
    ``mqtt`` object of its ``disconnected`` body (set when the session ends)."""

    physical_connection_id: str
    session_id: Optional[str] = None  # not sent on connect
    disconnected: Dict[str, Any] = field(default_factory=dict)


@dataclass
class UpstreamConnection:
    hub: str
    connection_id: str
    user_id: Optional[str]
    subprotocol: Optional[str]
    origin: str
    connection_state: Optional[str] = None
    mqtt: Optional[MqttEventFields] = None
    _last_event_id: int = field(default=_CONNECT_EVENT_ID, init=False, repr=False, compare=False)
    _cookies: Dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _connected_task: Optional["asyncio.Task[None]"] = field(default=None, init=False, repr=False, compare=False)

    def _next_event_id(self) -> int:
        self._last_event_id += 1
        return self._last_event_id


class UpstreamRejected(Exception):
    """The connect handler answered non-2xx; ``status`` is relayed to the connecting client."""

    def __init__(self, status: int, reason: str, body: bytes = b"") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.body = body  # the start of the answer's body (an MQTT refusal names its CONNACK code there)


class UpstreamFailed(Exception):
    """No handler, unreachable, timed out, failed validation or an unusable answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _HandlerResponse:
    status: int
    headers: "CIMultiDictProxy[str]"
    body: bytes
    cookies: "SimpleCookie"

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300


def _is_retryable_status(status: int) -> bool:
    return status == 408 or status >= 500


class Upstream:
    def __init__(
        self,
        *,
        access_keys: Sequence[str],
        request_timeout: float = 100.0,
        retry_delays: Sequence[float] = (1.0, 3.0, 5.0),
        validation_timeout: float = 10.0,
        validation_ttl: float = 60.0,
        validation_retry_initial: float = 1.0,
        validation_retry_max: float = 60.0,
        max_reply_bytes: int = MAX_REPLY_BYTES,
        close_grace: float = 2.0,
    ) -> None:
        self._access_keys = tuple(access_keys)
        self._request_timeout = request_timeout
        self._retry_delays = tuple(retry_delays)
        self._max_reply_bytes = max_reply_bytes
        self._close_grace = close_grace
        self._abuse_protection = AbuseProtection(
            timeout=validation_timeout,
            success_ttl=validation_ttl,
            failure_backoff_initial=validation_retry_initial,
            failure_backoff_max=validation_retry_max,
        )
        self._handlers: Dict[str, Tuple[EventHandlerSettings, ...]] = {}
        self._session: Optional[aiohttp.ClientSession] = None
        self._background: Set["asyncio.Task[None]"] = set()
        self._closing = False  # no new notifications; pending ones may still use the session
        self._closed = False

    def set_access_keys(self, access_keys: Sequence[str]) -> None:
        """Sign later requests with these keys (one `ce-signature` value per key)."""
        self._access_keys = tuple(access_keys)

    # ----- routing -------------------------------------------------------------------------

    def set_handlers(self, hub: str, handlers: Sequence[EventHandlerSettings]) -> None:
        """Replace the hub's handlers; raises ValueError for a URL template that can never work."""
        for handler in handlers:
            check_url_template(handler.url_template)
        self._handlers[hub.lower()] = tuple(handlers)

    def handles(self, hub: str, event: str, *, system: bool) -> bool:
        return self._handler_for(hub, event, system=system) is not None

    def _handler_for(self, hub: str, event: str, *, system: bool) -> Optional[EventHandlerSettings]:
        handlers = self._handlers.get(hub.lower())
        if handlers is None:
            handlers = self._handlers.get(DEFAULT_HUB, ())
        for handler in handlers:
            if system and system_events_contain(handler.system_events, event):
                return handler
            if not system and user_event_pattern_matches(handler.user_event_pattern, event):
                return handler
        return None

    # ----- blocking events -----------------------------------------------------------------

    async def connect(self, conn: UpstreamConnection, body: Dict[str, Any]) -> Optional[ConnectResult]:
        handler = self._handler_for(conn.hub, "connect", system=True)
        if handler is None:
            return None
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        response = await self._deliver(
            handler, conn, "connect", system=True, event_id=_CONNECT_EVENT_ID,
            content_type=SYSTEM_EVENT_CONTENT_TYPE, body=payload,
        )
        if not response.succeeded:
            raise UpstreamRejected(response.status, f"connect handler answered {response.status}", response.body)
        offered = body.get("subprotocols") or []
        try:
            result = parse_connect_result(response.body, [str(name) for name in offered])
        except InvalidResponse as error:
            _logger.warning("Connection %s refused: %s", conn.connection_id, error)
            raise UpstreamFailed(str(error)) from None
        self._remember(conn, response, update_state=True)
        return result

    async def user_event(
        self, conn: UpstreamConnection, event: str, data: bytes, content_type: str
    ) -> Optional[Reply]:
        handler = self._handler_for(conn.hub, event, system=False)
        if handler is None:
            raise UpstreamFailed(f"no event handler subscribes to user event {event!r} of hub {conn.hub!r}")
        response = await self._deliver(
            handler, conn, event, system=False, event_id=conn._next_event_id(),
            content_type=content_type, body=data,
        )
        if not response.succeeded:
            raise UpstreamFailed(f"{event} handler answered {response.status}")
        try:
            reply = parse_reply(response.headers.get("Content-Type"), response.body)
        except InvalidResponse as error:
            _logger.warning("Reply to %s event of %s unusable: %s", event, conn.connection_id, error)
            raise UpstreamFailed(str(error)) from None
        self._remember(conn, response, update_state=True)
        return reply

    async def mqtt_user_event(
        self, conn: UpstreamConnection, event: str, data: bytes, content_type: str, headers: Dict[str, str]
    ) -> Tuple[int, "CIMultiDictProxy[str]", bytes]:
        """An MQTT client's publish to ``$webpubsub/server/events/{event}``: (status, headers, body) of any
        answer, failures included, since MQTT relays those to the client too."""
        handler = self._handler_for(conn.hub, event, system=False)
        if handler is None:
            raise UpstreamFailed(f"no event handler subscribes to user event {event!r} of hub {conn.hub!r}")
        response = await self._deliver(
            handler, conn, event, system=False, event_id=conn._next_event_id(),
            content_type=content_type, body=data, extra_headers=headers,
        )
        if response.succeeded:
            self._remember(conn, response, update_state=True)
        return response.status, response.headers, response.body

    # ----- notifications -------------------------------------------------------------------

    def connected(self, conn: UpstreamConnection) -> None:
        task = self._notify_later(conn, "connected", b"{}", after=None)
        if task is not None:
            conn._connected_task = task

    def disconnected(self, conn: UpstreamConnection, reason: Optional[str]) -> None:
        body: Dict[str, Any] = {"reason": reason}
        if conn.mqtt is not None:
            body["mqtt"] = conn.mqtt.disconnected
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        # Waiting for a still-running connected keeps the handler's view in lifecycle order.
        self._notify_later(conn, "disconnected", payload, after=conn._connected_task)

    def _notify_later(
        self, conn: UpstreamConnection, event: str, payload: bytes, after: Optional["asyncio.Task[None]"]
    ) -> Optional["asyncio.Task[None]"]:
        if self._closing:
            _logger.debug("Upstream closing; %s of %s not sent", event, conn.connection_id)
            return None
        handler = self._handler_for(conn.hub, event, system=True)
        if handler is None:
            return None
        # The id is taken now so ids follow the order in which the core reports events.
        coroutine = self._notify(handler, conn, event, conn._next_event_id(), payload, after)
        return self._spawn(coroutine, f"{event} of {conn.connection_id}")

    async def _notify(
        self,
        handler: EventHandlerSettings,
        conn: UpstreamConnection,
        event: str,
        event_id: int,
        payload: bytes,
        after: Optional["asyncio.Task[None]"],
    ) -> None:
        if after is not None and not after.done():
            await asyncio.wait({after})
        try:
            response = await self._deliver(
                handler, conn, event, system=True, event_id=event_id,
                content_type=SYSTEM_EVENT_CONTENT_TYPE, body=payload,
            )
        except UpstreamFailed as error:
            _logger.warning("%s event of %s failed: %s", event, conn.connection_id, error.reason)
            return
        if response.succeeded:
            self._remember(conn, response, update_state=False)
        else:
            _logger.warning("%s event of %s: handler answered %d", event, conn.connection_id, response.status)

    def _spawn(self, coroutine: Coroutine[Any, Any, None], what: str) -> Optional["asyncio.Task[None]"]:
        try:
            task = asyncio.get_running_loop().create_task(coroutine)
        except RuntimeError:
            coroutine.close()
            _logger.error("%s not sent: no running event loop", what)
            return None
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # ----- HTTP ------------------------------------------------------------------------------

    async def _deliver(
        self,
        handler: EventHandlerSettings,
        conn: UpstreamConnection,
        event: str,
        *,
        system: bool,
        event_id: int,
        content_type: str,
        body: bytes,
        extra_headers: Optional[Dict[str, str]] = None,
    ) -> _HandlerResponse:
        is_connect = system and event == "connect"
        mqtt = conn.mqtt
        headers = event_headers(
            hub=conn.hub,
            connection_id=conn.connection_id,
            event=event,
            system=system,
            event_id=event_id,
            origin=conn.origin,
            content_type=content_type,
            access_keys=self._access_keys,
            user_id=conn.user_id,
            # MQTT connections name their subprotocol on connect too (what the official handlers expect).
            subprotocol=None if is_connect and mqtt is None else conn.subprotocol,
            connection_state=None if is_connect else conn.connection_state,
            physical_connection_id=mqtt.physical_connection_id if mqtt else None,
            session_id=mqtt.session_id if mqtt and not is_connect else None,
        )
        if extra_headers:
            headers.update(extra_headers)
        if conn._cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in conn._cookies.items())
        url = expand_url_template(handler.url_template, conn.hub, event)
        validation_url = expand_url_template(handler.url_template, conn.hub, VALIDATE_EVENT)
        try:
            session = self._session_in_running_loop()
            await self._abuse_protection.ensure_allowed(session, validation_url, conn.origin)
            return await asyncio.wait_for(self._post_with_retries(session, url, headers, body), self._request_timeout)
        except ValidationFailed as error:
            raise UpstreamFailed(error.reason) from None
        except asyncio.TimeoutError:
            _logger.warning("%s event of %s: no answer from %s within %g s", event, conn.connection_id, url,
                            self._request_timeout)
            raise UpstreamFailed(f"{event} handler did not answer within {self._request_timeout:g} s") from None
        except UpstreamFailed:
            raise
        except Exception as error:  # never let a handler problem escape as anything else
            _logger.warning("%s event of %s to %s failed: %r", event, conn.connection_id, url, error)
            raise UpstreamFailed(f"{event} handler request failed: {error!r}") from None

    async def _post_with_retries(
        self, session: aiohttp.ClientSession, url: str, headers: Dict[str, str], body: bytes
    ) -> _HandlerResponse:
        """The same request (same ce-id) is resent after each delay for 408, 5xx and broken connections."""
        for attempt in range(len(self._retry_delays) + 1):
            is_last = attempt == len(self._retry_delays)
            try:
                response = await self._post_once(session, url, headers, body)
            except asyncio.TimeoutError:
                raise UpstreamFailed(f"request to {url} timed out") from None
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as error:
                if is_last:
                    raise UpstreamFailed(f"request to {url} failed: {error!r}") from None
                _logger.info("Request to %s failed (%r); retrying", url, error)
            else:
                if is_last or not _is_retryable_status(response.status):
                    return response
                _logger.info("%s answered %d; retrying", url, response.status)
            await asyncio.sleep(self._retry_delays[attempt])
        raise AssertionError("unreachable: the last attempt always returns or raises")

    async def _post_once(
        self, session: aiohttp.ClientSession, url: str, headers: Dict[str, str], body: bytes
    ) -> _HandlerResponse:
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            if 200 <= response.status < 300:
                content = await self._read_limited(response)
            else:
                content = await _read_prefix(response, _MAX_ERROR_BODY_BYTES)
                _logger.debug("%s answered %d: %r", url, response.status, content[:1024])
            return _HandlerResponse(response.status, response.headers, content, response.cookies)

    async def _read_limited(self, response: aiohttp.ClientResponse) -> bytes:
        too_large = UpstreamFailed(f"handler response is larger than {self._max_reply_bytes} bytes")
        if response.content_length is not None and response.content_length > self._max_reply_bytes:
            raise too_large
        chunks: List[bytes] = []
        received = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            received += len(chunk)
            if received > self._max_reply_bytes:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    def _session_in_running_loop(self) -> aiohttp.ClientSession:
        if self._closed:
            raise UpstreamFailed("the emulator is shutting down")
        if self._session is None or self._session.closed:
            # Cookies are kept per connection, never shared through the session.
            self._session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=None)
            )
        return self._session

    @staticmethod
    def _remember(conn: UpstreamConnection, response: _HandlerResponse, *, update_state: bool) -> None:
        """Keep what a successful answer asks us to send back on the connection's later events."""
        if update_state:
            states = response.headers.getall("ce-connectionState", [])
            if states:
                conn.connection_state = states[-1]
        for name, morsel in response.cookies.items():
            max_age = morsel["max-age"]
            if max_age and re.fullmatch(r"-?[0-9]+", str(max_age)) and int(max_age) <= 0:  # ASCII: int("\u00b2") raises
                conn._cookies.pop(name, None)
            else:
                conn._cookies[name] = morsel.coded_value

    # ----- shutdown --------------------------------------------------------------------------

    async def close(self) -> None:
        """Give pending notifications ``close_grace`` seconds, cancel the rest, close the session."""
        self._closing = True
        pending = set(self._background)
        if pending:
            _done, unfinished = await asyncio.wait(pending, timeout=self._close_grace)
            for task in unfinished:
                task.cancel()
            if unfinished:
                _logger.info("Cancelled %d upstream notification(s) at shutdown", len(unfinished))
                await asyncio.gather(*unfinished, return_exceptions=True)
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_prefix(response: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: List[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(16 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]
