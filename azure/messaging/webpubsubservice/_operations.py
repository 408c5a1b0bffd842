"""Every convenience operation, written once and free of I/O.

An operation turns its arguments into a :class:`Call`: the request to send and the function that reads
the response. The sync and async clients only differ in how they send the request, so they wrap these
functions rather than re-implementing them (see ``_shell.py``).
"""

from __future__ import annotations

import functools
import io
import json
import time
from dataclasses import dataclass
from enum import Enum
from typing import IO, Any, Callable, Dict, Generic, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union, cast
from urllib.parse import quote, urlencode

from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineContext, PipelineResponse
from azure.core.rest import HttpRequest
from typing_extensions import Unpack

from . import _jwt, rest
from ._endpoint import websocket_base
from ._errors import Response, raise_for_status
from ._keywords import CallOptions

T = TypeVar("T")
Options = Dict[str, Any]  # CallOptions as the code that hands them on sees them (subscripted once, not per call)
JSON = Union[Dict[str, Any], List[Any]]
Message = Union[str, bytes, bytearray, memoryview, JSON, IO[str], IO[bytes]]


class WebPubSubPermission(str, Enum):
    """Permissions a connection can be granted for a group."""

    SEND_TO_GROUP = "sendToGroup"
    JOIN_LEAVE_GROUP = "joinLeaveGroup"


_CLIENT_PATHS = {"default": "/client/hubs/", "mqtt": "/clients/mqtt/hubs/", "socketio": "/clients/socketio/hubs/"}
_SERVICE_CLIENT_TYPES = {"default": "Default", "mqtt": "MQTT"}


@dataclass(frozen=True)
class Target:
    """Where operations go: fixed per client."""

    endpoint: str
    hub: Optional[str]
    api_version: str
    access_key: Callable[[], Optional[str]]  # read per call, so credential.update() takes effect at once

    def hub_name(self) -> str:
        if self.hub is None:
            raise ValueError(
                "this client has no hub: pass hub= to WebPubSubServiceClient(endpoint, hub, credential) "
                "or to from_connection_string(), or build a request with azure.messaging.webpubsubservice.rest"
            )
        return self.hub


class Call(Generic[T]):
    """One operation, sans I/O: ``request`` is sent (unless None) and ``interpret`` reads the response.

    ``options`` are the per-call pipeline keywords (timeout, headers, logging_enable, ...).
    """

    __slots__ = ("request", "interpret", "options")

    def __init__(self, request: Optional[HttpRequest], interpret: Callable[[Optional[Response]], T],
                 options: Optional[Dict[str, Any]] = None) -> None:
        self.request = request
        self.interpret = interpret
        self.options: Dict[str, Any] = options if options is not None else {}


def _succeeded(response: Optional[Response]) -> None:
    assert response is not None
    raise_for_status(response)


def _exists(response: Optional[Response]) -> bool:
    assert response is not None
    if response.status_code == 404:
        return False
    raise_for_status(response)
    return True


def encode_message(message: Message, content_type: Optional[str]) -> Tuple[Union[str, bytes], str]:
    """str -> text/plain, dict/list -> JSON, bytes/IO -> octet-stream, unless ``content_type`` says otherwise."""
    if message is None:
        raise ValueError("message is required: pass text, a dict/list (JSON), bytes or a file object")
    if isinstance(message, str):
        return message, content_type or "text/plain"
    if isinstance(message, (bytes, bytearray, memoryview, io.IOBase)) or hasattr(message, "read"):
        content = cast(rest.Content, message)  # hasattr() does not narrow the union for type checkers
        return rest._read(content), content_type or "application/octet-stream"  # pylint: disable=protected-access
    if isinstance(message, (dict, list)) or content_type is None or content_type.startswith("application/json"):
        try:
            body = _jwt.compact_json(message)
        except TypeError as error:
            raise TypeError(f"message of type {type(message).__name__} is not JSON serializable: {error}") from None
        return body.encode("utf-8"), content_type or "application/json"
    raise TypeError(f"cannot send a {type(message).__name__} as {content_type}: pass str or bytes")


def _json_object(response: Optional[Response]) -> Dict[str, Any]:
    assert response is not None
    raise_for_status(response)
    return cast(Options, json.loads(response.content))


