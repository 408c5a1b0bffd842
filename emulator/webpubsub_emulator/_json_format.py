"""`json.webpubsub.azure.v1` and `json.reliable.webpubsub.azure.v1`: text frames of one JSON object each."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, Optional, Tuple

from ._messages import BINARY, JSON, PROTOBUF, TEXT, Frame, OutboundMessage, dumps, strict_loads
from ._protobuf_schema import is_serialized_any
from ._protocol_choices import ACCEPT_PROTOBUF_FROM_JSON_CLIENTS, CLOSE_WRONG_FRAME_TYPE
from ._requests import JoinGroup, LeaveGroup, Ping, ProtocolViolation, Request, SendEvent, SendToGroup, SequenceAck
from ._wire import RequestFormat

_MAX_UINT64 = 2 ** 64 - 1
_PONG = dumps({"type": "pong"})


def _uint64(value: Any, field: str) -> int:
    # The int case returns from inside the isinstance() check: mypy narrows Any there on every version.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_UINT64:
        return value
    raise ProtocolViolation(f"'{field}' must be an unsigned 64-bit integer.")


def _base64(data: Any, data_type: str) -> bytes:
    if not isinstance(data, str):
        raise ProtocolViolation(f"'data' must be a base64 string when dataType is {data_type}.")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolViolation("'data' is not valid base64.") from None


def _payload(message: Dict[str, Any], accept_protobuf: bool) -> Tuple[str, bytes]:
    data_type = message.get("dataType")
    kind = JSON if data_type is None else data_type.lower() if isinstance(data_type, str) else ""
    if "data" not in message:
        raise ProtocolViolation("The message has no 'data'.")
    data = message["data"]
    if kind == JSON:
        if data is None:
            raise ProtocolViolation("JSON 'data' must not be null.")
        try:
            return JSON, dumps(data).encode("utf-8")
        except RecursionError:  # parsed just below the recursion limit, re-encoded a few frames deeper
            raise ProtocolViolation("'data' is nested too deeply.") from None
        except ValueError:  # 1e400 parses to infinity; "\ud800" to a lone surrogate that UTF-8 cannot carry
            raise ProtocolViolation("'data' holds a number or string that JSON text cannot carry.") from None
    if kind == TEXT:
        if not isinstance(data, str):
            raise ProtocolViolation("'data' must be a string when dataType is text.")
        try:
            return TEXT, data.encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolViolation("'data' holds a lone surrogate, which is not text.") from None
    if kind == BINARY:
        return BINARY, _base64(data, kind)
    if kind == PROTOBUF and accept_protobuf:
        payload = _base64(data, kind)
        if not is_serialized_any(payload):
            raise ProtocolViolation("'data' is not a serialized google.protobuf.Any.")
        return PROTOBUF, payload
    if isinstance(data_type, (dict, list)):  # never echo a structure back: it may be huge or deep
        raise ProtocolViolation("'dataType' must be a string.")
    raise ProtocolViolation(f"Unsupported dataType {json.dumps(data_type)[:100]}.")


def _string(message: Dict[str, Any], field: str) -> str:
    value = message.get(field)
    if not isinstance(value, str):
        raise ProtocolViolation(f"'{field}' must be a string.")
    return value


class JsonFormat(RequestFormat):
    name = "json"
    binary_frames = False
    wrong_frame_reason = "Only text frames are accepted by JSON subprotocols."

    def __init__(self, *, accept_protobuf_data: bool = ACCEPT_PROTOBUF_FROM_JSON_CLIENTS) -> None:
        self.accept_protobuf_data = accept_protobuf_data

    # -- what the service sends ---------------------------------------------------------------------
    def data(self, message: OutboundMessage) -> str:
        """The `{"type":"message",...}` envelope (without sequenceId)."""
        head: Dict[str, Any] = {"type": "message"}
        if message.group is None:
            head["from"] = "server"
        else:
            head["from"] = "group"
            head["group"] = message.group
            if message.from_user_id is not None:
                head["fromUserId"] = message.from_user_id
        head["dataType"] = message.kind
        if message.kind == JSON:
            data_text = message.data.decode("utf-8").strip()
        elif message.kind == TEXT:
            data_text = dumps(message.data.decode("utf-8"))
        else:
            data_text = '"' + base64.b64encode(message.data).decode("ascii") + '"'
        return dumps(head)[:-1] + ',"data":' + data_text + "}"

    def sequenced_data(self, message: OutboundMessage, sequence_id: int) -> str:
        frame = message.frame(self)
        assert isinstance(frame, str)
        return frame[:-1] + ',"sequenceId":' + str(sequence_id) + "}"

    def ack(self, ack_id: int, error_name: Optional[str] = None, error_message: str = "") -> str:
        if error_name is None:
            return dumps({"type": "ack", "ackId": ack_id, "success": True})
        return dumps({"type": "ack", "ackId": ack_id, "success": False,
                      "error": {"name": error_name, "message": error_message}})

    def pong(self) -> str:
        return _PONG

    def connected(self, connection_id: str, user_id: Optional[str], reconnection_token: Optional[str]) -> str:
        message: Dict[str, Any] = {"type": "system", "event": "connected", "connectionId": connection_id,
                                   "userId": user_id}
        if reconnection_token is not None:
            message["reconnectionToken"] = reconnection_token
        return dumps(message)

    def disconnected(self, reason: str) -> str:
        return dumps({"type": "system", "event": "disconnected", "message": reason})

    # -- what clients send --------------------------------------------------------------------------
    def decode(self, data: Frame) -> Request:
        if not isinstance(data, str):
            raise ProtocolViolation(self.wrong_frame_reason, CLOSE_WRONG_FRAME_TYPE)
        try:
            message = strict_loads(data)
        except ValueError:
            raise ProtocolViolation("The message is not valid JSON.") from None
        if not isinstance(message, dict):
            raise ProtocolViolation("The message must be a JSON object.")
        kind = message.get("type")
        if not isinstance(kind, str):
            raise ProtocolViolation("The message has no 'type'.")
        kind = kind.lower()
        if kind == "ping":
            return Ping()
        if kind == "sequenceack":
            return SequenceAck(_uint64(message.get("sequenceId"), "sequenceId"))
        if kind not in ("joingroup", "leavegroup", "sendtogroup", "event"):
            raise ProtocolViolation(f"Unknown message type '{message.get('type')}'.")
        raw_ack_id = message.get("ackId")
        ack_id = None if raw_ack_id is None else _uint64(raw_ack_id, "ackId")
        if kind == "joingroup":
            return JoinGroup(_string(message, "group"), ack_id)
        if kind == "leavegroup":
            return LeaveGroup(_string(message, "group"), ack_id)
        if kind == "event":
            event = _string(message, "event")
            return SendEvent(event, *_payload(message, self.accept_protobuf_data), ack_id=ack_id)
        group = _string(message, "group")
        payload = _payload(message, self.accept_protobuf_data)
        no_echo = message.get("noEcho")
        if no_echo is not None and not isinstance(no_echo, bool):
            raise ProtocolViolation("'noEcho' must be a boolean.")
        ttl = message.get("ttlSeconds")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)):
            ttl = -1  # not an integer: the operation answers BadRequest, as for one out of range
        return SendToGroup(group, *payload, ack_id=ack_id, no_echo=bool(no_echo), ttl_seconds=ttl)


JSON_FORMAT = JsonFormat()
# Decodes like Microsoft's emulator (`dataType: "protobuf"` is an invalid message); renders as JSON_FORMAT.
STRICT_JSON_FORMAT = JsonFormat(accept_protobuf_data=False)
