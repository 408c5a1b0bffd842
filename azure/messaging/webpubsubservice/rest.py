"""Request builders: one function per Web PubSub data-plane REST operation.

Each returns an :class:`azure.core.rest.HttpRequest` with a URL relative to the service endpoint, for
:meth:`WebPubSubServiceClient.send_request` to sign and send::

    >>> build_send_to_all_request("default", json={"Hello": "webpubsub!"})
    <HttpRequest [POST], url: '/api/hubs/default/:send?api-version=2024-12-01'>

Arguments are checked here, so a bad hub name, an empty id or an out-of-range TTL raises ``ValueError``
before anything is sent. Extra keyword arguments (``headers=``, ``params=``) go to ``HttpRequest``.
"""

from __future__ import annotations

import io
from typing import IO, Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union
from urllib.parse import quote, urlencode

from azure.core.rest import HttpRequest

from ._endpoint import require_text, validate_hub

__all__ = [
    "DEFAULT_API_VERSION",
    "build_get_service_status_request",
    "build_add_connections_to_groups_request",
    "build_close_all_connections_request",
    "build_generate_client_token_request",
    "build_remove_connections_from_groups_request",
    "build_send_to_all_request",
    "build_close_connection_request",
    "build_connection_exists_request",
    "build_send_to_connection_request",
    "build_remove_connection_from_all_groups_request",
    "build_group_exists_request",
    "build_close_group_connections_request",
    "build_send_to_group_request",
    "build_list_connections_in_group_request",
    "build_add_connection_to_group_request",
    "build_remove_connection_from_group_request",
    "build_grant_permission_request",
    "build_revoke_permission_request",
    "build_check_permission_request",
    "build_user_exists_request",
    "build_close_user_connections_request",
    "build_send_to_user_request",
    "build_remove_user_from_all_groups_request",
    "build_add_user_to_group_request",
    "build_remove_user_from_group_request",
]

DEFAULT_API_VERSION = "2024-12-01"

Content = Union[str, bytes, bytearray, memoryview, IO[str], IO[bytes]]
_Query = List[Tuple[str, Any]]
PERMISSIONS = ("sendToGroup", "joinLeaveGroup")
_DEFAULT_CONTENT_TYPES = {str: "text/plain", bytes: "application/octet-stream"}


def _segment(value: str) -> str:
    # safe="" so that '/' in a user id or group stays inside its path segment (%2F); a segment of only
    # dots is encoded too, or URL normalisation (urllib3, yarl) would resolve "users/.." to the hub.
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if not encoded.strip(".") else encoded


def _group(group: str) -> str:
    if not isinstance(group, str) or not 1 <= len(group) <= 1024 or group.isspace():
        raise ValueError(f"invalid group name {group!r}: 1 to 1024 characters, not only whitespace")
    return group


def _permission(permission: Any) -> str:
    value = getattr(permission, "value", permission)  # WebPubSubPermission or its string
    if value not in PERMISSIONS:
        raise ValueError(f"invalid permission {permission!r}: expected one of {', '.join(PERMISSIONS)}")
    return str(value)


def _ttl(seconds: Optional[int]) -> Optional[int]:
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= 300):
        raise ValueError(f"message_ttl_seconds must be an integer from 0 to 300, got {seconds!r}")
    return seconds


def _positive(name: str, value: Optional[int], maximum: int = 2147483647) -> Optional[int]:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum):
        raise ValueError(f"{name} must be an integer from 1 to {maximum}, got {value!r}")
    return value


def _strings(name: str, values: Optional[Iterable[str]]) -> List[str]:
    if values is None:
        return []
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, not a single {type(values).__name__}")
    result = list(values)
    for value in result:
        require_text(f"each item of {name}", value)
    return result


def _read(content: Content) -> Union[str, bytes]:
    # File objects are read once here: the message is then retry-safe and a text-mode file is sent as UTF-8.
    if isinstance(content, (str, bytes)):
        return content
    if isinstance(content, (bytearray, memoryview)):
        return bytes(content)
    if isinstance(content, io.IOBase) or hasattr(content, "read"):
        data = content.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    raise TypeError(f"content must be str, bytes or a file object, not {type(content).__name__}")