def _call(target: Target, request: Optional[HttpRequest], interpret: Callable[[Optional[Response]], T],
          options: CallOptions) -> Call[T]:
    """Completes an operation: the endpoint, and the per-call keywords of generated Azure SDK code.

    ``params`` extend the query, ``error_map`` picks the exception raised for a status code, and
    ``cls(pipeline_response, result, {})`` is returned instead of the result (``None`` for the pipeline
    response when nothing was sent). The other options are for the pipeline.
    """
    per_call = cast(Options, options)
    if request is not None:
        if request.url.startswith("/"):
            request.url = target.endpoint + request.url
        if "params" in per_call:
            request.url += "&" + urlencode(per_call.pop("params"), doseq=True, quote_via=quote)
    if "cls" in per_call or "error_map" in per_call:
        interpret = _as_generated_code(request, interpret, per_call.pop("cls", None), per_call.pop("error_map", None))
    return Call(request, interpret, per_call)


def _as_generated_code(request: Optional[HttpRequest], interpret: Callable[[Optional[Response]], Any],
                       cls: Optional[Callable[..., Any]],
                       error_map: Optional[Mapping[int, type]]) -> Callable[[Optional[Response]], Any]:
    def finish(response: Optional[Response]) -> Any:
        try:
            result = interpret(response)
        except HttpResponseError as error:
            error_type = (error_map or {}).get(error.status_code or 0)
            if error_type is None:
                raise
            raise error_type(response=response) from error
        if cls is None:
            return result
        if request is None or response is None:  # a token signed locally
            return cls(None, result, {})
        return cls(PipelineResponse(request, response, PipelineContext(None)), result, {})

    return finish


def _hub_call(target: Target, interpret: Callable[[Optional[Response]], T], build: Callable[..., HttpRequest],
              *args: Any, options: CallOptions, **arguments: Any) -> Call[T]:
    """The operation whose request ``build`` (a ``rest`` builder) makes for the client's hub and API version."""
    request = build(target.hub_name(), *args, api_version=target.api_version, **arguments)
    return _call(target, request, interpret, options)


def _send(target: Target, build: Callable[..., HttpRequest], *args: Any, message: Message,
          content_type: Optional[str], options: CallOptions, **query: Any) -> Call[None]:
    body, kind = encode_message(message, content_type)
    return _hub_call(target, _succeeded, build, *args, options=options, content=body, content_type=kind, **query)


# --- sending ---------------------------------------------------------------------------------------------


def send_to_all(
    target: Target,
    /,
    message: Message,
    *,
    excluded: Optional[Sequence[str]] = None,
    filter: Optional[str] = None,  # noqa: A002 - the service's parameter name
    message_ttl_seconds: Optional[int] = None,
    content_type: Optional[str] = None,
    **kwargs: Unpack[CallOptions],
) -> Call[None]:
    """Send a message to every connection of the hub.

    :param message: ``str`` (text/plain), ``dict``/``list`` (JSON), ``bytes`` or a binary file
        (application/octet-stream); ``content_type`` overrides the guess.
    :keyword excluded: connection ids that must not receive the message.
    :keyword filter: an OData filter selecting the receivers, e.g. ``"userId ne 'bot'"``.
    :keyword message_ttl_seconds: 0 to 300; a message not delivered in time is dropped (0: never expires).
    """
    return _send(target, rest.build_send_to_all_request, message=message, content_type=content_type,
                 options=kwargs, excluded=excluded, filter=filter, message_ttl_seconds=message_ttl_seconds)


def send_to_group(
    target: Target,
    /,
    group: str,
    message: Message,
    *,
    excluded: Optional[Sequence[str]] = None,
    filter: Optional[str] = None,  # noqa: A002
    message_ttl_seconds: Optional[int] = None,
    content_type: Optional[str] = None,
    **kwargs: Unpack[CallOptions],
) -> Call[None]:
    """Send a message to every connection in ``group`` (same message rules as :meth:`send_to_all`)."""
    return _send(target, rest.build_send_to_group_request, group, message=message, content_type=content_type,
                 options=kwargs, excluded=excluded, filter=filter, message_ttl_seconds=message_ttl_seconds)


def send_to_user(
    target: Target,
    /,
    user_id: str,
    message: Message,
    *,
    filter: Optional[str] = None,  # noqa: A002
    message_ttl_seconds: Optional[int] = None,
    content_type: Optional[str] = None,
    **kwargs: Unpack[CallOptions],
) -> Call[None]:
    """Send a message to every connection of ``user_id`` (same message rules as :meth:`send_to_all`)."""
    return _send(target, rest.build_send_to_user_request, user_id, message=message, content_type=content_type,
                 options=kwargs, filter=filter, message_ttl_seconds=message_ttl_seconds)


