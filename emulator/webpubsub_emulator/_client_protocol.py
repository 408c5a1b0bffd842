"""What clients send after the handshake: subprotocol requests and simple-client frames.

The operations (join, leave, publish to a group, user event) are written once in `ClientOperations`.
`ClientRequests` serves every subprotocol family: its `RequestFormat` decodes a frame into a request of
`_requests`, and acks and pongs go back in the same format. `SimpleProtocol` maps a simple client's frames
onto the same operations.
"""
from __future__ import annotations

import logging
from typing import Optional

from ._connection import Connection
from ._hub import Hub
from ._limits import is_valid_event_name
from ._messages import BINARY, MEDIA_TYPES, TEXT, Frame, OutboundMessage
from ._permissions import JOIN_LEAVE, SEND
from ._protocol_choices import CLOSE_WRONG_FRAME_TYPE
from ._requests import (AckedRequest, JoinGroup, LeaveGroup, Ping, ProtocolViolation, SendEvent, SendToGroup,
                        SequenceAck, sendable)
from ._rest_support import is_valid_group
from ._upstream import Reply, Upstream, UpstreamFailed
from ._wire import RequestFormat

logger = logging.getLogger("webpubsub_emulator")

_MAX_TTL_SECONDS = 300

__all__ = ["ClientRequests", "ProtocolViolation", "SimpleProtocol"]


class _Rejected(Exception):
    """A well-formed request the service refuses; answered with a failed ack (if it has an ackId)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = sendable(message)


def reply_message(reply: Reply) -> OutboundMessage:
    return OutboundMessage(reply.data_type, reply.data)


class ClientOperations:
    """The operations a client connection can ask for; each raises `_Rejected` when refused."""

    def __init__(self, hub: Hub, connection: Connection, upstream: Upstream) -> None:
        self.hub = hub
        self.connection = connection
        self.upstream = upstream

    def _check(self, permission: str, group: str) -> None:
        if not is_valid_group(group):
            raise _Rejected("BadRequest", f"Invalid group name '{group}'.")
        if not self.connection.permissions.allows(permission, group):
            verb = "join or leave" if permission == JOIN_LEAVE else "send to"
            raise _Rejected("Forbidden", f"The connection has no permission to {verb} group '{group}'.")

    def join(self, group: str) -> None:
        self._check(JOIN_LEAVE, group)
        self.hub.join(self.connection, group)

    def leave(self, group: str) -> None:
        self._check(JOIN_LEAVE, group)
        self.hub.leave(self.connection, group)

    def publish(self, group: str, kind: str, data: bytes, *, no_echo: bool = False,
                ttl_seconds: Optional[int] = None) -> None:
        if ttl_seconds is not None and not 0 <= ttl_seconds <= _MAX_TTL_SECONDS:
            raise _Rejected("BadRequest", f"The TTL must be an integer from 0 to {_MAX_TTL_SECONDS} seconds.")
        self._check(SEND, group)
        sender = self.connection
        outbound = OutboundMessage(kind, data, group=group, from_user_id=sender.user_id,
                                   ttl_seconds=ttl_seconds or 0)
        self.hub.fan_out(self.hub.group_members(group), outbound,
                         (lambda conn: conn is not sender) if no_echo else None)

    async def event(self, name: str, kind: str, data: bytes) -> None:
        """A user event; a reply from the handler goes back to this connection only."""
        if not is_valid_event_name(name):
            raise _Rejected("BadRequest", f"Invalid event name '{name}'.")
        try:
            reply = await self.upstream.user_event(self.connection.upstream, name, data, MEDIA_TYPES[kind])
        except UpstreamFailed as failure:
            logger.warning("event %r of %s failed: %s", name, self.connection.connection_id, failure.reason)
            raise _Rejected("InternalServerError", "The event could not be delivered to the event handler.") from None
        if reply is not None:
            self.hub.fan_out([self.connection], reply_message(reply))


class ClientRequests(ClientOperations):
    """The requests of one subprotocol connection (JSON or protobuf), with ack bookkeeping."""

    def __init__(self, hub: Hub, connection: Connection, upstream: Upstream, wire: RequestFormat) -> None:
        super().__init__(hub, connection, upstream)
        self.wire = wire

    async def on_frame(self, data: Frame, binary: bool) -> None:
        if binary != self.wire.binary_frames:
            raise ProtocolViolation(self.wire.wrong_frame_reason, CLOSE_WRONG_FRAME_TYPE)
        request = self.wire.decode(data)
        if isinstance(request, Ping):
            self.connection.send_control(self.wire.pong())
        elif isinstance(request, SequenceAck):
            if self.connection.reliable:
                self.connection.sequence_ack(request.sequence_id)
        else:
            await self._acked(request)

    async def _acked(self, request: AckedRequest) -> None:
        ack_id = request.ack_id
        if ack_id is not None and self.connection.ack_id_processed(ack_id):
            self.connection.send_control(
                self.wire.ack(ack_id, "Duplicate", f"Message with ack-id: {ack_id} has been processed"))
            return
        try:
            await self._execute(request)
        except _Rejected as rejected:
            if ack_id is not None:
                self.connection.send_control(self.wire.ack(ack_id, rejected.name, rejected.message))
            return
        if ack_id is not None:
            self.connection.remember_ack_id(ack_id)
            self.connection.send_control(self.wire.ack(ack_id))

    async def _execute(self, request: AckedRequest) -> None:
        if isinstance(request, JoinGroup):
            self.join(request.group)
        elif isinstance(request, LeaveGroup):
            self.leave(request.group)
        elif isinstance(request, SendToGroup):
            self.publish(request.group, request.kind, request.data, no_echo=request.no_echo,
                         ttl_seconds=request.ttl_seconds)
        elif isinstance(request, SendEvent):
            await self.event(request.event, request.kind, request.data)


class SimpleProtocol(ClientOperations):
    """Clients without a predefined subprotocol: every frame is the `message` event or a group publish."""

    def __init__(self, hub: Hub, connection: Connection, upstream: Upstream, *,
                 publish_group: Optional[str], no_echo: bool) -> None:
        super().__init__(hub, connection, upstream)
        self.publish_group = publish_group
        self.no_echo = no_echo

    async def on_frame(self, data: Frame, binary: bool) -> None:
        payload = data if isinstance(data, bytes) else data.encode("utf-8")
        kind = BINARY if binary else TEXT
        if self.publish_group is not None:
            try:
                self.publish(self.publish_group, kind, payload, no_echo=self.no_echo)
            except _Rejected:
                pass  # simple clients have no acks: a refused publish is dropped
            return
        try:
            await self.event("message", kind, payload)
        except _Rejected:
            raise ProtocolViolation("The message could not be delivered to the event handler.", 1011) from None