def _request(
    method: str,
    path: str,
    query: _Query,
    api_version: str,
    *,
    json: Any = None,
    content: Optional[Content] = None,
    content_type: Optional[str] = None,
    **kwargs: Any,
) -> HttpRequest:
    pairs = [(name, value) for name, value in query if value is not None]
    version = "api-version=" + quote(api_version, safe="")
    url = f"{path}?{urlencode(pairs, quote_via=quote)}&{version}" if pairs else f"{path}?{version}"
    headers = kwargs.pop("headers", None) or {}
    if content is not None:
        body = _read(content)
        content_type = content_type or _DEFAULT_CONTENT_TYPES[type(body)]
        if isinstance(body, str):  # azure-core would count characters, not bytes, in Content-Length
            body = body.encode("utf-8")
        return HttpRequest(method, url, content=body, headers={"Content-Type": content_type, **headers}, **kwargs)
    if json is not None:
        if content_type:
            headers = {"Content-Type": content_type, **headers}
        return HttpRequest(method, url, json=json, headers=headers, **kwargs)
    return HttpRequest(method, url, headers=headers, **kwargs)


_hub_paths: Dict[str, str] = {}  # hub -> "/api/hubs/<hub>", checked and encoded once per hub


def _hub_path(hub: str, *segments: str) -> str:
    base = _hub_paths.get(hub) if type(hub) is str else None  # pylint: disable=unidiomatic-typecheck
    if base is None:
        base = "/api/hubs/" + _segment(validate_hub(hub))
        if len(_hub_paths) < 256:
            _hub_paths[hub] = base
    return base + "".join("/" + s for s in segments)


def _excluded(excluded: Optional[Sequence[str]]) -> _Query:
    return [("excluded", connection_id) for connection_id in _strings("excluded", excluded)]


def _message_query(filter: Optional[str], message_ttl_seconds: Optional[int]) -> _Query:  # noqa: A002
    return [("filter", filter or None), ("messageTtlSeconds", _ttl(message_ttl_seconds))]


def _require_body(json: Any, content: Optional[Content], what: str) -> None:
    if json is None and content is None:
        raise ValueError(f"{what} needs a body: pass json= or content=")


# --- service ---------------------------------------------------------------------------------------------


def build_get_service_status_request(*, api_version: str = DEFAULT_API_VERSION, **kwargs: Any) -> HttpRequest:
    """``HEAD /api/health``: 200 when the service is healthy."""
    return _request("HEAD", "/api/health", [], api_version, **kwargs)


# --- hub -------------------------------------------------------------------------------------------------


def build_send_to_all_request(
    hub: str,
    *,
    excluded: Optional[Sequence[str]] = None,
    filter: Optional[str] = None,  # noqa: A002 - the service's parameter name
    message_ttl_seconds: Optional[int] = None,
    json: Any = None,
    content: Optional[Content] = None,
    content_type: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION,
    **kwargs: Any,
) -> HttpRequest:
    """``POST /api/hubs/{hub}/:send``: broadcast a message to every connection of the hub."""
    _require_body(json, content, "send_to_all")
    query = _excluded(excluded) + _message_query(filter, message_ttl_seconds)
    return _request("POST", _hub_path(hub, ":send"), query, api_version,
                    json=json, content=content, content_type=content_type, **kwargs)


def build_close_all_connections_request(
    hub: str,
    *,
    excluded: Optional[Sequence[str]] = None,
    reason: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION,
    **kwargs: Any,
) -> HttpRequest:
    """``POST /api/hubs/{hub}/:closeConnections``."""
    query = _excluded(excluded) + [("reason", reason)]
    return _request("POST", _hub_path(hub, ":closeConnections"), query, api_version, **kwargs)