def send_to_connection(
    target: Target,
    /,
    connection_id: str,
    message: Message,
    *,
    message_ttl_seconds: Optional[int] = None,
    content_type: Optional[str] = None,
    **kwargs: Unpack[CallOptions],
) -> Call[None]:
    """Send a message to one connection (same message rules as :meth:`send_to_all`)."""
    return _send(target, rest.build_send_to_connection_request, connection_id, message=message,
                 content_type=content_type, options=kwargs, message_ttl_seconds=message_ttl_seconds)


# --- groups ----------------------------------------------------------------------------------------------


def add_connection_to_group(
    target: Target, /, group: str, connection_id: str, **kwargs: Unpack[CallOptions]
) -> Call[None]:
    """Add a connection to a group."""
    return _hub_call(
        target, _succeeded, rest.build_add_connection_to_group_request, group, connection_id, options=kwargs)


def remove_connection_from_group(
    target: Target, /, group: str, connection_id: str, **kwargs: Unpack[CallOptions]
) -> Call[None]:
    """Remove a connection from a group."""
    return _hub_call(
        target, _succeeded, rest.build_remove_connection_from_group_request, group, connection_id, options=kwargs)


def remove_connection_from_all_groups(
    target: Target, /, connection_id: str, **kwargs: Unpack[CallOptions]
) -> Call[None]:
    """Remove a connection from every group it is in (the connection stays open)."""
    return _hub_call(
        target, _succeeded, rest.build_remove_connection_from_all_groups_request, connection_id, options=kwargs)


def add_user_to_group(target: Target, /, group: str, user_id: str, **kwargs: Unpack[CallOptions]) -> Call[None]:
    """Add every current connection of a user to a group (404 ``ResourceNotFoundError`` if none)."""
    return _hub_call(target, _succeeded, rest.build_add_user_to_group_request, group, user_id, options=kwargs)


def remove_user_from_group(target: Target, /, group: str, user_id: str, **kwargs: Unpack[CallOptions]) -> Call[None]:
    """Remove every connection of a user from a group."""
    return _hub_call(target, _succeeded, rest.build_remove_user_from_group_request, group, user_id, options=kwargs)


def remove_user_from_all_groups(target: Target, /, user_id: str, **kwargs: Unpack[CallOptions]) -> Call[None]:
    """Remove every connection of a user from every group."""
    return _hub_call(target, _succeeded, rest.build_remove_user_from_all_groups_request, user_id, options=kwargs)


def _groups_body(
    what: str, body: Optional[Union[Mapping[str, Any], IO[bytes]]], groups: Optional[Sequence[str]],
    filter: Optional[str],  # noqa: A002
) -> Dict[str, Any]:
    if body is not None:
        if groups is not None or filter is not None:
            raise ValueError(f"{what}: pass either the request body or groups=/filter=, not both")
        if isinstance(body, Mapping):
            return dict(body)
        loaded = json.loads(body.read())
        if not isinstance(loaded, dict):
            raise ValueError(f"{what}: the body must be a JSON object with 'groups' and optional 'filter'")
        return loaded
    result: Dict[str, Any] = {"groups": list(groups or [])}
    if filter:
        result["filter"] = filter
    return result


def add_connections_to_groups(
    target: Target,
    /,
    groups_to_add: Optional[Union[Mapping[str, Any], IO[bytes]]] = None,
    *,
    groups: Optional[Sequence[str]] = None,
    filter: Optional[str] = None,  # noqa: A002
    **kwargs: Unpack[CallOptions],
) -> Call[None]:
    """Add the connections matching ``filter`` (all connections when omitted) to every group in ``groups``.

    ``groups_to_add`` accepts the service's body, ``{"groups": [...], "filter": "..."}``, as the official SDK.
    """
    body = _groups_body("add_connections_to_groups", groups_to_add, groups, filter)
    return _hub_call(target, _succeeded, rest.build_add_connections_to_groups_request, json=body, options=kwargs)


def remove_connections_from_groups(
    target: Target,
    /,
    groups_to_remove: Optional[Union[Mapping[str, Any], IO[bytes]]] = None,
    *,
    groups: Optional[Sequence[str]] = None,
    filter: Optional[str] = None,  # noqa: A002
    **kwargs: Unpack[CallOptions],
) -> Call[None]:
    """Remove the connections matching ``filter`` (all when omitted) from every group in ``groups``."""
    body = _groups_body("remove_connections_from_groups", groups_to_remove, groups, filter)
    return _hub_call(target, _succeeded, rest.build_remove_connections_from_groups_request, json=body, options=kwargs)


