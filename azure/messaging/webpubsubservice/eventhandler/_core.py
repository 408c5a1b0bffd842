"""The sans-IO event handler: (method, path, headers, body) in, HandlerResponse out.

It knows nothing of servers: the ASGI and WSGI adapters build on it, and ``WebPubSubEventHandler``
(in ``__init__``) joins the three.

Parsing and checking happen in ``_prepare``, which either answers at once or returns a ``_Dispatch``
naming the user callback to run. ``handle`` and ``handle_async`` differ only in how they run it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple, Union

from ._keys import AccessKeyRing, AccessKeys, signature_matches
from ._models import (
    ConnectedRequest,
    ConnectRequest,
    ConnectResponse,
    DisconnectedRequest,
    EventHandlerError,
    HandlerResponse,
    UserEventRequest,
    UserEventResponse,
)
from ._origins import AllowedOrigins, OriginPolicy, split_origin_header
from ._parsing import (
    PROTOBUF,
    SYSTEM_TYPE_PREFIX,
    TYPE_PREFIX,
    USER_TYPE_PREFIX,
    Headers,
    MalformedEvent,
    build_context,
    missing_cloud_event_headers,
    normalise_headers,
    parse_connect,
    parse_connected,
    parse_disconnected,
    parse_user_event,
)
from ._state import encode_states

LOGGER = logging.getLogger("azure.messaging.webpubsubservice.eventhandler")
DEFAULT_MAX_BODY_SIZE = 1024 * 1024

ConnectCallback = Callable[[ConnectRequest], Union[Optional[ConnectResponse], Awaitable[Optional[ConnectResponse]]]]
UserEventCallback = Callable[
    [UserEventRequest], Union[Optional[UserEventResponse], Awaitable[Optional[UserEventResponse]]]
]
ConnectedCallback = Callable[[ConnectedRequest], Union[None, Awaitable[None]]]
DisconnectedCallback = Callable[[DisconnectedRequest], Union[None, Awaitable[None]]]

_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json; charset=utf-8"
_BINARY = "application/octet-stream"
_STATE_HEADER = "ce-connectionState"


@dataclass
class _Dispatch:
    callback_name: str
    callback: Callable[[Any], Any]
    request: Any
    reply: Callable[[Any, Any], HandlerResponse]  # (request, what the callback returned) -> the answer


class EventHandlerCore:
    """Answers Web PubSub's CloudEvents requests for one hub and calls your callbacks.

    :param hub: the hub whose events this handler accepts (compared case-insensitively).
    :keyword path: URL path of the handler; sub-paths match too, so URL templates like
        ``/eventhandler/{event}`` work. Default ``/eventhandler``.
    :keyword allowed_origins: host names allowed by the abuse-protection handshake, or ``"*"``.
        Defaults to the host of the connection string's ``Endpoint``.
    :keyword access_keys: keys that sign events: a connection string, an ``AzureKeyCredential``, or a
        list of keys/credentials (list primary and secondary to survive rotation). ``None`` turns
        signature checks off, which lets anyone who can reach the handler forge events.
    :keyword on_connect: ``ConnectRequest -> ConnectResponse | None``; raise ``EventHandlerError`` to refuse.
    :keyword on_user_event: ``UserEventRequest -> UserEventResponse | None``; may raise ``EventHandlerError``.
    :keyword on_connected: ``ConnectedRequest -> None``.
    :keyword on_disconnected: ``DisconnectedRequest -> None``.
    :keyword max_body_size: largest request body accepted, in bytes (larger -> 413). Default 1 MiB.

    Callbacks may be plain functions or coroutine functions.
    """

    def __init__(
        self,
        hub: str,
        *,
        path: str = "/eventhandler",
        allowed_origins: AllowedOrigins = None,
        access_keys: AccessKeys = None,
        on_connect: Optional[ConnectCallback] = None,
        on_connected: Optional[ConnectedCallback] = None,
        on_user_event: Optional[UserEventCallback] = None,
        on_disconnected: Optional[DisconnectedCallback] = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        if not hub:
            raise ValueError("hub must be a non-empty hub name")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        if max_body_size < 1:
            raise ValueError("max_body_size must be positive")
        self.hub = hub
        self.path = path
        self.max_body_size = max_body_size
        self._keys = AccessKeyRing(access_keys)
        self._origins = OriginPolicy(allowed_origins, self._keys.endpoint)
        self._on_connect = on_connect
        self._on_connected = on_connected
        self._on_user_event = on_user_event
        self._on_disconnected = on_disconnected
        if not self._keys:
            LOGGER.warning("No access keys configured for hub %r: event signatures will not be verified", hub)

    def matches(self, path: str) -> bool:
        """Whether a request path (query string ignored) belongs to this handler."""
        request_path = path.split("?", 1)[0]
        base = self.path.rstrip("/")
        return request_path.rstrip("/") == base or request_path.startswith(base + "/")

    def handle(self, method: str, path: str, headers: Headers, body: bytes) -> HandlerResponse:
        """Answer one request, running callbacks in this thread (coroutines via ``asyncio.run``)."""
        step = self._prepare(method, path, headers, body)
        if isinstance(step, HandlerResponse):
            return step
        try:
            result = step.callback(step.request)
            if inspect.isawaitable(result):
                result = _run_in_fresh_loop(result, step.callback_name)
        except Exception as error:  # pylint: disable=broad-except
            return _callback_failed(step, error)
        return step.reply(step.request, result)

    async def handle_async(self, method: str, path: str, headers: Headers, body: bytes) -> HandlerResponse:
        """Answer one request. Coroutine callbacks are awaited on the running loop; plain functions run
        in a worker thread so blocking work (e.g. the sync service client) does not stall the loop."""
        step = self._prepare(method, path, headers, body)
        if isinstance(step, HandlerResponse):
            return step
        try:
            if _is_coroutine_callable(step.callback):
                result = await step.callback(step.request)
            else:
                result = await asyncio.to_thread(step.callback, step.request)
                if inspect.isawaitable(result):
                    result = await result
        except Exception as error:  # pylint: disable=broad-except
            return _callback_failed(step, error)
        return step.reply(step.request, result)

    def _prepare(self, method: str, path: str, headers: Headers, body: bytes) -> Union[HandlerResponse, _Dispatch]:
        if not self.matches(path):
            return text_response(404, f"{path} is not the event handler path {self.path}")
        normalised = normalise_headers(headers)
        verb = method.upper()
        if verb == "OPTIONS":
            return self._handshake(normalised.get("webhook-request-origin"))
        if verb != "POST":
            return _refused(405, f"method {verb} is not allowed; use OPTIONS or POST", (("Allow", "OPTIONS, POST"),))
        if len(body) > self.max_body_size:
            return body_too_large_response(self.max_body_size)
        return self._prepare_event(normalised, body)

    def _handshake(self, origin_header: Optional[str]) -> HandlerResponse:
        requested = split_origin_header(origin_header)
        if not requested:
            return _refused(400, "WebHook-Request-Origin header is missing")
        refused = self._origins.refused_origins(requested)
        if refused:
            return _refused(400, f"origin not allowed: {', '.join(refused)}")
        if self._origins.allow_any:
            return HandlerResponse(200, (("WebHook-Allowed-Origin", "*"),))
        # One header line per origin: the service expects single values, not a comma list.
        return HandlerResponse(200, tuple(("WebHook-Allowed-Origin", origin) for origin in requested))

    def _prepare_event(self, headers: Dict[str, str], body: bytes) -> Union[HandlerResponse, _Dispatch]:
        missing = missing_cloud_event_headers(headers)
        if missing:
            return _refused(400, f"not a Web PubSub CloudEvents request: missing {', '.join(missing)}")
        event_type = headers["ce-type"].lower()
        if not event_type.startswith(TYPE_PREFIX):
            return _refused(400, f"unknown event type {headers['ce-type']!r}")
        if self._keys and not signature_matches(
            headers.get("ce-signature"), headers["ce-connectionid"], self._keys.current_keys()
        ):
            return _refused(401, "ce-signature is missing or does not match any access key")
        if headers["ce-hub"].lower() != self.hub.lower():
            return _refused(400, f"event for hub {headers['ce-hub']!r} sent to the handler of hub {self.hub!r}")
        try:
            return self._dispatch(event_type, headers, body)
        except MalformedEvent as error:
            return _refused(400, str(error))

    def _dispatch(self, event_type: str, headers: Dict[str, str], body: bytes) -> Union[HandlerResponse, _Dispatch]:
        context = build_context(headers)
        if event_type.startswith(USER_TYPE_PREFIX):
            name, request = "user_event", parse_user_event(context, headers.get("content-type", ""), body)
        else:
            name = event_type[len(SYSTEM_TYPE_PREFIX) :] if event_type.startswith(SYSTEM_TYPE_PREFIX) else ""
            if name not in _SYSTEM_EVENT_PARSERS:
                raise MalformedEvent(f"unknown event type {headers['ce-type']!r}")
            request = _SYSTEM_EVENT_PARSERS[name](context, body)
        callback = getattr(self, "_on_" + name)
        if callback is None:  # answered as if a callback had returned None
            return _REPLIES[name](request, None)
        return _Dispatch("on_" + name, callback, request, _REPLIES[name])


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _run_in_fresh_loop(awaitable: Awaitable[Any], callback_name: str) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(awaitable))
    if inspect.iscoroutine(awaitable):
        awaitable.close()  # never awaited on purpose; closing avoids a "never awaited" warning
    raise RuntimeError(
        f"{callback_name} is a coroutine but handle() was called inside a running event loop; "
        "use handle_async() there"
    )


def _is_coroutine_callable(callback: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(getattr(callback, "__call__", None))


def text_response(status: int, text: str, extra_headers: Tuple[Tuple[str, str], ...] = ()) -> HandlerResponse:
    return HandlerResponse(status, (("Content-Type", _TEXT),) + extra_headers, text.encode("utf-8"))


def _refused(status: int, reason: str, extra_headers: Tuple[Tuple[str, str], ...] = ()) -> HandlerResponse:
    LOGGER.warning("Refused event handler request with %d: %s", status, reason)
    return text_response(status, reason, extra_headers)


def body_too_large_response(limit: int) -> HandlerResponse:
    return _refused(413, f"request body is larger than {limit} bytes")


def _server_error(message: str) -> HandlerResponse:
    LOGGER.error("%s", message)
    return text_response(500, message)


def _callback_failed(step: _Dispatch, error: Exception) -> HandlerResponse:
    context = step.request.context
    if isinstance(error, EventHandlerError):
        LOGGER.info(
            "%s refused %s of connection %s: %d %s",
            step.callback_name,
            context.event_name,
            context.connection_id,
            error.status_code,
            error.reason,
        )
        mqtt = getattr(step.request, "mqtt", None) if step.callback_name == "on_connect" else None
        if mqtt is not None:
            return _mqtt_refusal(error, mqtt.protocol_version)
        return text_response(error.status_code, error.reason)
    # The exception text may hold internals, so it goes to the log and not to the service.
    LOGGER.exception("%s raised for %s of connection %s", step.callback_name, context.event_name, context.connection_id)
    return text_response(500, f"{step.callback_name} failed")


# CONNACK codes for a refusal without an explicit mqtt_code: {status: (MQTT 3.1.1 code, MQTT 5.0 code)}.
_MQTT_REFUSAL_CODES = {400: (4, 0x86), 401: (5, 0x87), 403: (5, 0x87), 500: (3, 0x88)}


def _mqtt_refusal(error: EventHandlerError, protocol_version: int) -> HandlerResponse:
    """An MQTT client is refused with a CONNACK code, which the service reads from the JSON body."""
    code = error.mqtt_code or _MQTT_REFUSAL_CODES[error.status_code][protocol_version == 5]
    mqtt: Dict[str, Any] = {"code": code}
    if error.reason:
        mqtt["reason"] = error.reason
    if error.mqtt_user_properties:
        mqtt["userProperties"] = _user_properties_json(error.mqtt_user_properties)
    body = json.dumps({"mqtt": mqtt}, separators=(",", ":")).encode("utf-8")
    return HandlerResponse(error.status_code, (("Content-Type", _JSON),), body)


def _user_properties_json(pairs: Any) -> Any:
    return [{"name": str(name), "value": str(value)} for name, value in pairs]


def _state_headers(context: Any) -> Tuple[Tuple[str, str], ...]:
    if not context.states_changed:
        return ()
    return ((_STATE_HEADER, encode_states(context.states)),)


def _no_content(context: Any) -> HandlerResponse:
    return HandlerResponse(204, _state_headers(context))


def _connect_reply(request: ConnectRequest, result: Any) -> HandlerResponse:
    if result is None:
        return _no_content(request.context)
    if not isinstance(result, ConnectResponse):
        return _server_error(f"on_connect must return ConnectResponse or None, not {type(result).__name__}")
    document: Dict[str, Any] = {}
    if result.user_id is not None:
        document["userId"] = result.user_id
    for name, values in (("groups", result.groups), ("roles", result.roles)):
        if values is not None:
            if isinstance(values, str) or not all(isinstance(value, str) for value in values):
                return _server_error(f"on_connect returned {name} that is not a list of strings")
            document[name] = list(values)
    if result.subprotocol is not None:
        if result.subprotocol not in request.subprotocols:
            return _server_error(
                f"on_connect chose subprotocol {result.subprotocol!r} that the client did not offer "
                f"({request.subprotocols})"
            )
        document["subprotocol"] = result.subprotocol
    if result.mqtt_user_properties:
        document["mqtt"] = {"userProperties": _user_properties_json(result.mqtt_user_properties)}
    if not document:
        return _no_content(request.context)
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return HandlerResponse(200, (("Content-Type", _JSON),) + _state_headers(request.context), body)


def _user_event_reply(request: UserEventRequest, result: Any) -> HandlerResponse:
    if result is None:
        return _no_content(request.context)
    if not isinstance(result, UserEventResponse):
        return _server_error(f"on_user_event must return UserEventResponse or None, not {type(result).__name__}")
    data_type = result.resolved_data_type()
    if data_type == "text":
        if not isinstance(result.data, str):
            return _server_error("on_user_event returned text data that is not a str")
        content_type, body = _TEXT, result.data.encode("utf-8")
    elif data_type in ("binary", "protobuf"):
        if not isinstance(result.data, (bytes, bytearray, memoryview)):
            return _server_error(f"on_user_event returned {data_type} data that is not bytes")
        content_type, body = _BINARY if data_type == "binary" else PROTOBUF, bytes(result.data)
    else:
        try:
            body = json.dumps(result.data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as error:
            return _server_error(f"on_user_event returned data that is not JSON-serialisable: {error}")
        content_type = _JSON
    mqtt_headers = tuple(("mqtt-" + name, value) for name, value in result.mqtt_user_properties or ())
    return HandlerResponse(200, (("Content-Type", content_type),) + mqtt_headers + _state_headers(request.context), body)


def _notification_handled(request: Union[ConnectedRequest, DisconnectedRequest], result: Any) -> HandlerResponse:
    if request.context.states_changed:
        LOGGER.warning(
            "State set while handling %s is ignored: only connect and user events can change state",
            request.context.event_name,
        )
    return HandlerResponse(200)


_SYSTEM_EVENT_PARSERS: Dict[str, Callable[[Any, bytes], Any]] = {
    "connect": parse_connect, "connected": parse_connected, "disconnected": parse_disconnected}
_REPLIES: Dict[str, Callable[[Any, Any], HandlerResponse]] = {
    "connect": _connect_reply, "user_event": _user_event_reply,
    "connected": _notification_handled, "disconnected": _notification_handled}
