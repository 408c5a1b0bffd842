"""The WebSocket client endpoint: `/client/hubs/{hub}` and `/client/?hub=`.

Authentication, the blocking `connect` event and subprotocol choice all happen before the upgrade,
so a refused client gets a plain HTTP status and never a WebSocket.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from . import _jwt
from ._client_protocol import ClientRequests, ProtocolViolation, SimpleProtocol
from ._connection import Connection
from ._core import EmulatorCore
from ._handshake import (SHUTTING_DOWN, ConnectionSlot, HandshakeRefused, at_connection_limit, check_request,
                         claim_list, client_claims, connect_answer_is_valid, connect_event_body,
                         connection_limit_refusal, group_claims, user_id_claim)
from ._hub import Hub
from ._json_format import JSON_FORMAT, STRICT_JSON_FORMAT
from ._limits import MAX_FRAME_BYTES
from ._permissions import Permissions
from ._rest_support import is_valid_group, optional_query
from ._subprotocols import PREDEFINED_PROTOCOLS
from ._upstream import ConnectResult, UpstreamConnection, UpstreamFailed, UpstreamRejected
from ._wire import RequestFormat

logger = logging.getLogger("webpubsub_emulator")

RECONNECTION_TOKEN_SECONDS = 7 * 24 * 3600
RECONNECTION_ISSUER = "https://webpubsub.azure.com"
# Query parameters the endpoint reads as one value (lower-case); the client's own may repeat.
_SINGLE_VALUED_QUERY = frozenset({"hub", "access_token", "webpubsub_mode", "group", "noecho", "awps_connection_id",
                                  "awps_reconnection_token"})
# Close codes with which a client leaves on purpose: its reliable session ends instead of waiting for recovery.
# A close frame without a status code (RFC 6455 "1005"; aiohttp reports 0) is what the official JS client's
# stop() sends, so it counts as leaving, like 1000. Abnormal ends (1006, no close frame) stay recoverable.
CLIENT_LEFT_CLOSE_CODES = (0, 1000, 1005)


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


@dataclass
class _Handshake:
    """Who the connecting client is and how it talks, from its token, its query and (later) `connect`."""

    user_id: Optional[str]
    roles: List[str]
    groups: List[str]
    subprotocol: Optional[str]
    publish_group: Optional[str]  # simple clients in webpubsub_mode=sendToGroup
    no_echo: bool

    @classmethod
    def from_request(cls, request: web.Request, claims: Dict[str, Any], offered: List[str]) -> "_Handshake":
        """Raises HandshakeRefused for a bad mode, group or claim."""
        mode = (optional_query(request, "webpubsub_mode") or "sendEvent").lower()
        if mode not in ("sendevent", "sendtogroup"):
            raise HandshakeRefused(400, f"Invalid webpubsub_mode '{optional_query(request, 'webpubsub_mode')}'.")
        publish_group = optional_query(request, "group") if mode == "sendtogroup" else None
        if mode == "sendtogroup" and not is_valid_group(publish_group):
            raise HandshakeRefused(400, "webpubsub_mode=sendToGroup needs a valid 'group' query parameter.")
        # Only subprotocols we do not know: a simple client, upgraded without a Sec-WebSocket-Protocol
        # answer, unless the connect handler picks one of them.
        subprotocol = next((name for name in offered if name in PREDEFINED_PROTOCOLS), None)
        return cls(user_id=user_id_claim(claims), roles=claim_list(claims.get("role")),
                   groups=group_claims(claims, ("webpubsub.group",)), subprotocol=subprotocol,
                   publish_group=publish_group,
                   no_echo=(optional_query(request, "noEcho") or "").lower() == "true")

    def apply(self, result: ConnectResult) -> bool:
        """The connect handler's answer overrides the token; False if it named an invalid group or user."""
        if not connect_answer_is_valid(result):
            return False
        if result.user_id_set:
            self.user_id = result.user_id
        if result.groups:
            self.groups = result.groups
        if result.roles is not None:
            self.roles = result.roles
        if result.subprotocol:
            self.subprotocol = result.subprotocol
        return True