# --- closing ---------------------------------------------------------------------------------------------


def close_connection(
    target: Target, /, connection_id: str, *, reason: Optional[str] = None, **kwargs: Unpack[CallOptions]
) -> Call[None]:
    """Close one connection; ``reason`` is shown to the client and sent to the ``disconnected`` event."""
    return _hub_call(
        target, _succeeded, rest.build_close_connection_request, connection_id, reason=reason, options=kwargs)


def close_all_connections(
    target: Target, /, *, excluded: Optional[Sequence[str]] = None, reason: Optional[str] = None,
    **kwargs: Unpack[CallOptions],
) -> Call[None]:
    """Close every connection of the hub except ``excluded``."""
    return _hub_call(
        target, _succeeded, rest.build_close_all_connections_request, excluded=excluded, reason=reason, options=kwargs)


def close_group_connections(
    target: Target, /, group: str, *, excluded: Optional[Sequence[str]] = None, reason: Optional[str] = None,
    **kwargs: Unpack[CallOptions],
) -> Call[None]:
    """Close every connection in ``group`` except ``excluded``."""
    return _hub_call(target, _succeeded, rest.build_close_group_connections_request, group,
                     excluded=excluded, reason=reason, options=kwargs)


def close_user_connections(
    target: Target, /, user_id: str, *, excluded: Optional[Sequence[str]] = None, reason: Optional[str] = None,
    **kwargs: Unpack[CallOptions],
) -> Call[None]:
    """Close every connection of ``user_id`` except ``excluded``."""
    return _hub_call(target, _succeeded, rest.build_close_user_connections_request, user_id,
                     excluded=excluded, reason=reason, options=kwargs)


# --- existence checks and permissions ----------------------------------------------------------------------


def connection_exists(target: Target, /, connection_id: str, **kwargs: Unpack[CallOptions]) -> Call[bool]:
    """Whether the connection is currently connected."""
    return _hub_call(target, _exists, rest.build_connection_exists_request, connection_id, options=kwargs)


def group_exists(target: Target, /, group: str, **kwargs: Unpack[CallOptions]) -> Call[bool]:
    """Whether the group has at least one connection."""
    return _hub_call(target, _exists, rest.build_group_exists_request, group, options=kwargs)


def user_exists(target: Target, /, user_id: str, **kwargs: Unpack[CallOptions]) -> Call[bool]:
    """Whether the user has at least one connection."""
    return _hub_call(target, _exists, rest.build_user_exists_request, user_id, options=kwargs)


def grant_permission(
    target: Target, /, permission: Union[WebPubSubPermission, str], connection_id: str, *,
    target_name: Optional[str] = None, **kwargs: Unpack[CallOptions],
) -> Call[None]:
    """Grant ``permission`` for group ``target_name`` to a connection."""
    return _hub_call(target, _succeeded, rest.build_grant_permission_request, permission, connection_id,
                     target_name=target_name, options=kwargs)


def revoke_permission(
    target: Target, /, permission: Union[WebPubSubPermission, str], connection_id: str, *,
    target_name: Optional[str] = None, **kwargs: Unpack[CallOptions],
) -> Call[None]:
    """Revoke ``permission`` for group ``target_name`` from a connection."""
    return _hub_call(target, _succeeded, rest.build_revoke_permission_request, permission, connection_id,
                     target_name=target_name, options=kwargs)


def has_permission(
    target: Target, /, permission: Union[WebPubSubPermission, str], connection_id: str, *,
    target_name: Optional[str] = None, **kwargs: Unpack[CallOptions],
) -> Call[bool]:
    """Whether a connection has ``permission`` for group ``target_name``."""
    return _hub_call(target, _exists, rest.build_check_permission_request, permission, connection_id,
                     target_name=target_name, options=kwargs)


def check_permission(
    target: Target, /, permission: Union[WebPubSubPermission, str], connection_id: str, *,
    target_name: Optional[str] = None, **kwargs: Unpack[CallOptions],
) -> Call[bool]:
    """:meth:`has_permission` under the name of the newest official SDK."""
    return has_permission(target, permission, connection_id, target_name=target_name, **kwargs)


