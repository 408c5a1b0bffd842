"""One MQTT session: a Web PubSub connection whose id is the client id and that may outlive its network
connection (up to its session expiry).

It is a ``Connection`` so that hubs, groups, REST sends, filters and permissions treat it like any other
client; only delivery and closing differ. Outbound QoS 1/2 messages wait in ``pending`` until the client's
Receive Maximum lets them fly, then stay in ``inflight`` until acknowledged. Both survive a dropped network
connection: on resume, unacknowledged PUBLISHes are sent again with DUP set and unfinished QoS 2 flows
continue with PUBREL.
"""
from __future__ import annotations

import asyncio
import math
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Optional, Set

from aiohttp import web

from ._connection import Connection, ConnectionLimits
from ._messages import MEDIA_TYPES, OutboundMessage, websocket_frame
from ._mqtt_codec import MQTT_5, PUBACK, PUBCOMP, PUBREC, PUBREL, Ack, Disconnect, Packet, Publish, Will, encode
from ._mqtt_properties import (CONTENT_TYPE, MESSAGE_EXPIRY, REASON_STRING, SUBSCRIPTION_ID, USER_PROPERTY, WILL_DELAY,
                               Properties)
from ._mqtt_rules import (ADMINISTRATIVE_ACTION, DISCONNECT_CODES, MAX_QUEUED_MESSAGES,
                          PACKET_ID_NOT_FOUND, SERVER_MESSAGES_TOPIC, SUBSCRIPTION_DEFAULT_QOS)
from ._permissions import Permissions
from ._upstream import UpstreamConnection

MQTT_SUBPROTOCOL = "mqtt"


class MqttMessage(OutboundMessage):
    """A message an MQTT client published: what every client sees, plus what only MQTT receivers see
    (the publish QoS and the MQTT 5.0 properties that are forwarded unchanged)."""

    __slots__ = ("qos", "mqtt_properties", "sender_id")

    def __init__(self, kind: str, data: bytes, *, group: str, from_user_id: Optional[str], ttl_seconds: int,
                 qos: int, mqtt_properties: Properties, sender_id: str) -> None:
        super().__init__(kind, data, group=group, from_user_id=from_user_id, ttl_seconds=ttl_seconds)
        self.qos = qos
        self.mqtt_properties = mqtt_properties
        self.sender_id = sender_id


@dataclass
class SubscriptionOptions:
    qos: int = SUBSCRIPTION_DEFAULT_QOS
    no_local: bool = False
    identifier: Optional[int] = None


@dataclass
class _Outgoing:
    topic: str
    payload: bytes
    qos: int
    properties: Properties
    deadline: Optional[float]
    released: bool = False  # QoS 2: PUBREC received, PUBREL sent


