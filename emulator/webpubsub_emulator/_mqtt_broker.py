"""What an MQTT client's packets do once it is connected: SUBSCRIBE joins groups, UNSUBSCRIBE leaves them,
PUBLISH sends to a group (or, on ``$webpubsub/server/events/{event}``, calls the event handler), under the
same roles and grants as every other client.

A refusal the client can be told about is answered in its ack (5.0 reason codes; 3.1.1 has only SUBACK's
0x80). A QoS 0 publish has no ack, so refusing one ends the network connection (``PacketError``).
"""
from __future__ import annotations

import logging
import re
from typing import Dict, Optional, Tuple, Union

from ._hub import Hub
from ._limits import is_valid_event_name
from ._messages import BINARY, JSON, KINDS_BY_MEDIA_TYPE, PROTOBUF, TEXT, media_type, strict_loads
from ._mqtt_codec import (MQTT_5, PUBACK, PUBCOMP, PUBREC, PUBREL, Ack, Auth, ConnAck, Connect, Disconnect, Packet,
                          PacketError, PingReq, PingResp, Publish, SubAck, Subscribe, Subscription, UnsubAck,
                          Unsubscribe, Will)
from ._mqtt_properties import (CONTENT_TYPE, CORRELATION_DATA, MESSAGE_EXPIRY, PAYLOAD_FORMAT, REASON_STRING,
                               RESPONSE_TOPIC, SUBSCRIPTION_ID, TOPIC_ALIAS, USER_PROPERTY, Properties)
from ._mqtt_rules import (EVENT_HEADER_PREFIX, NOT_AUTHORIZED, PACKET_ID_NOT_FOUND,
                          PAYLOAD_FORMAT_INVALID, PROTOCOL_ERROR, RESERVED_TOPIC_PREFIX, RETAIN_NOT_SUPPORTED,
                          SHARED_NOT_SUPPORTED, STATUS_CODE_PROPERTY, TOPIC_ALIAS_INVALID, TOPIC_FILTER_INVALID,
                          TOPIC_NAME_INVALID, WILDCARD_NOT_SUPPORTED, IMPLEMENTATION_SPECIFIC, event_name_from_topic,
                          has_wildcard, is_reply_or_server_topic, reply_topics, subscribe_failure)
from ._mqtt_session import MqttMessage, MqttSession, SubscriptionOptions
from ._permissions import JOIN_LEAVE, SEND
from ._protobuf_schema import is_serialized_any
from ._rest_support import is_valid_group
from ._upstream import Upstream, UpstreamFailed

logger = logging.getLogger("webpubsub_emulator")

_FORWARDED = (PAYLOAD_FORMAT, CONTENT_TYPE, RESPONSE_TOPIC, CORRELATION_DATA, USER_PROPERTY)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_NO_SUCH_SUBSCRIPTION = 0x11


def message_from_publish(session: MqttSession, topic: str, payload: bytes, qos: int,
                         properties: Properties) -> Union[MqttMessage, Tuple[int, str]]:
    """The group message a PUBLISH (or a will) becomes, or the reason code that refuses its payload."""
    kind = KINDS_BY_MEDIA_TYPE.get(media_type(properties.get(CONTENT_TYPE)), BINARY)  # no or another type: binary
    if kind in (TEXT, JSON) or properties.get(PAYLOAD_FORMAT) == 1:
        try:
            text = payload.decode("utf-8")
            if kind == JSON:
                strict_loads(text)
        except ValueError:  # UnicodeDecodeError included
            return PAYLOAD_FORMAT_INVALID, f"The payload is not valid {'JSON' if kind == JSON else 'UTF-8'}."
    if kind == PROTOBUF and not is_serialized_any(payload):  # protobuf clients get it as a google.protobuf.Any
        return PAYLOAD_FORMAT_INVALID, "The payload is not a serialized google.protobuf.Any."
    return MqttMessage(kind, payload, group=topic, from_user_id=session.user_id,
                       ttl_seconds=int(properties.get(MESSAGE_EXPIRY, 0)), qos=qos,
                       mqtt_properties={key: properties[key] for key in _FORWARDED if key in properties},
                       sender_id=session.connection_id)


