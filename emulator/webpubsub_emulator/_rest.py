"""The data-plane REST API (`/api/...`), all operations of api-version 2024-12-01.

Routing happens on the raw path so that an encoded slash (`%2F`) inside an id stays part of the id;
each segment is then percent-decoded exactly once.
"""
from __future__ import annotations

import base64
import binascii
import time
from typing import Awaitable, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote, unquote

from aiohttp import web

from . import _jwt
from ._connection import Connection
from ._core import EmulatorCore
from ._filter import FilterError, compile_filter
from ._http import request_body
from ._hub import ConnectionPredicate, Hub
from ._limits import MAX_GROUPS_PER_BULK_REQUEST
from ._messages import BINARY, JSON, KINDS_BY_MEDIA_TYPE, PROTOBUF, OutboundMessage, media_type, strict_loads
from ._permissions import PERMISSIONS, TooManyRules
from ._rest_support import (REST_SINGLE_VALUED, RestError, authenticate_rest, bad_request, empty_response,
                            error_response, excluded_ids, int_query, is_valid_group, json_response, optional_query,
                            parse_integer, repeated_parameter, request_base_url, unauthorized_response,
                            validate_group, validate_hub, validate_id)
from . import _service_errors as errors

DEFAULT_CLOSE_REASON = "Closed by REST API."
MAX_PAGE_SIZE = 200
_CONTENT_KINDS = {media_type: kind for media_type, kind in KINDS_BY_MEDIA_TYPE.items() if kind != PROTOBUF}

Handler = Callable[[web.Request, Hub, List[str]], Awaitable[web.Response]]