class MqttSession(Connection):
    def __init__(self, *, hub: str, client_id: str, user_id: Optional[str], permissions: Permissions,
                 limits: ConnectionLimits, upstream: UpstreamConnection,
                 on_ended: Callable[[Connection, Optional[str]], None], version: int) -> None:
        super().__init__(hub=hub, connection_id=client_id, user_id=user_id, subprotocol=MQTT_SUBPROTOCOL,
                         permissions=permissions, limits=limits, upstream=upstream, on_ended=on_ended)
        self.version = version
        self.session_id = uuid.uuid4().hex
        self.expiry_seconds = 0
        self.connect_expiry = 0  # what the CONNECT asked for (a DISCONNECT may not raise it from 0)
        self.keep_alive = 60
        self.receive_maximum = 65535  # the client's, from its CONNECT
        self.max_packet_size: Optional[int] = None  # the client's
        self.subscriptions: Dict[str, SubscriptionOptions] = {}
        self.awaiting_release: Set[int] = set()  # inbound QoS 2 packet ids published but not yet released
        self.will: Optional[Will] = None
        self.publish_will: Callable[["MqttSession", Will], None] = lambda session, will: None
        self.last_disconnect: Dict[str, Any] = {"initiatedByClient": False, "disconnectPacket": None}
        self.last_reason: Optional[str] = None
        self._inflight: "OrderedDict[int, _Outgoing]" = OrderedDict()
        self._pending: Deque[_Outgoing] = deque()
        self._last_packet_id = 0
        self._will_due: Optional[Will] = None
        self._server_disconnect: Optional[Disconnect] = None

    # -- writing ----------------------------------------------------------------------------------------
    def send_packet(self, packet: Packet) -> None:
        if self._ws is None:
            return
        data = encode(packet, self.version)
        if not self._write_directly(data):
            self._enqueue(data, None, len(data))

    # -- delivery (fan-outs call this) -------------------------------------------------------------------
    def deliver(self, message: OutboundMessage, deadline: Optional[float]) -> None:
        if self.closing:
            return
        options: Optional[SubscriptionOptions] = None
        if message.group is None:
            topic, qos = SERVER_MESSAGES_TOPIC, 1  # REST sends reach the session without a subscription
        else:
            topic = message.group
            options = self.subscriptions.get(topic)
            if (options is not None and options.no_local and isinstance(message, MqttMessage)
                    and message.sender_id == self.connection_id):
                return
            granted = options.qos if options is not None else SUBSCRIPTION_DEFAULT_QOS
            qos = min(message.qos if isinstance(message, MqttMessage) else 1, granted)
        properties: Properties = {}
        if self.version == MQTT_5:
            if isinstance(message, MqttMessage):
                properties.update(message.mqtt_properties)
            else:
                properties[CONTENT_TYPE] = MEDIA_TYPES[message.kind]
            if options is not None and options.identifier is not None:
                properties[SUBSCRIPTION_ID] = [options.identifier]
        self.publish(_Outgoing(topic, message.data, qos, properties, deadline))

    def publish_reply(self, topic: str, payload: bytes, qos: int, properties: Properties) -> None:
        """Replies to a user event go to the asking session whether or not it subscribed."""
        self.publish(_Outgoing(topic, payload, qos, properties if self.version == MQTT_5 else {}, None))

    def publish(self, out: _Outgoing) -> None:
        if out.qos == 0:
            if self.attached:  # QoS 0 is not kept for an offline session
                self._send_publish(out, None)
            return
        if len(self._pending) + len(self._inflight) >= MAX_QUEUED_MESSAGES:
            self.close("Too many messages are waiting for this MQTT session.", 1008, drop_queue=True)
            return
        self._pending.append(out)
        self._pump()

    def _pump(self) -> None:
        while self._pending and self.attached and len(self._inflight) < self.receive_maximum:
            out = self._pending.popleft()
            if out.deadline is not None and self._loop.time() > out.deadline:
                continue  # waited longer than its message expiry: dropped, not delivered late
            packet_id = self._new_packet_id()
            self._inflight[packet_id] = out
            self._send_publish(out, packet_id)

    def _new_packet_id(self) -> int:
        while True:
            self._last_packet_id = self._last_packet_id % 65535 + 1
            if self._last_packet_id not in self._inflight:
                return self._last_packet_id

    def _send_publish(self, out: _Outgoing, packet_id: Optional[int], dup: bool = False) -> None:
        properties = out.properties
        if out.deadline is not None and self.version == MQTT_5:
            remaining = out.deadline - self._loop.time()
            if remaining <= 0 and not dup:
                if packet_id is not None:
                    self._inflight.pop(packet_id, None)
                return
            properties = dict(properties)
            properties[MESSAGE_EXPIRY] = max(1, math.ceil(remaining))  # what is left of the message's life
        packet = Publish(out.topic, out.payload, out.qos, dup=dup, packet_id=packet_id, properties=properties)
        data = encode(packet, self.version)
        if self.max_packet_size is not None and len(data) > self.max_packet_size:
            # MQTT 5.0: a message larger than the client accepts is dropped as if it had been delivered.
            if packet_id is not None:
                self._inflight.pop(packet_id, None)
            return
        if self._ws is not None and not self._write_directly(data):
            self._enqueue(data, None, len(data))

    def acknowledged(self, ack: Ack) -> None:
        """PUBACK, PUBREC or PUBCOMP from the client for a message this session sent."""
        out = self._inflight.get(ack.packet_id)
        if ack.kind == PUBREC:
            if out is None or out.qos != 2:
                self.send_packet(Ack(PUBREL, ack.packet_id, PACKET_ID_NOT_FOUND if self.version == MQTT_5 else 0))
                return
            if ack.code >= 0x80:
                del self._inflight[ack.packet_id]
            else:
                out.released = True
                self.send_packet(Ack(PUBREL, ack.packet_id))
        elif out is not None and (ack.kind == PUBACK and out.qos == 1 or ack.kind == PUBCOMP and out.released):
            del self._inflight[ack.packet_id]
        self._pump()

    def resume(self) -> None:
        """After CONNACK on a resumed session: finish what the last network connection left unacknowledged."""
        self._will_due = None
        for packet_id, out in list(self._inflight.items()):
            if out.released:
                self.send_packet(Ack(PUBREL, packet_id))
            else:
                self._send_publish(out, packet_id, dup=True)
        self._pump()

    # -- ending the network connection or the session ------------------------------------------------------
    def network_ended(self, *, by_client: bool, packet: Optional[Disconnect], reason: Optional[str],
                      will: bool) -> None:
        """Remember how the last network connection ended (for the ``disconnected`` event) and arm the will."""
        self.last_disconnect = {"initiatedByClient": by_client, "disconnectPacket": None}
        if packet is not None:
            user_properties = packet.properties.get(USER_PROPERTY) if by_client else None
            self.last_disconnect["disconnectPacket"] = {
                "code": packet.code if self.version == MQTT_5 else 0,
                "userProperties": None if user_properties is None else
                [{"name": name, "value": value} for name, value in user_properties]}
        self.last_reason = reason
        if will and self.will is not None:
            self._arm_will(self.will)

    def _arm_will(self, will: Will) -> None:
        self._will_due = will
        delay = min(int(will.properties.get(WILL_DELAY, 0)), self.expiry_seconds)
        if delay <= 0:
            self._fire_will()
            return
        attachments = self._attachments
        self._call_later(delay, lambda: self._fire_will() if self._attachments == attachments else None)

    def _fire_will(self) -> None:
        will, self._will_due = self._will_due, None
        if will is not None:
            self.publish_will(self, will)

    def start_expiry(self) -> None:
        """The network connection is gone; the session ends unless resumed within its expiry interval."""
        attachments = self._attachments

        def expire() -> None:
            if not self.attached and not self.ended and self._attachments == attachments:
                self.finish(self.last_reason)

        self._call_later(self.expiry_seconds, expire)

    def close(self, reason: str, code: int = 1000, *, drop_queue: bool = False) -> None:
        """Server-side end of the session (REST close, shutdown, overflow): 5.0 clients get a DISCONNECT."""
        if self.closing or self.ended:
            return
        v5_code = DISCONNECT_CODES.get(code, ADMINISTRATIVE_ACTION)
        self._server_disconnect = Disconnect(v5_code, {REASON_STRING: reason[:200]})
        if self.attached:
            self.network_ended(by_client=False, packet=self._server_disconnect if self.version == MQTT_5 else None,
                               reason=reason, will=code != 1001)
        super().close(reason, code, drop_queue=drop_queue)

    async def _send_close(self, ws: web.WebSocketResponse) -> None:
        if self._server_disconnect is not None and self.version == MQTT_5:
            await ws.send_bytes(encode(self._server_disconnect, MQTT_5))
        await super()._send_close(ws)

    def drop_network(self, code: int, reason: str) -> None:
        """End the current network connection but keep the session (keep-alive timeout, session take-over)."""
        transport = self._transport
        if self.version == MQTT_5 and isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(websocket_frame(encode(Disconnect(code, {REASON_STRING: reason[:200]}), MQTT_5)))
        self.drop_socket()

    def finish(self, reason: Optional[str]) -> None:
        if self.ended:
            return
        self._fire_will()  # a delayed will is due at the latest when the session ends
        self.upstream_fields_disconnected()
        super().finish(reason if reason is not None else self.last_reason)

    def upstream_fields_disconnected(self) -> None:
        if self.upstream.mqtt is not None:
            self.upstream.mqtt.disconnected = self.last_disconnect
