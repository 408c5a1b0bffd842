"""What subprotocol clients ask for, independent of how it was encoded.

The JSON and protobuf decoders (`_json_format`, `_protobuf_format`) turn a frame into one of these
requests, or raise `ProtocolViolation`; `_client_protocol.ClientRequests` executes them, so each
operation's rules (permissions, acks, validation of names) are written once for every protocol family.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from ._protocol_choices import CLOSE_INVALID_MESSAGE


class ProtocolViolation(Exception):
    """The client sent something that is not a valid protocol message; it gets closed with `code`."""

    def __init__(self, reason: str, code: int = CLOSE_INVALID_MESSAGE) -> None:
        super().__init__(reason)
        self.reason = sendable(reason)
        self.code = code


def sendable(text: str) -> str:
    """Messages quote what the client sent; a lone surrogate from a JSON escape cannot go out as UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class JoinGroup:
    group: str
    ack_id: Optional[int] = None


@dataclass(frozen=True)
class LeaveGroup:
    group: str
    ack_id: Optional[int] = None


@dataclass(frozen=True)
class SendToGroup:
    group: str
    kind: str  # a data kind of _messages: text, json, binary or protobuf
    data: bytes
    ack_id: Optional[int] = None
    no_echo: bool = False
    ttl_seconds: Optional[int] = None  # checked by the operation (0..300), so a bad value gets an ack


@dataclass(frozen=True)
class SendEvent:
    event: str
    kind: str
    data: bytes
    ack_id: Optional[int] = None


@dataclass(frozen=True)
class SequenceAck:
    sequence_id: int


@dataclass(frozen=True)
class Ping:
    pass


Request = Union[JoinGroup, LeaveGroup, SendToGroup, SendEvent, SequenceAck, Ping]
AckedRequest = Union[JoinGroup, LeaveGroup, SendToGroup, SendEvent]
