"""Outbound data messages, serialised lazily and at most once per wire format.

A fan-out to many connections shares one `OutboundMessage`; each connection asks it for the frame its
wire format needs (`_wire.WireFormat`), so the JSON envelope or the protobuf message is built once however
many clients of that format receive it.
"""
from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from ._protocol_choices import PROTOBUF_CONTENT_TYPE

if TYPE_CHECKING:
    from ._wire import WireFormat

TEXT = "text"
JSON = "json"
BINARY = "binary"
PROTOBUF = "protobuf"  # a serialized google.protobuf.Any, from a protobuf client (or a JSON client, see _protocol_choices)

# The media type of each kind, wherever data crosses HTTP or MQTT: client events to the event handler and
# its replies, REST sends (all but protobuf), MQTT 5.0 Content Type (mqtt.md section 9).
MEDIA_TYPES = {TEXT: "text/plain", JSON: "application/json", BINARY: "application/octet-stream",
               PROTOBUF: PROTOBUF_CONTENT_TYPE}
KINDS_BY_MEDIA_TYPE = {media_type: kind for kind, media_type in MEDIA_TYPES.items()}


def media_type(content_type: Optional[str]) -> str:
    """A Content-Type as sent, lower-case and without parameters; "" for none (aiohttp's `content_type`
    would report application/octet-stream for a missing or unparsable header)."""
    return (content_type or "").split(";", 1)[0].strip().lower()

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
    """One data message from the server (`group=None`) or to a group.

    Each wire format renders it at most once (`frame`), and the WebSocket bytes of that frame are built
    at most once (`wire`), however many connections of that format receive it.
    """

    __slots__ = ("kind", "data", "group", "from_user_id", "ttl_seconds", "size", "_frames", "_wires")

    def __init__(self, kind: str, data: bytes, *, group: Optional[str] = None,
                 from_user_id: Optional[str] = None, ttl_seconds: int = 0) -> None:
        self.kind = kind
        # text and json kinds hold UTF-8 text (json: a valid JSON document); protobuf holds a serialized Any
        self.data = data
        self.group = group
        self.from_user_id = from_user_id
        self.ttl_seconds = ttl_seconds
        self.size = len(data)
        self._frames: Dict["WireFormat", Frame] = {}
        self._wires: Dict["WireFormat", bytes] = {}

    def frame(self, wire_format: "WireFormat") -> Frame:
        frame = self._frames.get(wire_format)
        if frame is None:
            frame = self._frames[wire_format] = wire_format.data(self)
        return frame

    def wire(self, wire_format: "WireFormat") -> bytes:
        """The frame as WebSocket bytes, for the fan-out fast path that writes straight to the transport."""
        wire = self._wires.get(wire_format)
        if wire is None:
            wire = self._wires[wire_format] = websocket_frame(self.frame(wire_format))
        return wire


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
