"""What clients send after the handshake: JSON subprotocol requests and simple-client frames."""
from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from typing import Any, Dict, Optional, Tuple

from ._connection import Connection
from ._hub import Hub
from ._messages import BINARY, JSON, PONG_FRAME, TEXT, OutboundMessage, ack_frame, dumps, strict_loads
from ._permissions import JOIN_LEAVE, SEND
from ._rest_support import is_valid_group
from ._upstream import Reply, Upstream, UpstreamFailed

logger = logging.getLogger("webpubsub_emulator")

_EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
_CONTENT_TYPES = {TEXT: "text/plain", JSON: "application/json", BINARY: "application/octet-stream"}
_MAX_UINT64 = 2 ** 64 - 1


class ProtocolViolation(Exception):
    """The client sent something that is not a valid protocol message; it gets closed with `code`."""

    def __init__(self, reason: str, code: int = 1007) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class _Rejected(Exception):
    """A well-formed request the service refuses; answered with a failed ack (if it has an ackId)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def _uint64(value: Any, field: str) -> int:
    # The int case returns from inside the isinstance() check: mypy narrows Any there on every version.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_UINT64:
        return value
    raise ProtocolViolation(f"'{field}' must be an unsigned 64-bit integer.")


def _payload(message: Dict[str, Any]) -> Tuple[str, bytes]:
    data_type = message.get("dataType")
    kind = JSON if data_type is None else data_type.lower() if isinstance(data_type, str) else ""
    if "data" not in message:
        raise ProtocolViolation("The message has no 'data'.")
    data = message["data"]
    if kind == JSON:
        if data is None:
            raise ProtocolViolation("JSON 'data' must not be null.")
        return JSON, dumps(data).encode("utf-8")
    if kind == TEXT:
        if not isinstance(data, str):
            raise ProtocolViolation("'data' must be a string when dataType is text.")
        return TEXT, data.encode("utf-8")
    if kind == BINARY:
        if not isinstance(data, str):
            raise ProtocolViolation("'data' must be a base64 string when dataType is binary.")
        try:
            return BINARY, base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolViolation("'data' is not valid base64.") from None
    raise ProtocolViolation(f"Unsupported dataType {json.dumps(data_type)}.")


def _group_field(message: Dict[str, Any]) -> str:
    group = message.get("group")
    if not isinstance(group, str):
        raise ProtocolViolation("'group' must be a string.")
    if not is_valid_group(group):
        raise _Rejected("BadRequest", f"Invalid group name '{group}'.")
    return group


def reply_message(reply: Reply) -> OutboundMessage:
    return OutboundMessage(reply.data_type, reply.data)


class JsonProtocol:
    """`json.webpubsub.azure.v1` and `json.reliable.webpubsub.azure.v1` requests of one connection."""

    def __init__(self, hub: Hub, connection: Connection, upstream: Upstream) -> None:
        self.hub = hub
        self.connection = connection
        self.upstream = upstream

    async def on_text(self, text: str) -> None:
        try:
            message = strict_loads(text)
        except ValueError:
            raise ProtocolViolation("The message is not valid JSON.") from None
        if not isinstance(message, dict):
            raise ProtocolViolation("The message must be a JSON object.")
        kind = message.get("type")
        if not isinstance(kind, str):
            raise ProtocolViolation("The message has no 'type'.")
        kind = kind.lower()
        if kind == "ping":
            self.connection.send_control(PONG_FRAME)
            return
        if kind == "sequenceack":
            sequence_id = _uint64(message.get("sequenceId"), "sequenceId")
            if self.connection.reliable:
                self.connection.sequence_ack(sequence_id)
            return
        operation = {"joingroup": self._join, "leavegroup": self._leave, "sendtogroup": self._send_to_group,
                     "event": self._event}.get(kind)
        if operation is None:
            raise ProtocolViolation(f"Unknown message type '{message.get('type')}'.")
        raw_ack_id = message.get("ackId")
        ack_id = None if raw_ack_id is None else _uint64(raw_ack_id, "ackId")
        if ack_id is not None and self.connection.ack_id_processed(ack_id):
            self.connection.send_control(
                ack_frame(ack_id, "Duplicate", f"Message with ack-id: {ack_id} has been processed"))
            return
        try:
            await operation(message)
        except _Rejected as rejected:
            if ack_id is not None:
                self.connection.send_control(ack_frame(ack_id, rejected.name, rejected.message))
            return
        if ack_id is not None:
            self.connection.remember_ack_id(ack_id)
            self.connection.send_control(ack_frame(ack_id))

    def _check(self, permission: str, group: str) -> None:
        if not self.connection.permissions.allows(permission, group):
            verb = "join or leave" if permission == JOIN_LEAVE else "send to"
            raise _Rejected("Forbidden", f"The connection has no permission to {verb} group '{group}'.")

    async def _join(self, message: Dict[str, Any]) -> None:
        group = _group_field(message)
        self._check(JOIN_LEAVE, group)
        self.hub.join(self.connection, group)

    async def _leave(self, message: Dict[str, Any]) -> None:
        group = _group_field(message)
        self._check(JOIN_LEAVE, group)
        self.hub.leave(self.connection, group)

    async def _send_to_group(self, message: Dict[str, Any]) -> None:
        group = _group_field(message)
        kind, data = _payload(message)
        no_echo = message.get("noEcho")
        if no_echo is not None and not isinstance(no_echo, bool):
            raise ProtocolViolation("'noEcho' must be a boolean.")
        ttl = message.get("ttlSeconds")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 300):
            raise _Rejected("BadRequest", "'ttlSeconds' must be an integer between 0 and 300.")
        self._check(SEND, group)
        outbound = OutboundMessage(kind, data, group=group, from_user_id=self.connection.user_id,
                                   ttl_seconds=ttl or 0)
        sender = self.connection
        self.hub.fan_out(self.hub.group_members(group), outbound,
                         (lambda conn: conn is not sender) if no_echo else None)

    async def _event(self, message: Dict[str, Any]) -> None:
        name = message.get("event")
        if not isinstance(name, str):
            raise ProtocolViolation("'event' must be a string.")
        if not _EVENT_NAME.match(name):
            raise _Rejected("BadRequest", f"Invalid event name '{name}'.")
        kind, data = _payload(message)
        try:
            reply = await self.upstream.user_event(self.connection.upstream, name, data, _CONTENT_TYPES[kind])
        except UpstreamFailed as failure:
            logger.warning("event %r of %s failed: %s", name, self.connection.connection_id, failure.reason)
            raise _Rejected("InternalServerError", "The event could not be delivered to the event handler.") from None
        if reply is not None:
            self.hub.fan_out([self.connection], reply_message(reply))


class SimpleProtocol:
    """Clients without a predefined subprotocol: every frame is the `message` event or a group publish."""

    def __init__(self, hub: Hub, connection: Connection, upstream: Upstream, *,
                 publish_group: Optional[str], no_echo: bool) -> None:
        self.hub = hub
        self.connection = connection
        self.upstream = upstream
        self.publish_group = publish_group
        self.no_echo = no_echo

    async def on_frame(self, data: bytes, binary: bool) -> None:
        if self.publish_group is not None:
            group = self.publish_group
            if not self.connection.permissions.allows(SEND, group):
                return
            sender = self.connection
            outbound = OutboundMessage(BINARY if binary else TEXT, data, group=group,
                                       from_user_id=sender.user_id)
            self.hub.fan_out(self.hub.group_members(group), outbound,
                             (lambda conn: conn is not sender) if self.no_echo else None)
            return
        content_type = "application/octet-stream" if binary else "text/plain"
        try:
            reply = await self.upstream.user_event(self.connection.upstream, "message", data, content_type)
        except UpstreamFailed as failure:
            logger.warning("message event of %s failed: %s", self.connection.connection_id, failure.reason)
            raise ProtocolViolation("The message could not be delivered to the event handler.", 1011) from None
        if reply is not None:
            self.hub.fan_out([self.connection], reply_message(reply))
