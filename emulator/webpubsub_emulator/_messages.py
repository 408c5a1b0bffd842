"""Outbound data messages, serialised lazily and at most once per client protocol family.

A fan-out to many connections shares one `OutboundMessage`; each connection asks it for the frame its
protocol needs, so the JSON envelope is built once however many JSON clients receive it.
"""
from __future__ import annotations

import base64
import json
import struct
from typing import Any, Dict, Optional, Union

TEXT = "text"
JSON = "json"
BINARY = "binary"
DATA_KINDS = (TEXT, JSON, BINARY)

Frame = Union[str, bytes]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def strict_loads(text: Union[str, bytes]) -> Any:
    """json.loads without Python's NaN/Infinity extensions, which other JSON parsers reject.

    Every failure is a ValueError, including nesting deeper than the interpreter's recursion limit
    allows (roughly 1,000 levels) -- a RecursionError from json is a refusal of the input, not a crash.
    """
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def dumps(value: Any) -> str:
    """Compact JSON; raises ValueError rather than write NaN/Infinity (what `1e400` parses to)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class OutboundMessage:
    """One data message from the server (`from_group=None`) or to a group."""

    __slots__ = ("kind", "data", "group", "from_user_id", "ttl_seconds", "_simple", "_json", "size",
                 "_simple_wire", "_json_wire")

    def __init__(self, kind: str, data: bytes, *, group: Optional[str] = None,
                 from_user_id: Optional[str] = None, ttl_seconds: int = 0) -> None:
        self.kind = kind
        self.data = data  # text and json kinds hold UTF-8 text; json holds a valid JSON document
        self.group = group
        self.from_user_id = from_user_id
        self.ttl_seconds = ttl_seconds
        self.size = len(data)
        self._simple: Optional[Frame] = None
        self._json: Optional[str] = None
        self._simple_wire: Optional[bytes] = None
        self._json_wire: Optional[bytes] = None

    def simple_wire(self) -> bytes:
        """The simple frame as WebSocket bytes, built once for every simple client."""
        if self._simple_wire is None:
            self._simple_wire = websocket_frame(self.simple_frame())
        return self._simple_wire

    def json_wire(self) -> bytes:
        if self._json_wire is None:
            self._json_wire = websocket_frame(self.json_frame())
        return self._json_wire

    def simple_frame(self) -> Frame:
        """Simple clients get the bare payload: text frames for text/json, binary frames for binary."""
        if self._simple is None:
            self._simple = self.data if self.kind == BINARY else self.data.decode("utf-8")
        return self._simple

    def json_frame(self) -> str:
        """The `{"type":"message",...}` envelope of the JSON subprotocols (without sequenceId)."""
        if self._json is None:
            head: Dict[str, Any] = {"type": "message"}
            if self.group is None:
                head["from"] = "server"
            else:
                head["from"] = "group"
                head["group"] = self.group
                if self.from_user_id is not None:
                    head["fromUserId"] = self.from_user_id
            head["dataType"] = self.kind
            if self.kind == JSON:
                data_text = self.data.decode("utf-8").strip()
            elif self.kind == TEXT:
                data_text = dumps(self.data.decode("utf-8"))
            else:
                data_text = '"' + base64.b64encode(self.data).decode("ascii") + '"'
            self._json = dumps(head)[:-1] + ',"data":' + data_text + "}"
        return self._json


def websocket_frame(frame: Frame) -> bytes:
    """One unmasked, uncompressed, final server-to-client frame (RFC 6455 section 5.2)."""
    if isinstance(frame, str):
        first, payload = 0x81, frame.encode("utf-8")
    else:
        first, payload = 0x82, frame
    length = len(payload)
    if length < 126:
        return bytes((first, length)) + payload
    if length < 65536:
        return struct.pack("!BBH", first, 126, length) + payload
    return struct.pack("!BBQ", first, 127, length) + payload


def with_sequence_id(frame: str, sequence_id: int) -> str:
    return frame[:-1] + ',"sequenceId":' + str(sequence_id) + "}"


def ack_frame(ack_id: int, error_name: Optional[str] = None, error_message: str = "") -> str:
    if error_name is None:
        return dumps({"type": "ack", "ackId": ack_id, "success": True})
    return dumps({"type": "ack", "ackId": ack_id, "success": False,
                  "error": {"name": error_name, "message": error_message}})


def connected_frame(connection_id: str, user_id: Optional[str], reconnection_token: Optional[str]) -> str:
    message: Dict[str, Any] = {"type": "system", "event": "connected", "connectionId": connection_id,
                               "userId": user_id}
    if reconnection_token is not None:
        message["reconnectionToken"] = reconnection_token
    return dumps(message)


def disconnected_frame(reason: str) -> str:
    return dumps({"type": "system", "event": "disconnected", "message": reason})


PONG_FRAME = dumps({"type": "pong"})