class RestApi:
    def __init__(self, core: EmulatorCore) -> None:
        self.core = core
        # (method, shape) -> handler; shape is the path after /api/hubs/{hub} with {} for variable parts
        self._routes: Dict[Tuple[str, Tuple[str, ...]], Handler] = {
            ("POST", (":send",)): self.send_to_all,
            ("POST", (":closeConnections",)): self.close_all,
            ("POST", (":generateToken",)): self.generate_token,
            ("POST", (":addToGroups",)): self.add_to_groups,
            ("POST", (":removeFromGroups",)): self.remove_from_groups,
            ("HEAD", ("connections", "{}")): self.connection_exists,
            ("DELETE", ("connections", "{}")): self.close_connection,
            ("POST", ("connections", "{}", ":send")): self.send_to_connection,
            ("DELETE", ("connections", "{}", "groups")): self.remove_connection_from_all_groups,
            ("HEAD", ("users", "{}")): self.user_exists,
            ("POST", ("users", "{}", ":send")): self.send_to_user,
            ("POST", ("users", "{}", ":closeConnections")): self.close_user,
            ("DELETE", ("users", "{}", "groups")): self.remove_user_from_all_groups,
            ("PUT", ("users", "{}", "groups", "{}")): self.add_user_to_group,
            ("DELETE", ("users", "{}", "groups", "{}")): self.remove_user_from_group,
            ("HEAD", ("groups", "{}")): self.group_exists,
            ("POST", ("groups", "{}", ":send")): self.send_to_group,
            ("POST", ("groups", "{}", ":closeConnections")): self.close_group,
            ("GET", ("groups", "{}", "connections")): self.list_group_connections,
            ("PUT", ("groups", "{}", "connections", "{}")): self.add_connection_to_group,
            ("DELETE", ("groups", "{}", "connections", "{}")): self.remove_connection_from_group,
            ("PUT", ("permissions", "{}", "connections", "{}")): self.grant_permission,
            ("DELETE", ("permissions", "{}", "connections", "{}")): self.revoke_permission,
            ("HEAD", ("permissions", "{}", "connections", "{}")): self.check_permission,
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Route on the raw path. The HTTP layer has read the body already, so no handler waits on the
        client: the hub looked up here cannot be forgotten while a handler uses it."""
        head = request.method == "HEAD"
        raw_path = request.raw_path.split("?", 1)[0]
        segments = raw_path.split("/")[2:]  # drop "" and "api"
        if segments == ["health"] and head:
            return empty_response(200)
        if not authenticate_rest(request, self.core.access_keys,
                                 allow_entra=self.core.settings.allow_unvalidated_entra_tokens):
            return unauthorized_response()
        try:
            repeated = repeated_parameter(request, REST_SINGLE_VALUED)
            if repeated is not None:
                bad_request(f"The query parameter '{repeated}' must not be repeated.", repeated)
            if len(segments) < 3 or segments[0] != "hubs":
                raise errors.no_operation(raw_path)
            hub_name = validate_hub(unquote(segments[1]))
            rest = segments[2:]
            shape = tuple(part if index % 2 == 0 or part.startswith(":") else "{}"
                          for index, part in enumerate(rest))
            handler = self._routes.get((request.method, shape))
            if handler is None:
                allowed = [method for method, known in self._routes if known == shape]
                if allowed:
                    raise errors.method_not_allowed(request.method, raw_path, allowed)
                raise errors.no_operation(raw_path)
            args = [unquote(part) for index, part in enumerate(rest) if shape[index] == "{}"]
            # Unknown hubs are not created (each name ever sent would stay in memory): an empty stand-in answers.
            hub = self.core.find_hub(hub_name) or Hub(hub_name)
            return await handler(request, hub, args)
        except RestError as error:
            return error_response(error, head=head)

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _filter(text: Optional[str], target: str = "filter") -> Optional[ConnectionPredicate]:
        """`target` names the filter as the service does: `filter` (query) or `Filter` (body property)."""
        if text is None or not text.strip():
            return None
        try:
            return compile_filter(text)
        except FilterError as error:
            raise errors.invalid_filter(str(error), target) from None

    async def _message(self, request: web.Request, group: Optional[str] = None) -> OutboundMessage:
        ttl = int_query(request, "messageTtlSeconds", 0, 300) or 0
        sent_type = media_type(request.headers.get("Content-Type"))
        kind = _CONTENT_KINDS.get(sent_type)
        if kind is None:
            raise errors.unsupported_media_type(sent_type[:100],
                                                "text/plain, application/json or application/octet-stream")
        body = request_body(request)
        if kind != BINARY:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                bad_request(errors.BODY_NOT_UTF8, "message")
            if kind == JSON:
                try:
                    strict_loads(text)
                except ValueError:
                    bad_request(errors.BODY_NOT_JSON, "message")
        return OutboundMessage(kind, body, group=group, ttl_seconds=ttl)

    @staticmethod
    def _combine(excluded: frozenset[str], predicate: Optional[ConnectionPredicate]) -> Optional[ConnectionPredicate]:
        if not excluded:
            return predicate
        if predicate is None:
            return lambda conn: conn.connection_id not in excluded
        return lambda conn: conn.connection_id not in excluded and predicate(conn)

    # -- sends ----------------------------------------------------------------------------------
    async def send_to_all(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        predicate = self._combine(excluded_ids(request), self._filter(optional_query(request, "filter")))
        message = await self._message(request)
        hub.fan_out(list(hub.connections.values()), message, predicate)
        return empty_response(202)

    async def send_to_user(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        user = validate_id(args[0], "userId")
        predicate = self._filter(optional_query(request, "filter"))
        message = await self._message(request)
        hub.fan_out(hub.user_connections(user), message, predicate)
        return empty_response(202)

    async def send_to_connection(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        connection_id = validate_id(args[0], "connectionId")
        message = await self._message(request)
        connection = hub.connections.get(connection_id)
        if connection is not None:
            hub.fan_out([connection], message)
        return empty_response(202)

    async def send_to_group(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        group = validate_group(args[0])
        predicate = self._combine(excluded_ids(request), self._filter(optional_query(request, "filter")))
        message = await self._message(request, group=group)
        hub.fan_out(hub.group_members(group), message, predicate)
        return empty_response(202)

    # -- existence ------------------------------------------------------------------------------
    async def connection_exists(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        if validate_id(args[0], "connectionId") in hub.connections:
            return empty_response(200)
        raise errors.connection_not_found(args[0])

    async def user_exists(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        if hub.user_connections(validate_id(args[0], "userId")):
            return empty_response(200)
        raise errors.user_not_found(args[0])

    async def group_exists(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        if hub.group_members(validate_group(args[0])):
            return empty_response(200)
        raise errors.group_not_found(args[0])

    # -- close ----------------------------------------------------------------------------------
    @staticmethod
    def _close(hub: Hub, connections: List[Connection], request: web.Request,
               excluded: frozenset[str]) -> web.Response:
        reason = optional_query(request, "reason") or DEFAULT_CLOSE_REASON
        for connection in connections:
            if connection.connection_id not in excluded:
                connection.close(reason)
                # The socket closes in the background; the session is over now, so existence checks and
                # sends made right after this 204 must no longer see the connection.
                hub.remove(connection)
        return empty_response(204)

    async def close_connection(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        connection = hub.connections.get(validate_id(args[0], "connectionId"))
        return self._close(hub, [connection] if connection else [], request, frozenset())

    async def close_all(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        return self._close(hub, list(hub.connections.values()), request, excluded_ids(request))

    async def close_user(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        user = validate_id(args[0], "userId")
        return self._close(hub, hub.user_connections(user), request, excluded_ids(request))

    async def close_group(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        group = validate_group(args[0])
        return self._close(hub, list(hub.group_members(group)), request, excluded_ids(request))

    # -- groups ---------------------------------------------------------------------------------
    async def add_connection_to_group(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        group = validate_group(args[0])
        connection = hub.connections.get(validate_id(args[1], "connectionId"))
        if connection is None:
            raise errors.connection_not_found_for_group(args[1])
        hub.join(connection, group)
        return empty_response(200)

    async def remove_connection_from_group(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        group = validate_group(args[0])
        connection = hub.connections.get(validate_id(args[1], "connectionId"))
        if connection is not None:
            hub.leave(connection, group)
        return empty_response(204)

    async def remove_connection_from_all_groups(self, request: web.Request, hub: Hub,
                                                args: List[str]) -> web.Response:
        connection = hub.connections.get(validate_id(args[0], "connectionId"))
        if connection is not None:
            hub.leave_all(connection)
        return empty_response(204)

    async def add_user_to_group(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        user = validate_id(args[0], "userId")
        group = validate_group(args[1])
        connections = hub.user_connections(user)
        if not connections:
            raise errors.user_not_found(user)
        for connection in connections:
            hub.join(connection, group)
        return empty_response(200)

    async def remove_user_from_group(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        user = validate_id(args[0], "userId")
        group = validate_group(args[1])
        for connection in hub.user_connections(user):
            hub.leave(connection, group)
        return empty_response(204)

    async def remove_user_from_all_groups(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        for connection in hub.user_connections(validate_id(args[0], "userId")):
            hub.leave_all(connection)
        return empty_response(204)

    async def _bulk_groups(self, request: web.Request) -> Tuple[List[str], Optional[ConnectionPredicate]]:
        sent_type = media_type(request.headers.get("Content-Type"))
        if sent_type != "application/json":
            raise errors.unsupported_media_type(sent_type[:100], "application/json")
        try:
            body = strict_loads(request_body(request).decode("utf-8"))
        except ValueError:
            bad_request(errors.BODY_NOT_JSON, "body")
        if not isinstance(body, dict):
            bad_request(errors.BODY_NOT_OBJECT, "body")
        groups = next((value for key, value in body.items() if key.lower() == "groups"), None)
        if not isinstance(groups, list) or not groups:
            bad_request(errors.GROUPS_NOT_LIST, "groups")
        if len(groups) > MAX_GROUPS_PER_BULK_REQUEST:
            bad_request(f"'groups' holds {len(groups)} names; at most {MAX_GROUPS_PER_BULK_REQUEST} are allowed "
                        "in one request.", "groups")
        for group in groups:
            if not is_valid_group(group):
                raise errors.invalid_group_name()
        filter_text = next((value for key, value in body.items() if key.lower() == "filter"), None)
        if filter_text is not None and not isinstance(filter_text, str):
            bad_request(errors.FILTER_NOT_STRING, "filter")
        return groups, self._filter(filter_text, "Filter")

    async def add_to_groups(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        return await self._change_groups(request, hub, hub.join)

    async def remove_from_groups(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        return await self._change_groups(request, hub, hub.leave)

    async def _change_groups(self, request: web.Request, hub: Hub,
                             change: Callable[[Connection, str], None]) -> web.Response:
        groups, predicate = await self._bulk_groups(request)
        for connection in list(hub.connections.values()):
            if predicate is None or predicate(connection):
                for group in groups:
                    change(connection, group)
        return empty_response(200)

    async def list_group_connections(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        group = validate_group(args[0])
        page_size = int_query(request, "maxpagesize", 1, MAX_PAGE_SIZE) or MAX_PAGE_SIZE
        top = int_query(request, "top", 1, 2147483647)
        token = optional_query(request, "continuationToken")
        position = _decode_continuation(token) if token else 0
        limit = page_size if top is None else min(page_size, top)
        remaining = hub.members_after(group, position)
        page = remaining[:limit]
        value = [{"connectionId": conn.connection_id, "userId": conn.user_id} for conn in page]
        next_link: Optional[str] = None
        more_allowed = top is None or top > len(page)
        if page and len(remaining) > len(page) and more_allowed:
            query = [("api-version", optional_query(request, "api-version") or "2024-12-01"),
                     ("maxpagesize", str(page_size)),
                     ("continuationToken", _encode_continuation(page[-1].group_join_order[group]))]
            if top is not None:
                query.append(("top", str(top - len(page))))
            next_link = (request_base_url(request) + request.raw_path.split("?", 1)[0] + "?"
                         + "&".join(f"{key}={quote(val, safe='')}" for key, val in query))
        return json_response({"value": value, "nextLink": next_link})

    # -- permissions ----------------------------------------------------------------------------
    def _permission_target(self, request: web.Request, hub: Hub,
                           args: List[str]) -> Tuple[str, Optional[Connection], str]:
        permission = args[0]
        if permission not in PERMISSIONS:
            raise errors.invalid_permission(permission)
        connection_id = validate_id(args[1], "connectionId")
        # Without targetName the service answers 400 (recorded), it does not mean "every group".
        target = validate_group(optional_query(request, "targetName"), "targetName")
        return permission, hub.connections.get(connection_id), target

    async def grant_permission(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        permission, connection, target = self._permission_target(request, hub, args)
        if connection is None:
            raise errors.connection_not_found_for_permission(args[1])
        try:
            connection.permissions.grant(permission, target)
        except TooManyRules:
            raise errors.too_many_permission_rules() from None
        return empty_response(200)

    async def revoke_permission(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        permission, connection, target = self._permission_target(request, hub, args)
        if connection is not None:
            try:
                connection.permissions.revoke(permission, target)
            except TooManyRules:
                raise errors.too_many_permission_rules() from None
        return empty_response(204)

    async def check_permission(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        permission, connection, target = self._permission_target(request, hub, args)
        if connection is None:
            raise errors.connection_not_found_for_permission(args[1])
        if connection.permissions.allows(permission, target):
            return empty_response(200)
        raise errors.permission_not_granted(permission, target)

    # -- tokens ---------------------------------------------------------------------------------
    async def generate_token(self, request: web.Request, hub: Hub, args: List[str]) -> web.Response:
        minutes = int_query(request, "minutesToExpire", 1, 2147483647) or 60
        client_type = optional_query(request, "clientType") or "Default"
        if client_type.lower() not in ("default", "mqtt"):
            raise errors.invalid_client_type(client_type)
        roles = request.query.getall("role", [])
        groups = [validate_group(group) for group in request.query.getall("group", [])]
        user_id = optional_query(request, "userId")
        if user_id is not None:
            validate_id(user_id, "userId")
        hub_path = unquote(request.raw_path.split("?", 1)[0].split("/")[3])
        path = "clients/mqtt/hubs" if client_type.lower() == "mqtt" else "client/hubs"
        now = int(time.time())
        claims: Dict[str, object] = {"nbf": now, "exp": now + minutes * 60, "iat": now,
                                     "aud": f"{request_base_url(request)}/{path}/{hub_path}"}
        if user_id is not None:
            claims["sub"] = user_id
        if roles:
            claims["role"] = roles[0] if len(roles) == 1 else roles
        if groups:
            claims["webpubsub.group"] = groups[0] if len(groups) == 1 else groups
        key = self.core.primary_key
        return json_response({"token": _jwt.encode(claims, key, kid=_jwt.key_id(key))})


def _encode_continuation(position: int) -> str:
    return base64.urlsafe_b64encode(f"awps-page:{position}".encode("ascii")).decode("ascii").rstrip("=")


def _decode_continuation(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        bad_request(errors.BAD_CONTINUATION_TOKEN, "continuationToken")
    prefix, _, number = text.partition(":")
    position = parse_integer(number)
    if prefix != "awps-page" or position is None or position < 0:
        bad_request(errors.BAD_CONTINUATION_TOKEN, "continuationToken")
    return position