def build_generate_client_token_request(
    hub: str,
    *,
    user_id: Optional[str] = None,
    roles: Optional[Sequence[str]] = None,
    minutes_to_expire: Optional[int] = None,
    groups: Optional[Sequence[str]] = None,
    client_type: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION,
    **kwargs: Any,
) -> HttpRequest:
    """``POST /api/hubs/{hub}/:generateToken``: the service mints a client access token (``{"token": ...}``)."""
    query: _Query = [("userId", user_id), ("minutesToExpire", _positive("minutes_to_expire", minutes_to_expire))]
    query += [("role", role) for role in _strings("roles", roles)]
    query += [("group", _group(group)) for group in _strings("groups", groups)]
    query.append(("clientType", client_type))
    return _request("POST", _hub_path(hub, ":generateToken"), query, api_version, **kwargs)


def _build_bulk_groups_request(
    action: str, hub: str, json: Any, content: Optional[Content], content_type: Optional[str],
    api_version: str, **kwargs: Any,
) -> HttpRequest:
    _require_body(json, content, action)
    if json is not None:
        groups = json.get("groups") if isinstance(json, dict) else None
        if not groups:
            raise ValueError(f"{action} needs a non-empty 'groups' list, e.g. {{'groups': ['room1'], 'filter': ...}}")
        for group in _strings("groups", groups):
            _group(group)
    return _request("POST", _hub_path(hub, action), [], api_version,
                    json=json, content=content, content_type=content_type or "application/json", **kwargs)


def build_add_connections_to_groups_request(
    hub: str,
    *,
    json: Any = None,
    content: Optional[Content] = None,
    content_type: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION,
    **kwargs: Any,
) -> HttpRequest:
    """``POST /api/hubs/{hub}/:addToGroups`` with body ``{"groups": [...], "filter": "<OData>"}``."""
    return _build_bulk_groups_request(":addToGroups", hub, json, content, content_type, api_version, **kwargs)


def build_remove_connections_from_groups_request(
    hub: str,
    *,
    json: Any = None,
    content: Optional[Content] = None,
    content_type: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION,
    **kwargs: Any,
) -> HttpRequest:
    """``POST /api/hubs/{hub}/:removeFromGroups`` with body ``{"groups": [...], "filter": "<OData>"}``."""
    return _build_bulk_groups_request(":removeFromGroups", hub, json, content, content_type, api_version, **kwargs)


# --- connections -------------------------------------------------------------------------------------------


def _connection_path(hub: str, connection_id: str, *rest: str) -> str:
    return _hub_path(hub, "connections", _segment(require_text("connection_id", connection_id)), *rest)


def build_close_connection_request(
    hub: str, connection_id: str, *, reason: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION, **kwargs: Any,
) -> HttpRequest:
    """``DELETE /api/hubs/{hub}/connections/{connectionId}``."""
    return _request("DELETE", _connection_path(hub, connection_id), [("reason", reason)], api_version, **kwargs)


def build_connection_exists_request(
    hub: str, connection_id: str, *, api_version: str = DEFAULT_API_VERSION, **kwargs: Any
) -> HttpRequest:
    """``HEAD /api/hubs/{hub}/connections/{connectionId}``: 200 if connected, 404 if not."""
    return _request("HEAD", _connection_path(hub, connection_id), [], api_version, **kwargs)


def build_send_to_connection_request(
    hub: str,
    connection_id: str,
    *,
    message_ttl_seconds: Optional[int] = None,
    json: Any = None,
    content: Optional[Content] = None,
    content_type: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION,
    **kwargs: Any,
) -> HttpRequest:
    """``POST /api/hubs/{hub}/connections/{connectionId}/:send``."""
    _require_body(json, content, "send_to_connection")
    query: _Query = [("messageTtlSeconds", _ttl(message_ttl_seconds))]
    return _request("POST", _connection_path(hub, connection_id, ":send"), query, api_version,
                    json=json, content=content, content_type=content_type, **kwargs)