def get_service_status(target: Target, /, **kwargs: Unpack[CallOptions]) -> Call[bool]:
    """Whether the service is healthy (``HEAD /api/health`` answered 2xx)."""

    def healthy(response: Optional[Response]) -> bool:
        assert response is not None
        return 200 <= response.status_code < 300

    return _call(target, rest.build_get_service_status_request(api_version=target.api_version), healthy, kwargs)


# --- paging ----------------------------------------------------------------------------------------------


class GroupMember(Dict[str, Any]):
    """One connection of a group: the service's JSON (``member["connectionId"]``), also readable as
    attributes (``member.connection_id``) like the official SDK's model."""

    @property
    def connection_id(self) -> str:
        return str(self["connectionId"])

    @property
    def user_id(self) -> Optional[str]:
        return self.get("userId")


Page = Tuple[Optional[str], List[Any]]


class Pages:
    """A listing, sans I/O: one :class:`Call` per page, the first request then ``nextLink`` after ``nextLink``.

    As in generated SDK code, ``cls`` is applied to each page's list of items.
    """

    def __init__(self, target: Target, first: HttpRequest, options: CallOptions) -> None:
        self._target = target
        self._first_url = first.url
        self._options = cast(Options, options)
        self._cls: Optional[Callable[[List[GroupMember]], List[Any]]] = self._options.pop("cls", None)

    def page(self, next_link: Optional[str]) -> Call[Page]:
        options = dict(self._options)
        if next_link:
            options.pop("params", None)  # the service's link carries the whole query
        request = HttpRequest("GET", next_link or self._first_url)
        return _call(self._target, request, self._extract, cast(CallOptions, options))

    def _extract(self, response: Optional[Response]) -> Page:
        page = _json_object(response)
        items = [GroupMember(item) for item in page.get("value") or []]
        return page.get("nextLink") or None, self._cls(items) if self._cls else items


def list_connections(
    target: Target, /, *, group: str, top: Optional[int] = None, maxpagesize: Optional[int] = None,
    continuation_token_parameter: Optional[str] = None, **kwargs: Unpack[CallOptions],
) -> Pages:
    """Every connection in ``group`` as a :class:`GroupMember` (``{"connectionId", "userId"}``), page by page.

    :keyword top: stop after this many connections.
    :keyword maxpagesize: connections per page (1 to 200).
    :keyword continuation_token_parameter: start from this token of an earlier listing.
    """
    request = rest.build_list_connections_in_group_request(
        target.hub_name(), group, top=top, maxpagesize=maxpagesize, continuation_token=continuation_token_parameter,
        api_version=target.api_version)
    return Pages(target, request, kwargs)


def list_connections_in_group(
    target: Target, /, group: str, *, top: Optional[int] = None, maxpagesize: Optional[int] = None,
    **kwargs: Unpack[CallOptions],
) -> Pages:
    """:meth:`list_connections` with ``group`` passed by position."""
    return list_connections(target, group=group, top=top, maxpagesize=maxpagesize, **kwargs)


# --- client access tokens ------------------------------------------------------------------------------------


class _TokenShape:
    """Everything about a client token that does not change from call to call, checked and serialized
    once: the URLs and the claims around ``iat``/``exp``."""

    __slots__ = ("base_url", "claims_head", "claims_tail", "service_query")

    def __init__(self, endpoint: str, hub: str, user_id: Optional[str], roles: Optional[Sequence[str]],
                 groups: Optional[Sequence[str]], client_protocol: str) -> None:
        protocol = str(client_protocol or "Default").lower()
        if protocol not in _CLIENT_PATHS:
            raise ValueError(f"client_protocol must be 'Default', 'MQTT' or 'SocketIO', got {client_protocol!r}")
        if user_id is not None and not isinstance(user_id, str):
            raise TypeError(f"user_id must be a str, got {type(user_id).__name__}")
        role_list = rest._strings("roles", roles)  # pylint: disable=protected-access
        group_list = [rest._group(g) for g in rest._strings("groups", groups)]  # pylint: disable=protected-access
        path = _CLIENT_PATHS[protocol] + hub
        self.base_url = websocket_base(endpoint) + path
        self.claims_head = '{"aud":' + _jwt.compact_json(endpoint + path) + ',"iat":'
        extra: Dict[str, Any] = {}
        if user_id is not None:
            extra["sub"] = user_id
        if role_list:
            extra["role"] = role_list
        if group_list:
            extra["webpubsub.group"] = group_list  # for MQTT tokens too, as the other official SDKs write it
        self.claims_tail = ("," + _jwt.compact_json(extra)[1:]) if extra else "}"
        self.service_query = (hub, user_id, role_list, group_list, _SERVICE_CLIENT_TYPES.get(protocol))

    def result(self, token: str) -> Dict[str, str]:
        return {"baseUrl": self.base_url, "token": token, "url": f"{self.base_url}?access_token={token}"}


