"""The MQTT endpoint, ``/clients/mqtt/hubs/{hub}``: MQTT 3.1.1 and 5.0 over WebSocket.

The access token is checked at the upgrade (a refusal is a plain HTTP 401, as for ``/client``). Then the
first packet must be CONNECT: its parameters are checked, the ``connect`` event asks the event handler, and
CONNACK answers. A client id names a session; a session outlives its network connection for its expiry
interval, and a CONNECT with the same id and Clean Start 0 resumes it (a live one is taken over).
"""
from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from . import _service_errors as errors
from ._client import ClientEndpoint
from ._core import EmulatorCore
from ._handshake import (ConnectionSlot, HandshakeRefused, at_connection_limit, check_request, claim_list,
                         client_claims, connect_answer_is_valid, connect_event_body, connection_limit_refusal,
                         group_claims, user_id_claim)
from ._hub import Hub
from ._mqtt_broker import MqttBroker, publish_will
from ._mqtt_codec import MQTT_5, MQTT_311, ConnAck, Connect, Disconnect, Packet, PacketError, PacketReader, encode
from ._mqtt_properties import (ASSIGNED_CLIENT_ID, AUTH_METHOD, MAXIMUM_PACKET_SIZE, RECEIVE_MAXIMUM, REASON_STRING,
                               RETAIN_AVAILABLE, SERVER_KEEP_ALIVE, SESSION_EXPIRY, SHARED_AVAILABLE, USER_PROPERTY,
                               WILDCARD_AVAILABLE, Properties)
from ._mqtt_rules import (BAD_AUTHENTICATION_METHOD, CLIENT_ID_NOT_VALID, CONNECT_TIMEOUT_SECONDS, DEFAULT_OPTIONS,
                          KEEP_ALIVE_FACTOR, KEEP_ALIVE_RANGE, KEEP_ALIVE_REASON, KEEP_ALIVE_TIMEOUT,
                          MAX_PACKET_BYTES, MAX_WILL_PAYLOAD_BYTES, MAX_WILL_TOPIC_CHARS, MQTT_SUBPROTOCOLS,
                          PROTOCOL_ERROR, QUOTA_EXCEEDED, RESERVED_TOPIC_PREFIX, RETAIN_NOT_SUPPORTED,
                          SERVER_UNAVAILABLE, SESSION_TAKEN_OVER, TOPIC_NAME_INVALID, UNSUPPORTED_VERSION,
                          MqttOptions, connection_limit_code, has_wildcard, refusal_code, upstream_refusal_code)
from ._mqtt_session import MQTT_SUBPROTOCOL, MqttSession
from ._permissions import Permissions
from ._upstream import ConnectResult, MqttEventFields, UpstreamConnection, UpstreamFailed, UpstreamRejected
from ._upstream_replies import InvalidResponse, mqtt_user_properties

logger = logging.getLogger("webpubsub_emulator")

PATH_PREFIX = "/clients/mqtt/hubs/"
_SINGLE_VALUED_QUERY = frozenset({"access_token"})  # lower-case; a client's own parameters may repeat


@dataclass
class _Identity:
    """Who the token says the client is (a resumed session keeps its own identity instead)."""

    claims: Dict[str, Any]
    user_id: Optional[str]
    roles: List[str]
    groups: List[str]


@dataclass
class _Ending:
    """How a network connection ended: what the ``disconnected`` event will say, and whether the will fires."""

    by_client: bool
    packet: Optional[Disconnect]  # the client's DISCONNECT, or the one the server sends (5.0)
    reason: Optional[str]
    will: bool


class _Refused(Exception):
    """CONNECT refused with this 5.0 reason code (mapped to 3.1.1, or no CONNACK when 3.1.1 has no code),
    or with ``exact_code``, a code already chosen for the client's version (the event handler's)."""

    def __init__(self, code: int, reason: str, properties: Optional[Properties] = None,
                 exact_code: Optional[int] = None) -> None:
        super().__init__(reason)
        self.code, self.reason, self.properties, self.exact_code = code, reason, properties or {}, exact_code

    def connack_code(self, version: int) -> Optional[int]:
        return self.exact_code if self.exact_code is not None else refusal_code(version, self.code)