def build_remove_connection_from_all_groups_request(
    hub: str, connection_id: str, *, api_version: str = DEFAULT_API_VERSION, **kwargs: Any
) -> HttpRequest:
    """``DELETE /api/hubs/{hub}/connections/{connectionId}/groups``."""
    return _request("DELETE", _connection_path(hub, connection_id, "groups"), [], api_version, **kwargs)


# --- groups ----------------------------------------------------------------------------------------------


def _group_path(hub: str, group: str, *rest: str) -> str:
    return _hub_path(hub, "groups", _segment(_group(group)), *rest)


def build_group_exists_request(
    hub: str, group: str, *, api_version: str = DEFAULT_API_VERSION, **kwargs: Any
) -> HttpRequest:
    """``HEAD /api/hubs/{hub}/groups/{group}``: 200 if the group has a connection, 404 if not."""
    return _request("HEAD", _group_path(hub, group), [], api_version, **kwargs)


def build_close_group_connections_request(
    hub: str, group: str, *, excluded: Optional[Sequence[str]] = None, reason: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION, **kwargs: Any,
) -> HttpRequest:
    """``POST /api/hubs/{hub}/groups/{group}/:closeConnections``."""
    query = _excluded(excluded) + [("reason", reason)]
    return _request("POST", _group_path(hub, group, ":closeConnections"), query, api_version, **kwargs)


def build_send_to_group_request(
    hub: str,
    group: str,
    *,
    excluded: Optional[Sequence[str]] = None,
    filter: Optional[str] = None,  # noqa: A002
    message_ttl_seconds: Optional[int] = None,
    json: Any = None,
    content: Optional[Content] = None,
    content_type: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION,
    **kwargs: Any,
) -> HttpRequest:
    """``POST /api/hubs/{hub}/groups/{group}/:send``."""
    _require_body(json, content, "send_to_group")
    query = _excluded(excluded) + _message_query(filter, message_ttl_seconds)
    return _request("POST", _group_path(hub, group, ":send"), query, api_version,
                    json=json, content=content, content_type=content_type, **kwargs)


def build_list_connections_in_group_request(
    hub: str, group: str, *, maxpagesize: Optional[int] = None, top: Optional[int] = None,
    continuation_token: Optional[str] = None, api_version: str = DEFAULT_API_VERSION, **kwargs: Any,
) -> HttpRequest:
    """``GET /api/hubs/{hub}/groups/{group}/connections``: one page of ``{"value": [...], "nextLink": ...}``."""
    query: _Query = [("maxpagesize", _positive("maxpagesize", maxpagesize, 200)), ("top", _positive("top", top)),
                     ("continuationToken", continuation_token)]
    return _request("GET", _group_path(hub, group, "connections"), query, api_version, **kwargs)


def build_add_connection_to_group_request(
    hub: str, group: str, connection_id: str, *, api_version: str = DEFAULT_API_VERSION, **kwargs: Any
) -> HttpRequest:
    """``PUT /api/hubs/{hub}/groups/{group}/connections/{connectionId}``."""
    path = _group_path(hub, group, "connections", _segment(require_text("connection_id", connection_id)))
    return _request("PUT", path, [], api_version, **kwargs)


def build_remove_connection_from_group_request(
    hub: str, group: str, connection_id: str, *, api_version: str = DEFAULT_API_VERSION, **kwargs: Any
) -> HttpRequest:
    """``DELETE /api/hubs/{hub}/groups/{group}/connections/{connectionId}``."""
    path = _group_path(hub, group, "connections", _segment(require_text("connection_id", connection_id)))
    return _request("DELETE", path, [], api_version, **kwargs)


# --- permissions -------------------------------------------------------------------------------------------


def _permission_request(
    method: str, hub: str, permission: Any, connection_id: str, target_name: Optional[str],
    api_version: str, **kwargs: Any,
) -> HttpRequest:
    path = _hub_path(hub, "permissions", _permission(permission), "connections",
                     _segment(require_text("connection_id", connection_id)))
    return _request(method, path, [("targetName", target_name)], api_version, **kwargs)