class ClientEndpoint:
    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    async def handle(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self.core.sessions.add(task)
        try:
            return await self._handle(request)
        finally:
            if task is not None:
                self.core.sessions.discard(task)

    def _hub_name(self, request: web.Request) -> Optional[str]:
        path = request.raw_path.split("?", 1)[0].rstrip("/")
        prefix = "/client/hubs/"
        if path.startswith(prefix) and "/" not in path[len(prefix):]:
            return unquote(path[len(prefix):])
        if path == "/client":
            return optional_query(request, "hub") or ""  # an empty name fails validation: 400
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            hub_name = check_request(self.core, request, self._hub_name(request), _SINGLE_VALUED_QUERY)
            offered = [name.strip() for header in request.headers.getall("Sec-WebSocket-Protocol", [])
                       for name in header.split(",") if name.strip()]
            if (optional_query(request, "awps_connection_id") is not None
                    and optional_query(request, "awps_reconnection_token")):
                return await self._recover(request, hub_name, offered)
            claims = client_claims(self.core, request, hub_name, "/client/hubs/")
            handshake = _Handshake.from_request(request, claims, offered)
            if at_connection_limit(self.core):
                raise connection_limit_refusal(self.core)
        except HandshakeRefused as refused:
            return refused.response()
        slot = ConnectionSlot(self.core)
        try:
            return await self._accept(request, hub_name, claims, offered, handshake, slot)
        finally:
            slot.release()

    async def _accept(self, request: web.Request, hub_name: str, claims: Dict[str, Any], offered: List[str],
                      handshake: "_Handshake", slot: ConnectionSlot) -> web.StreamResponse:
        connection_id = uuid.uuid4().hex
        upstream_connection = UpstreamConnection(hub=hub_name, connection_id=connection_id,
                                                 user_id=handshake.user_id, subprotocol=None,
                                                 origin=request.url.host or "localhost")
        try:
            result = await self.core.upstream.connect(upstream_connection, connect_event_body(request, claims, offered))
        except UpstreamRejected as rejected:
            logger.info("connect handler rejected %s with %d", connection_id, rejected.status)
            return web.Response(status=rejected.status)
        except UpstreamFailed as failure:
            logger.warning("connect event for %s failed: %s", connection_id, failure.reason)
            return _plain(500, "The connect event handler failed.")
        if result is not None and not handshake.apply(result):
            return _plain(500, "The connect event handler returned an invalid group name or user id.")
        if self.core.shutting_down:
            return _plain(503, SHUTTING_DOWN)
        upstream_connection.user_id = handshake.user_id
        upstream_connection.subprotocol = handshake.subprotocol
        return await self._open(request, hub_name, handshake, connection_id, upstream_connection, slot)

    async def _open(self, request: web.Request, hub_name: str, handshake: "_Handshake", connection_id: str,
                    upstream_connection: UpstreamConnection, slot: ConnectionSlot) -> web.WebSocketResponse:
        connection = Connection(hub=hub_name, connection_id=connection_id, user_id=handshake.user_id,
                                subprotocol=handshake.subprotocol, permissions=Permissions(handshake.roles),
                                limits=self.core.limits, upstream=upstream_connection,
                                on_ended=self.core.connection_ended)
        if connection.reliable:
            connection.reconnection_token = _jwt.encode(
                {"aud": connection_id, "iss": RECONNECTION_ISSUER, "jti": secrets.token_hex(16),
                 "exp": int(time.time()) + RECONNECTION_TOKEN_SECONDS}, self.core.reconnection_secret)
        ws = self._websocket(handshake.subprotocol)
        await ws.prepare(request)
        hub = self.core.hub(hub_name)  # only now: an empty hub is forgotten, even during the await above
        hub.add(connection)
        slot.release()  # counted in the hub from now on
        for group in handshake.groups:
            hub.join(connection, group)
        connection.attach(ws, request.transport)
        logger.info("connection %s opened on hub %s (user %s, protocol %s)", connection_id, hub_name,
                    handshake.user_id, handshake.subprotocol or "simple")
        self.core.upstream.connected(upstream_connection)
        handler: Union[ClientRequests, SimpleProtocol]
        if isinstance(connection.wire, RequestFormat):
            handler = self._requests(hub, connection)
        else:
            handler = SimpleProtocol(hub, connection, self.core.upstream, publish_group=handshake.publish_group,
                                     no_echo=handshake.no_echo)
        await self._serve(ws, connection, handler)
        return ws

    def _requests(self, hub: Hub, connection: Connection) -> ClientRequests:
        wire = connection.wire
        assert isinstance(wire, RequestFormat)  # a subprotocol connection
        if wire is JSON_FORMAT and self.core.settings.strict_json_data_types:
            wire = STRICT_JSON_FORMAT  # decodes strictly; renders the same frames as JSON_FORMAT
        return ClientRequests(hub, connection, self.core.upstream, wire)

    @staticmethod
    def _websocket(subprotocol: Optional[str]) -> web.WebSocketResponse:
        # Pings and pongs are ours (Connection.start_keep_alive): the hub's interval, and a close with the
        # service's reason when a client stops answering, which aiohttp's heartbeat cannot give.
        return web.WebSocketResponse(protocols=(subprotocol,) if subprotocol else (), max_msg_size=MAX_FRAME_BYTES,
                                     autoping=False, timeout=3.0, compress=False)

    async def _recover(self, request: web.Request, hub_name: str, offered: List[str]) -> web.StreamResponse:
        connection_id = optional_query(request, "awps_connection_id") or ""
        token = optional_query(request, "awps_reconnection_token") or ""
        hub = self.core.find_hub(hub_name)
        connection = hub.connections.get(connection_id) if hub is not None else None
        refusal: Optional[str] = None
        try:
            claims = _jwt.decode(token, [self.core.reconnection_secret])
            if claims.get("aud") != connection_id:
                refusal = "The reconnection token does not belong to this connection."
        except _jwt.TokenError:
            refusal = "The reconnection token is invalid."
        if refusal is None and (connection is None or not connection.reliable or connection.closing):
            refusal = "The connection cannot be recovered."
        if refusal is None and connection is not None and connection.subprotocol not in offered:
            refusal = "Recovery must use the connection's original subprotocol."
        if refusal is not None or connection is None or hub is None:
            ws = self._websocket(next((name for name in offered if name in PREDEFINED_PROTOCOLS), None))
            await ws.prepare(request)
            await ws.close(code=1008, message=(refusal or "").encode("utf-8")[:123])
            return ws
        if connection.attached:
            connection.drop_socket()  # the old socket is stale; the client has already moved on
        ws = self._websocket(connection.subprotocol)
        await ws.prepare(request)
        connection.attach(ws, request.transport)
        logger.info("connection %s recovered", connection_id)
        await self._serve(ws, connection, self._requests(hub, connection))
        return ws

    async def _serve(self, ws: web.WebSocketResponse, connection: Connection,
                     handler: Union[ClientRequests, SimpleProtocol]) -> None:
        violation: Optional[ProtocolViolation] = None
        connection.start_keep_alive(*self.core.settings.keep_alive(connection.hub))
        try:
            async for frame in ws:
                if connection.closing or not connection.is_attached_to(ws):
                    break
                connection.heard_from_client()
                if frame.type == WSMsgType.PING:
                    await ws.pong(frame.data)
                    continue
                if frame.type == WSMsgType.PONG:
                    continue
                if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue  # aiohttp's own reports (e.g. a frame over the size limit, closed with 1009)
                try:
                    await handler.on_frame(frame.data, frame.type == WSMsgType.BINARY)
                except ProtocolViolation as error:
                    violation = error
                    break
        except Exception:
            logger.exception("connection %s failed", connection.connection_id)
        if violation is not None:
            connection.close(violation.reason, violation.code)
        await self._wait_closed(ws, connection)
        self._after_socket_closed(ws, connection)

    @staticmethod
    async def _wait_closed(ws: web.WebSocketResponse, connection: Connection) -> None:
        if connection.closing and connection.is_attached_to(ws):
            try:
                await asyncio.wait_for(connection.wait_writer(), connection.limits.close_timeout_seconds + 1)
            except asyncio.TimeoutError:
                pass

    def _after_socket_closed(self, ws: web.WebSocketResponse, connection: Connection) -> None:
        if not connection.is_attached_to(ws):
            return  # a recovery took this session over
        if connection.closing:
            connection.finish(connection.close_reason)
            return
        code = ws.close_code
        if connection.reliable and code not in CLIENT_LEFT_CLOSE_CODES and not self.core.shutting_down:
            connection.detach()
            connection.start_recovery_window()
            logger.info("connection %s dropped (code %s); recoverable for %.0f s", connection.connection_id, code,
                        connection.limits.recovery_seconds)
            return
        left = code is None or code == 1001 or code in CLIENT_LEFT_CLOSE_CODES
        connection.finish(None if left else f"The client closed the connection with code {code}.")