_cached_token_shape = functools.lru_cache(maxsize=1024)(_TokenShape)


def _token_shape(target: Target, user_id: Optional[str], roles: Optional[Sequence[str]],
                 groups: Optional[Sequence[str]], client_protocol: str) -> _TokenShape:
    endpoint, hub = target.endpoint, target.hub_name()
    try:
        return _cached_token_shape(endpoint, hub, user_id, None if roles is None else tuple(roles),
                                   None if groups is None else tuple(groups), client_protocol)
    except TypeError:  # unhashable arguments: let the checks in _TokenShape explain what is wrong
        return _TokenShape(endpoint, hub, user_id, roles, groups, client_protocol)


def get_client_access_token(
    target: Target,
    /,
    *,
    user_id: Optional[str] = None,
    roles: Optional[Sequence[str]] = None,
    groups: Optional[Sequence[str]] = None,
    minutes_to_expire: int = 60,
    client_protocol: str = "Default",
    jwt_headers: Optional[Mapping[str, Any]] = None,
    **kwargs: Unpack[CallOptions],
) -> Call[Dict[str, str]]:
    """Mint the URL and token a WebSocket client connects with: ``{"baseUrl", "token", "url"}``.

    With an access key the token is signed locally (no network call); with a Microsoft Entra ID credential
    the service's ``:generateToken`` mints it.

    :keyword user_id: the connection's user (``sub`` claim).
    :keyword roles: e.g. ``["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup.room1"]``.
    :keyword groups: groups the connection joins when it connects.
    :keyword minutes_to_expire: token lifetime, at least 1 (default 60).
    :keyword client_protocol: ``"Default"``, ``"MQTT"`` or ``"SocketIO"``.
    :keyword jwt_headers: extra JOSE header fields, e.g. ``{"kid": "..."}`` (access key only).
    """
    shape = _token_shape(target, user_id, roles, groups, client_protocol)
    if type(minutes_to_expire) is not int or minutes_to_expire < 1:  # pylint: disable=unidiomatic-typecheck
        raise ValueError(f"minutes_to_expire must be an integer of at least 1, got {minutes_to_expire!r}")
    key = target.access_key()
    if key is not None:
        now = int(time.time())
        claims = f"{shape.claims_head}{now},\"exp\":{now + minutes_to_expire * 60}{shape.claims_tail}"
        token = _jwt.sign(claims.encode("utf-8"), key, jwt_headers)
        return _call(target, None, lambda _: shape.result(token), kwargs)

    hub, user, role_list, group_list, client_type = shape.service_query
    if client_type is None:
        raise ValueError("SocketIO client tokens need an access key credential (AzureKeyCredential)")
    request = rest.build_generate_client_token_request(
        hub, user_id=user, roles=role_list, minutes_to_expire=minutes_to_expire, groups=group_list,
        client_type=client_type, api_version=target.api_version)

    return _call(target, request, lambda response: shape.result(_json_object(response)["token"]), kwargs)


def generate_client_token(
    target: Target,
    /,
    *,
    user_id: Optional[str] = None,
    role: Optional[Sequence[str]] = None,
    group: Optional[Sequence[str]] = None,
    minutes_to_expire: int = 60,
    client_type: Optional[str] = None,
    **kwargs: Unpack[CallOptions],
) -> Call[Dict[str, Any]]:
    """Have the service mint a client access token, ``{"token": "..."}``, whatever the credential.

    The REST ``:generateToken`` operation under the newest official SDK's name; :meth:`get_client_access_token`
    also returns the URLs and, with an access key, needs no network call.

    :keyword role: roles of the connection, e.g. ``["webpubsub.joinLeaveGroup"]``.
    :keyword group: groups the connection joins when it connects.
    :keyword client_type: ``"Default"`` or ``"MQTT"``.
    """
    request = rest.build_generate_client_token_request(
        target.hub_name(), user_id=user_id, roles=role, minutes_to_expire=minutes_to_expire, groups=group,
        client_type=client_type, api_version=target.api_version)
    return _call(target, request, _json_object, kwargs)