def publish_will(hub: Hub, session: MqttSession, will: Will) -> None:
    if not session.permissions.allows(SEND, will.topic):
        logger.info("will of %s not published: no permission to send to %r", session.connection_id, will.topic)
        return
    message = message_from_publish(session, will.topic, will.payload, will.qos, will.properties)
    if isinstance(message, tuple):
        logger.info("will of %s not published: %s", session.connection_id, message[1])
        return
    hub.fan_out(hub.group_members(will.topic), message)


class MqttBroker:
    def __init__(self, hub: Hub, session: MqttSession, upstream: Upstream) -> None:
        self.hub = hub
        self.session = session
        self.upstream = upstream
        self.v5 = session.version == MQTT_5

    async def handle(self, packet: Packet) -> Optional[Disconnect]:
        """Act on one packet; a DISCONNECT is returned for the caller to end the network connection."""
        session = self.session
        if isinstance(packet, Publish):
            await self._publish(packet)
        elif isinstance(packet, Ack) and packet.kind == PUBREL:
            found = packet.packet_id in session.awaiting_release
            session.awaiting_release.discard(packet.packet_id)
            session.send_packet(Ack(PUBCOMP, packet.packet_id, 0 if found or not self.v5 else PACKET_ID_NOT_FOUND))
        elif isinstance(packet, Ack):
            session.acknowledged(packet)
        elif isinstance(packet, Subscribe):
            self._subscribe(packet)
        elif isinstance(packet, Unsubscribe):
            self._unsubscribe(packet)
        elif isinstance(packet, PingReq):
            session.send_packet(PingResp())
        elif isinstance(packet, Disconnect):
            return packet
        elif isinstance(packet, Auth):
            raise PacketError(PROTOCOL_ERROR, "AUTH is only allowed after a CONNECT with an authentication method.")
        else:
            assert isinstance(packet, (Connect, ConnAck, SubAck, UnsubAck, PingResp))
            raise PacketError(PROTOCOL_ERROR, f"A client must not send {type(packet).__name__.upper()} here.")
        return None

    # -- subscriptions ------------------------------------------------------------------------------------
    def _subscribe(self, packet: Subscribe) -> None:
        identifiers = packet.properties.get(SUBSCRIPTION_ID)
        identifier = identifiers[0] if identifiers else None
        codes = [self._subscribe_one(item, identifier) for item in packet.subscriptions]
        self.session.send_packet(SubAck(packet.packet_id, codes))

    def _subscribe_one(self, item: Subscription, identifier: Optional[int]) -> int:
        version, topic = self.session.version, item.topic_filter
        if topic.startswith("$share/"):
            return subscribe_failure(version, SHARED_NOT_SUPPORTED)
        if has_wildcard(topic):
            return subscribe_failure(version, WILDCARD_NOT_SUPPORTED)
        if is_reply_or_server_topic(topic):
            return item.qos  # delivered without a subscription; subscribing is allowed and changes nothing
        if topic.startswith(RESERVED_TOPIC_PREFIX) or not is_valid_group(topic):
            return subscribe_failure(version, TOPIC_FILTER_INVALID)
        if not self.session.permissions.allows(JOIN_LEAVE, topic):
            return subscribe_failure(version, NOT_AUTHORIZED)
        self.hub.join(self.session, topic)
        self.session.subscriptions[topic] = SubscriptionOptions(item.qos, item.no_local, identifier)
        return item.qos

    def _unsubscribe(self, packet: Unsubscribe) -> None:
        codes = []
        for topic in packet.topic_filters:
            if is_reply_or_server_topic(topic):
                codes.append(0)
            elif has_wildcard(topic) or topic.startswith(RESERVED_TOPIC_PREFIX) or not is_valid_group(topic):
                codes.append(TOPIC_FILTER_INVALID)
            elif not self.session.permissions.allows(JOIN_LEAVE, topic):
                codes.append(NOT_AUTHORIZED)
            else:
                codes.append(0 if topic in self.session.groups else _NO_SUCH_SUBSCRIPTION)
                self.hub.leave(self.session, topic)
                self.session.subscriptions.pop(topic, None)
        self.session.send_packet(UnsubAck(packet.packet_id, codes if self.v5 else []))

    # -- publishing ---------------------------------------------------------------------------------------
    async def _publish(self, packet: Publish) -> None:
        session, properties = self.session, packet.properties
        if TOPIC_ALIAS in properties:
            raise PacketError(TOPIC_ALIAS_INVALID, "Topic aliases are not supported (Topic Alias Maximum is 0).")
        if SUBSCRIPTION_ID in properties:
            raise PacketError(PROTOCOL_ERROR, "A client must not send a Subscription Identifier in PUBLISH.")
        if packet.retain and self.v5:
            raise PacketError(RETAIN_NOT_SUPPORTED, "Retained messages are not supported.")
        if packet.qos == 2 and packet.packet_id in session.awaiting_release:
            session.send_packet(Ack(PUBREC, packet.packet_id))  # a resend of a message already taken
            return
        code, reason = await self._send(packet)
        if code >= 0x80 and packet.qos == 0:
            raise PacketError(code, reason)
        if packet.qos:
            assert packet.packet_id is not None
            if packet.qos == 2 and (code < 0x80 or not self.v5):
                session.awaiting_release.add(packet.packet_id)
            ack_properties: Properties = {REASON_STRING: reason} if code >= 0x80 and self.v5 else {}
            kind = PUBACK if packet.qos == 1 else PUBREC
            session.send_packet(Ack(kind, packet.packet_id, code if self.v5 else 0, ack_properties))

    async def _send(self, packet: Publish) -> Tuple[int, str]:
        topic = packet.topic
        event = event_name_from_topic(topic)
        if event is not None:
            return await self._user_event(event, packet)
        if not topic or has_wildcard(topic) or topic.startswith(RESERVED_TOPIC_PREFIX) or not is_valid_group(topic):
            return TOPIC_NAME_INVALID, f"Topic {topic!r} is not a group that can be published to."
        if not self.session.permissions.allows(SEND, topic):
            return NOT_AUTHORIZED, f"The session has no permission to publish to {topic!r}."
        message = message_from_publish(self.session, topic, packet.payload, packet.qos, packet.properties)
        if isinstance(message, tuple):
            return message
        self.hub.fan_out(self.hub.group_members(topic), message)
        return 0, ""

    async def _user_event(self, event: str, packet: Publish) -> Tuple[int, str]:
        """Publish to ``$webpubsub/server/events/{event}`` -> event handler -> reply on ``.../succeeded|failed``."""
        if not is_valid_event_name(event):
            return TOPIC_NAME_INVALID, f"{event!r} is not a valid event name."
        properties = packet.properties
        headers: Dict[str, str] = {}
        for name, value in properties.get(USER_PROPERTY, []):
            if not _HEADER_NAME.match(name) or any(ord(char) < 32 or ord(char) == 127 for char in value):
                return IMPLEMENTATION_SPECIFIC, f"User property {name!r} cannot travel as an HTTP header."
            key = EVENT_HEADER_PREFIX + name
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        content_type = properties.get(CONTENT_TYPE) or "application/octet-stream"
        reply: Properties = {}
        try:
            status, reply_headers, body = await self.upstream.mqtt_user_event(
                self.session.upstream, event, packet.payload, content_type, headers)
        except UpstreamFailed as failure:  # no handler, unreachable, timed out: the client hears "500"
            logger.warning("event %r of %s failed: %s", event, self.session.connection_id, failure.reason)
            status, body, user_properties = 500, b"", []
        else:
            user_properties = [(name[len(EVENT_HEADER_PREFIX):], value) for name, value in reply_headers.items()
                               if name.lower().startswith(EVENT_HEADER_PREFIX)]
            if reply_headers.get("Content-Type"):
                reply[CONTENT_TYPE] = reply_headers["Content-Type"]
        reply[USER_PROPERTY] = [(STATUS_CODE_PROPERTY, str(status))] + user_properties
        if CORRELATION_DATA in properties:
            reply[CORRELATION_DATA] = properties[CORRELATION_DATA]
        succeeded, failed = reply_topics(event)
        self.session.publish_reply(succeeded if 200 <= status < 300 else failed, body, packet.qos, reply)
        return 0, ""