class MqttEndpoint(ClientEndpoint):
    """Shares ``handle`` (each connection's task is known to the core, so shutdown can wait for it) with the
    WebSocket client endpoint; everything after the route is MQTT's own."""

    def __init__(self, core: EmulatorCore, options: MqttOptions = DEFAULT_OPTIONS) -> None:
        super().__init__(core)
        self.options = options

    # -- the WebSocket upgrade --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.raw_path.split("?", 1)[0].rstrip("/")
        name = path[len(PATH_PREFIX):]
        hub = unquote(name) if path.startswith(PATH_PREFIX) and "/" not in name else None
        try:
            hub_name = check_request(self.core, request, hub, _SINGLE_VALUED_QUERY)
            claims = client_claims(self.core, request, hub_name, PATH_PREFIX)
            # The MQTT docs name the groups claim `group`; the SDKs write `webpubsub.group`. Both count.
            identity = _Identity(claims, user_id_claim(claims), claim_list(claims.get("role")),
                                 group_claims(claims, ("group", "webpubsub.group")))
            # MQTT sessions count like any client. At the limit, a device may still resume its offline session,
            # which adds no connection; but its client id is only known from its CONNECT.
            if at_connection_limit(self.core) and not self._has_offline_sessions(hub_name):
                raise connection_limit_refusal(self.core)
        except HandshakeRefused as refused:
            return refused.response()
        slot = ConnectionSlot(self.core)
        try:
            return await self._upgrade(request, hub_name, identity, slot)
        finally:
            slot.release()

    async def _upgrade(self, request: web.Request, hub_name: str, identity: _Identity,
                       slot: ConnectionSlot) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=MQTT_SUBPROTOCOLS, max_msg_size=MAX_PACKET_BYTES + 16,
                                   heartbeat=None, timeout=3.0, compress=False)
        await ws.prepare(request)
        reader = PacketReader(MAX_PACKET_BYTES)
        packets = await self._read_connect(ws, reader)
        if packets:
            connect = packets[0]
            assert isinstance(connect, Connect)
            session = await self._accept_connect(request, ws, hub_name, identity, connect)
            slot.release()  # a session is counted in its hub from now on
            if session is not None:
                await self._serve_session(ws, reader, session, packets[1:])
        if not ws.closed:
            await ws.close()
        return ws

    async def _read_connect(self, ws: web.WebSocketResponse, reader: PacketReader) -> List[Packet]:
        """The packets of the first frames up to and including CONNECT; [] if the client never sent one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECT_TIMEOUT_SECONDS
        while True:
            try:
                message = await ws.receive(timeout=max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                logger.info("MQTT client sent no CONNECT within %g s", CONNECT_TIMEOUT_SECONDS)
                return []
            if message.type != WSMsgType.BINARY:
                return []
            try:
                packets = reader.feed(message.data)
            except PacketError as error:
                logger.info("MQTT CONNECT refused: %s", error.reason)
                level = error.protocol_level
                if level is not None:  # unsupported version: answered in the format the client can read
                    version = MQTT_5 if level > MQTT_5 else MQTT_311
                    await _send(ws, ConnAck(refusal_code(version, UNSUPPORTED_VERSION) or 1), version)
                return []
            if packets:
                return packets

    # -- CONNECT ----------------------------------------------------------------------------------------
    async def _accept_connect(self, request: web.Request, ws: web.WebSocketResponse, hub_name: str,
                              identity: _Identity, connect: Connect) -> Optional[MqttSession]:
        version = connect.protocol_level
        physical_id = uuid.uuid4().hex
        try:
            client_id, connack = self._check_connect(connect)
            if client_id != connect.client_id:
                connack[ASSIGNED_CLIENT_ID] = client_id
            self._check_id_is_free(hub_name, client_id)
            self._check_connection_limit(hub_name, client_id, version)
            upstream = UpstreamConnection(hub=hub_name, connection_id=client_id, user_id=identity.user_id,
                                          subprotocol=MQTT_SUBPROTOCOL, origin=request.url.host or "localhost",
                                          mqtt=MqttEventFields(physical_id))
            result = await self._connect_event(request, identity, connect, upstream)
            if result is not None and not connect_answer_is_valid(result):
                raise _Refused(SERVER_UNAVAILABLE, "The connect event handler returned an invalid group name "
                                                   "or user id.")
            self._check_id_is_free(hub_name, client_id)
        except _Refused as refused:
            logger.info("MQTT CONNECT of %r refused: %s", connect.client_id, refused.reason)
            code = refused.connack_code(version)
            if code is not None:
                properties = dict(refused.properties)
                if version == MQTT_5:
                    properties.setdefault(REASON_STRING, refused.reason[:200])
                await _send(ws, ConnAck(code, properties=properties), version)
            return None
        if result is not None and result.mqtt_user_properties:
            connack[USER_PROPERTY] = result.mqtt_user_properties
        if self.core.shutting_down:
            return None
        session, present = self._take_session(hub_name, client_id, connect)
        # Only now: discarding an old session may have emptied the hub, and an empty hub is forgotten.
        hub = self.core.hub(hub_name)
        if session is None:
            session = self._new_session(hub, client_id, identity, version, upstream, result)
        elif upstream.connection_state is not None:
            session.upstream.connection_state = upstream.connection_state
        self._configure(session, connect, connack, physical_id)
        session.publish_will = functools.partial(publish_will, hub)
        session.attach(ws, request.transport)
        session.send_packet(ConnAck(0, present, connack if version == MQTT_5 else {}))
        if present:
            session.resume()
        else:
            self.core.upstream.connected(session.upstream)
        logger.info("MQTT session %s %s on hub %s (user %s, MQTT %s)", client_id,
                    "resumed" if present else "started", hub_name, session.user_id, "5.0" if version == 5 else "3.1.1")
        return session

    def _check_connect(self, connect: Connect) -> Tuple[str, Properties]:
        """The client id to use and the CONNACK properties so far; raises _Refused for bad parameters."""
        version = connect.protocol_level
        connack: Properties = {}
        if version == MQTT_5:
            connack.update({RETAIN_AVAILABLE: 0, WILDCARD_AVAILABLE: 0, SHARED_AVAILABLE: 0,
                            MAXIMUM_PACKET_SIZE: MAX_PACKET_BYTES})
            if AUTH_METHOD in connect.properties:
                raise _Refused(BAD_AUTHENTICATION_METHOD, "Enhanced authentication (AUTH) is not supported.")
        client_id = connect.client_id
        if not client_id and version == MQTT_5:
            client_id = uuid.uuid4().hex  # assigned client identifier (5.0)
        elif not self.options.client_id_valid(client_id):
            allowed = "letters, digits and '_'" if self.options.allow_underscore_in_client_id else "letters and digits"
            raise _Refused(CLIENT_ID_NOT_VALID, f"Client id {client_id!r} must be 1-128 {allowed}.")
        low, high = KEEP_ALIVE_RANGE
        if not low <= connect.keep_alive <= high:
            if version == MQTT_311:  # no CONNACK code fits: the connection is closed without one
                raise _Refused(PROTOCOL_ERROR, f"Keep alive must be {low}-{high} seconds.")
            connack[SERVER_KEEP_ALIVE] = high if connect.keep_alive == 0 or connect.keep_alive > high else low
        will = connect.will
        if will is not None:
            if not will.topic.strip() or len(will.topic) > MAX_WILL_TOPIC_CHARS or has_wildcard(will.topic) \
                    or will.topic.startswith(RESERVED_TOPIC_PREFIX):
                raise _Refused(TOPIC_NAME_INVALID, f"Will topic {will.topic[:64]!r} is not valid.")
            if len(will.payload) > MAX_WILL_PAYLOAD_BYTES:
                raise _Refused(QUOTA_EXCEEDED, f"The will message is larger than {MAX_WILL_PAYLOAD_BYTES} bytes.")
            if will.retain and version == MQTT_5:
                raise _Refused(RETAIN_NOT_SUPPORTED, "Retained will messages are not supported.")
        return client_id, connack

    async def _connect_event(self, request: web.Request, identity: _Identity, connect: Connect,
                             upstream: UpstreamConnection) -> Optional[ConnectResult]:
        body = connect_event_body(request, identity.claims, [MQTT_SUBPROTOCOL])
        user_properties = connect.properties.get(USER_PROPERTY)
        body["mqtt"] = {
            "protocolVersion": connect.protocol_level, "cleanStart": connect.clean_start,
            "username": connect.username,
            "password": None if connect.password is None else base64.b64encode(connect.password).decode("ascii"),
            "userProperties": None if connect.protocol_level != MQTT_5 else
            [{"name": name, "value": value} for name, value in user_properties or []],
        }
        try:
            return await self.core.upstream.connect(upstream, body)
        except UpstreamRejected as rejected:
            raise self._upstream_refusal(connect.protocol_level, rejected) from None
        except UpstreamFailed as failure:
            raise _Refused(SERVER_UNAVAILABLE, f"The connect event handler failed: {failure.reason}") from None

    @staticmethod
    def _upstream_refusal(version: int, rejected: UpstreamRejected) -> _Refused:
        """The handler's `{"mqtt": {"code", "reason", "userProperties"}}`, or a code derived from the status."""
        mqtt: Dict[str, Any] = {}
        try:
            document = json.loads(rejected.body.decode("utf-8-sig")) if rejected.body.strip() else None
            if isinstance(document, dict):
                found = {name.lower(): value for name, value in document.items()}.get("mqtt")
                mqtt = {name.lower(): value for name, value in found.items()} if isinstance(found, dict) else {}
        except ValueError:
            pass  # a plain-text refusal: the status decides
        raw_code = mqtt.get("code")
        code = upstream_refusal_code(version, rejected.status,
                                     raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None)
        properties: Properties = {}
        if isinstance(mqtt.get("reason"), str):
            properties[REASON_STRING] = mqtt["reason"]
        try:
            pairs = mqtt_user_properties(mqtt, "connect refusal") if "userproperties" in mqtt else []
        except InvalidResponse:
            pairs = []
        if pairs:
            properties[USER_PROPERTY] = pairs
        return _Refused(code, f"The connect event handler answered {rejected.status}.", properties, code)

    # -- sessions ---------------------------------------------------------------------------------------
    def _check_id_is_free(self, hub_name: str, client_id: str) -> None:
        """Client ids and other connection ids share one namespace: an MQTT client cannot take a WebSocket
        client's id."""
        hub = self.core.find_hub(hub_name)
        existing = hub.connections.get(client_id) if hub is not None else None
        if existing is not None and not isinstance(existing, MqttSession):
            raise _Refused(CLIENT_ID_NOT_VALID, f"Client id {client_id!r} is the id of another connection.")

    def _session(self, hub_name: str, client_id: str) -> Optional[MqttSession]:
        hub = self.core.find_hub(hub_name)
        existing = hub.connections.get(client_id) if hub is not None else None
        return existing if isinstance(existing, MqttSession) and not existing.closing else None

    def _has_offline_sessions(self, hub_name: str) -> bool:
        hub = self.core.find_hub(hub_name)
        return hub is not None and any(isinstance(conn, MqttSession) and not conn.attached and not conn.closing
                                       for conn in hub.connections.values())

    def _check_connection_limit(self, hub_name: str, client_id: str, version: int) -> None:
        """A client upgraded at the connection limit is admitted only to resume (or replace) its session."""
        limit = self.core.settings.max_connections
        if limit is None or self._session(hub_name, client_id) is not None:
            return
        if self.core.connection_count() - 1 >= limit:  # not counting this client's own place in the handshake
            raise _Refused(QUOTA_EXCEEDED, errors.CONNECTION_LIMIT_TEXT.format(limit=limit),
                           exact_code=connection_limit_code(version))

    def _take_session(self, hub_name: str, client_id: str,
                      connect: Connect) -> Tuple[Optional[MqttSession], bool]:
        """An existing session to resume (taking it over from a live network connection), or (None, False)."""
        existing = self._session(hub_name, client_id)
        if existing is None:
            return None, False
        if existing.attached:
            packet = Disconnect(SESSION_TAKEN_OVER) if existing.version == MQTT_5 else None
            existing.network_ended(by_client=False, packet=packet, reason="The session was taken over.", will=True)
            existing.drop_network(SESSION_TAKEN_OVER, "Another connection with the same client id took over.")
        if connect.clean_start:
            existing.finish(existing.last_reason)
            return None, False
        existing.version = connect.protocol_level
        return existing, True

    def _new_session(self, hub: Hub, client_id: str, identity: _Identity, version: int,
                     upstream: UpstreamConnection, result: Optional[ConnectResult]) -> MqttSession:
        user_id, groups, roles = identity.user_id, identity.groups, identity.roles
        if result is not None:
            user_id = result.user_id if result.user_id_set else user_id
            groups = result.groups or groups
            roles = roles if result.roles is None else result.roles
        upstream.user_id = user_id
        session = MqttSession(hub=hub.name, client_id=client_id, user_id=user_id, permissions=Permissions(roles),
                              limits=self.core.limits, upstream=upstream, on_ended=self.core.connection_ended,
                              version=version)
        assert upstream.mqtt is not None
        upstream.mqtt.session_id = session.session_id
        hub.add(session)
        for group in groups:
            hub.join(session, group)
        return session

    def _configure(self, session: MqttSession, connect: Connect, connack: Properties, physical_id: str) -> None:
        properties = connect.properties
        maximum = self.options.session_expiry_max_seconds
        if connect.protocol_level == MQTT_5:
            asked = int(properties.get(SESSION_EXPIRY, 0))
            session.expiry_seconds = min(asked, maximum)
            if asked > maximum:
                connack[SESSION_EXPIRY] = maximum
        else:
            session.expiry_seconds = 0 if connect.clean_start else maximum
        session.connect_expiry = session.expiry_seconds
        session.receive_maximum = int(properties.get(RECEIVE_MAXIMUM, 65535))
        session.max_packet_size = properties.get(MAXIMUM_PACKET_SIZE)
        session.keep_alive = int(connack.get(SERVER_KEEP_ALIVE, connect.keep_alive))
        session.will = connect.will
        if session.will is not None:
            session.will.retain = False  # 3.1.1 cannot be told that retained messages are unsupported: ignored
        assert session.upstream.mqtt is not None
        session.upstream.mqtt.physical_connection_id = physical_id

    # -- after CONNACK ----------------------------------------------------------------------------------
    async def _serve_session(self, ws: web.WebSocketResponse, reader: PacketReader, session: MqttSession,
                             early: List[Packet]) -> None:
        hub = self.core.find_hub(session.hub)
        if hub is None or hub.connections.get(session.connection_id) is not session:
            return  # ended before its first packet (e.g. closed by REST): never serve it from a forgotten hub
        broker = MqttBroker(hub, session, self.core.upstream)
        ending = await self._read_packets(ws, reader, session, broker, early)
        if not session.is_attached_to(ws):
            return  # a newer network connection took the session over
        if session.closing:  # the server ended the session: the writer sends DISCONNECT and the close frame
            try:
                await asyncio.wait_for(session.wait_writer(), session.limits.close_timeout_seconds + 1)
            except asyncio.TimeoutError:
                pass
            session.finish(session.close_reason)
            return
        session.network_ended(by_client=ending.by_client, packet=ending.packet, reason=ending.reason,
                              will=ending.will)
        session.detach()
        if not ending.by_client and ending.packet is not None and session.version == MQTT_5 and not ws.closed:
            try:
                await ws.send_bytes(encode(ending.packet, MQTT_5))
            except Exception:  # pylint: disable=broad-except  # the client may be gone already
                pass
        if session.expiry_seconds > 0 and not self.core.shutting_down:
            session.start_expiry()
        else:
            session.finish(session.last_reason)

    async def _read_packets(self, ws: web.WebSocketResponse, reader: PacketReader, session: MqttSession,
                            broker: MqttBroker, early: List[Packet]) -> _Ending:
        timeout = session.keep_alive * KEEP_ALIVE_FACTOR if session.keep_alive else None
        packets = early
        try:
            while True:
                for packet in packets:
                    disconnect = await broker.handle(packet)
                    if disconnect is not None:
                        return self._client_disconnect(session, disconnect)
                if session.closing or not session.is_attached_to(ws):
                    return _Ending(False, None, session.close_reason, True)
                try:
                    message = await ws.receive(timeout=timeout)
                except asyncio.TimeoutError:
                    return _Ending(False, Disconnect(KEEP_ALIVE_TIMEOUT, {REASON_STRING: KEEP_ALIVE_REASON}),
                                   KEEP_ALIVE_REASON, True)
                if message.type == WSMsgType.BINARY:
                    packets = reader.feed(message.data)
                elif message.type == WSMsgType.TEXT:
                    raise PacketError(PROTOCOL_ERROR, "MQTT packets must be sent in binary WebSocket frames.")
                else:
                    return _Ending(False, None, "The network connection closed without a DISCONNECT packet.", True)
        except PacketError as fault:
            logger.info("MQTT session %s: %s", session.connection_id, fault.reason)
            return _Ending(False, Disconnect(fault.code, {REASON_STRING: fault.reason[:200]}), fault.reason, True)
        except Exception:  # pylint: disable=broad-except
            logger.exception("MQTT session %s failed", session.connection_id)
            return _Ending(False, None, "The emulator failed to handle a packet.", True)

    def _client_disconnect(self, session: MqttSession, packet: Disconnect) -> _Ending:
        asked = packet.properties.get(SESSION_EXPIRY)
        if asked is not None:
            if session.connect_expiry == 0 and asked > 0:
                raise PacketError(PROTOCOL_ERROR, "A session that asked for no expiry cannot set one on DISCONNECT.")
            session.expiry_seconds = min(int(asked), self.options.session_expiry_max_seconds)
        return _Ending(True, packet, packet.properties.get(REASON_STRING), packet.code == 0x04)


async def _send(ws: web.WebSocketResponse, packet: Packet, version: int) -> None:
    try:
        await ws.send_bytes(encode(packet, version))
    except Exception:  # pylint: disable=broad-except  # the client may already be gone
        pass
