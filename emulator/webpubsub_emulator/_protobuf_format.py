"""`protobuf.webpubsub.azure.v1` and `protobuf.reliable.webpubsub.azure.v1`: one serialized message per
binary frame, `UpstreamMessage` from clients and `DownstreamMessage` to them (`protos/webpubsub.proto`).

Encoding and decoding are the protobuf runtime's; this module only maps its messages to the emulator's
requests and data kinds. Reason texts of protocol violations are Microsoft's emulator's.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

from ._messages import BINARY, JSON, PROTOBUF, TEXT, Frame, OutboundMessage, strict_loads
from ._protobuf_schema import DecodeError, DownstreamMessage, MessageData, ProtobufAny, UpstreamMessage
from ._protocol_choices import CLOSE_WRONG_FRAME_TYPE, JSON_DATA_FIELD
from ._requests import JoinGroup, LeaveGroup, Ping, ProtocolViolation, Request, SendEvent, SendToGroup, SequenceAck
from ._wire import RequestFormat

_MISSING_DATA = "Missing MessageData: text_data, binary_data, protobuf_data or json_data is required."
_PONG: bytes = DownstreamMessage(pong_message=DownstreamMessage.PongMessage()).SerializeToString()


def _optional(message: Any, field: str) -> Optional[Any]:
    """The value of a field with presence (`optional` in the schema), None when the client left it out."""
    return getattr(message, field) if message.HasField(field) else None


def _payload(request: Any) -> Tuple[str, bytes]:
    if request.HasField("stream"):
        raise ProtocolViolation("Streaming requests are not supported.")
    data = request.data
    case = data.WhichOneof("data") if request.HasField("data") else None
    if case == "text_data":
        return TEXT, data.text_data.encode("utf-8")
    if case == "binary_data":
        return BINARY, bytes(data.binary_data)
    if case == "protobuf_data":
        return PROTOBUF, data.protobuf_data.SerializeToString()
    if case == "json_data":
        try:
            document = strict_loads(data.json_data)
        except ValueError:
            raise ProtocolViolation("'json_data' is not valid JSON.") from None
        if document is None:
            raise ProtocolViolation("'json_data' must not be null.")
        return JSON, data.json_data.encode("utf-8")
    raise ProtocolViolation(_MISSING_DATA)


def _message_data(message: OutboundMessage) -> Any:
    data = MessageData()
    kind = message.kind
    if kind == TEXT:
        data.text_data = message.data.decode("utf-8")
    elif kind == JSON:
        setattr(data, JSON_DATA_FIELD, message.data.decode("utf-8").strip())
    elif kind == PROTOBUF:
        data.protobuf_data.CopyFrom(ProtobufAny.FromString(message.data))  # checked when it came in
    else:
        data.binary_data = message.data
    return data


class ProtobufFormat(RequestFormat):
    name = "protobuf"
    binary_frames = True
    wrong_frame_reason = "Only binary frames are accepted by protobuf subprotocols."

    # -- what the service sends ---------------------------------------------------------------------
    def _data_message(self, message: OutboundMessage, sequence_id: Optional[int]) -> bytes:
        data_message = DownstreamMessage.DataMessage(data=_message_data(message))
        setattr(data_message, "from", "server" if message.group is None else "group")  # `from` is a keyword
        if message.group is not None:
            data_message.group = message.group
        if sequence_id is not None:
            data_message.sequence_id = sequence_id
        serialized: bytes = DownstreamMessage(data_message=data_message).SerializeToString()
        return serialized

    def data(self, message: OutboundMessage) -> bytes:
        return self._data_message(message, None)

    def sequenced_data(self, message: OutboundMessage, sequence_id: int) -> bytes:
        return self._data_message(message, sequence_id)

    def ack(self, ack_id: int, error_name: Optional[str] = None, error_message: str = "") -> bytes:
        ack = DownstreamMessage.AckMessage(ack_id=ack_id, success=error_name is None)
        if error_name is not None:
            ack.error.name = error_name
            ack.error.message = error_message
        serialized: bytes = DownstreamMessage(ack_message=ack).SerializeToString()
        return serialized

    def pong(self) -> bytes:
        return _PONG

    def connected(self, connection_id: str, user_id: Optional[str], reconnection_token: Optional[str]) -> bytes:
        connected = DownstreamMessage.SystemMessage.ConnectedMessage(connection_id=connection_id,
                                                                     user_id=user_id or "")
        if reconnection_token is not None:
            connected.reconnection_token = reconnection_token
        system = DownstreamMessage.SystemMessage(connected_message=connected)
        serialized: bytes = DownstreamMessage(system_message=system).SerializeToString()
        return serialized

    def disconnected(self, reason: str) -> bytes:
        disconnected = DownstreamMessage.SystemMessage.DisconnectedMessage(reason=reason)
        system = DownstreamMessage.SystemMessage(disconnected_message=disconnected)
        serialized: bytes = DownstreamMessage(system_message=system).SerializeToString()
        return serialized

    # -- what clients send --------------------------------------------------------------------------
    def decode(self, data: Frame) -> Request:
        if not isinstance(data, bytes):
            raise ProtocolViolation(self.wrong_frame_reason, CLOSE_WRONG_FRAME_TYPE)
        try:
            upstream = UpstreamMessage.FromString(data)
        except DecodeError:
            raise ProtocolViolation("Error reading protobuf.") from None
        case = upstream.WhichOneof("message")
        if case == "send_to_group_message":
            send = upstream.send_to_group_message
            return SendToGroup(send.group, *_payload(send), ack_id=_optional(send, "ack_id"),
                               no_echo=send.no_echo, ttl_seconds=_optional(send, "ttl_seconds"))
        if case == "event_message":
            event = upstream.event_message
            return SendEvent(event.event, *_payload(event), ack_id=_optional(event, "ack_id"))
        if case == "join_group_message":
            join = upstream.join_group_message
            return JoinGroup(join.group, _optional(join, "ack_id"))
        if case == "leave_group_message":
            leave = upstream.leave_group_message
            return LeaveGroup(leave.group, _optional(leave, "ack_id"))
        if case == "sequence_ack_message":
            return SequenceAck(upstream.sequence_ack_message.sequence_id)
        if case == "ping_message":
            return Ping()
        raise ProtocolViolation("Unsupported request message type.")


PROTOBUF_FORMAT = ProtobufFormat()