def build_grant_permission_request(
    hub: str, permission: str, connection_id: str, *, target_name: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION, **kwargs: Any,
) -> HttpRequest:
    """``PUT /api/hubs/{hub}/permissions/{permission}/connections/{connectionId}?targetName=<group>``."""
    return _permission_request("PUT", hub, permission, connection_id, target_name, api_version, **kwargs)


def build_revoke_permission_request(
    hub: str, permission: str, connection_id: str, *, target_name: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION, **kwargs: Any,
) -> HttpRequest:
    """``DELETE /api/hubs/{hub}/permissions/{permission}/connections/{connectionId}?targetName=<group>``."""
    return _permission_request("DELETE", hub, permission, connection_id, target_name, api_version, **kwargs)


def build_check_permission_request(
    hub: str, permission: str, connection_id: str, *, target_name: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION, **kwargs: Any,
) -> HttpRequest:
    """``HEAD /api/hubs/{hub}/permissions/{permission}/connections/{connectionId}``: 200 allowed, 404 not."""
    return _permission_request("HEAD", hub, permission, connection_id, target_name, api_version, **kwargs)


# --- users -----------------------------------------------------------------------------------------------


def _user_path(hub: str, user_id: str, *rest: str) -> str:
    return _hub_path(hub, "users", _segment(require_text("user_id", user_id)), *rest)


def build_user_exists_request(
    hub: str, user_id: str, *, api_version: str = DEFAULT_API_VERSION, **kwargs: Any
) -> HttpRequest:
    """``HEAD /api/hubs/{hub}/users/{userId}``: 200 if the user has a connection, 404 if not."""
    return _request("HEAD", _user_path(hub, user_id), [], api_version, **kwargs)


def build_close_user_connections_request(
    hub: str, user_id: str, *, excluded: Optional[Sequence[str]] = None, reason: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION, **kwargs: Any,
) -> HttpRequest:
    """``POST /api/hubs/{hub}/users/{userId}/:closeConnections``."""
    query = _excluded(excluded) + [("reason", reason)]
    return _request("POST", _user_path(hub, user_id, ":closeConnections"), query, api_version, **kwargs)


def build_send_to_user_request(
    hub: str,
    user_id: str,
    *,
    filter: Optional[str] = None,  # noqa: A002
    message_ttl_seconds: Optional[int] = None,
    json: Any = None,
    content: Optional[Content] = None,
    content_type: Optional[str] = None,
    api_version: str = DEFAULT_API_VERSION,
    **kwargs: Any,
) -> HttpRequest:
    """``POST /api/hubs/{hub}/users/{userId}/:send``."""
    _require_body(json, content, "send_to_user")
    return _request("POST", _user_path(hub, user_id, ":send"), _message_query(filter, message_ttl_seconds),
                    api_version, json=json, content=content, content_type=content_type, **kwargs)


def build_remove_user_from_all_groups_request(
    hub: str, user_id: str, *, api_version: str = DEFAULT_API_VERSION, **kwargs: Any
) -> HttpRequest:
    """``DELETE /api/hubs/{hub}/users/{userId}/groups``."""
    return _request("DELETE", _user_path(hub, user_id, "groups"), [], api_version, **kwargs)


def build_add_user_to_group_request(
    hub: str, group: str, user_id: str, *, api_version: str = DEFAULT_API_VERSION, **kwargs: Any
) -> HttpRequest:
    """``PUT /api/hubs/{hub}/users/{userId}/groups/{group}``."""
    path = _user_path(hub, user_id, "groups", _segment(_group(group)))
    return _request("PUT", path, [], api_version, **kwargs)


def build_remove_user_from_group_request(
    hub: str, group: str, user_id: str, *, api_version: str = DEFAULT_API_VERSION, **kwargs: Any
) -> HttpRequest:
    """``DELETE /api/hubs/{hub}/users/{userId}/groups/{group}``."""
    path = _user_path(hub, user_id, "groups", _segment(_group(group)))
    return _request("DELETE", path, [], api_version, **kwargs)
