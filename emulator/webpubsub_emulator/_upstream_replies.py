"""Interpretation of successful event-handler responses (connect results and user-event replies)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._messages import KINDS_BY_MEDIA_TYPE, strict_loads
from ._protobuf_schema import is_serialized_any
from ._protocol_choices import PROTOBUF_CONTENT_TYPE

MAX_REPLY_BYTES = 16 * 1024 * 1024



class InvalidResponse(Exception):
    """A 2xx response the emulator cannot use; the event counts as failed."""


@dataclass
class ConnectResult:
    user_id: Optional[str] = None
    user_id_set: bool = False
    groups: Optional[List[str]] = None
    roles: Optional[List[str]] = None
    subprotocol: Optional[str] = None
    mqtt_user_properties: Optional[List[Tuple[str, str]]] = None  # MQTT: copied into the CONNACK


@dataclass
class Reply:
    data: bytes
    data_type: str  # "text" | "json" | "binary" | "protobuf"


def parse_connect_result(body: bytes, offered_subprotocols: Sequence[str]) -> ConnectResult:
    """Empty body or JSON null accepts with the token's identity; property names are case-insensitive."""
    if not body.strip():
        return ConnectResult()
    try:
        document = strict_loads(body.decode("utf-8-sig"))
    except ValueError as error:  # including UnicodeDecodeError and nesting too deep for the parser
        raise InvalidResponse(f"connect response is not valid JSON: {error}") from None
    if document is None:
        return ConnectResult()
    if not isinstance(document, dict):
        raise InvalidResponse("connect response must be a JSON object")
    # Later duplicates win, matching a case-insensitive dictionary being filled in order.
    fields: Dict[str, Any] = {name.lower(): value for name, value in document.items()}
    result = ConnectResult()
    if "userid" in fields and fields["userid"] is not None:
        result.user_id = _string_field(fields["userid"], "userId")
        result.user_id_set = True
    result.groups = _string_list_field(fields.get("groups"), "groups")
    result.roles = _string_list_field(fields.get("roles"), "roles")
    subprotocol = fields.get("subprotocol")
    if subprotocol is not None:
        result.subprotocol = _string_field(subprotocol, "subprotocol")
        if result.subprotocol not in offered_subprotocols:
            raise InvalidResponse(
                f"connect response picked subprotocol {result.subprotocol!r} the client did not offer"
            )
    mqtt = fields.get("mqtt")
    if mqtt is not None:
        result.mqtt_user_properties = mqtt_user_properties(mqtt, "connect response")
    return result


def mqtt_user_properties(mqtt: Any, what: str) -> List[Tuple[str, str]]:
    """``{"userProperties": [{"name": ..., "value": ...}]}`` (names matched case-insensitively) -> pairs."""
    if not isinstance(mqtt, dict):
        raise InvalidResponse(f"{what} field 'mqtt' must be a JSON object")
    items = {name.lower(): value for name, value in mqtt.items()}.get("userproperties") or []
    if not isinstance(items, list):
        raise InvalidResponse(f"{what} field 'mqtt.userProperties' must be an array")
    pairs = []
    for item in items:
        entry = {name.lower(): value for name, value in item.items()} if isinstance(item, dict) else {}
        name, value = entry.get("name"), entry.get("value")
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidResponse(f"{what}: each MQTT user property needs a string name and value")
        pairs.append((name, value))
    return pairs


def _string_field(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidResponse(f"connect response field {name!r} must be a string")
    return value


def _string_list_field(value: Any, name: str) -> Optional[List[str]]:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidResponse(f"connect response field {name!r} must be an array of strings")
    return list(value)


def parse_reply(content_type: Optional[str], body: bytes) -> Optional[Reply]:
    """Map a user-event response body to the reply data kind; None means nothing to send back."""
    if not body:
        return None
    if content_type is None or not content_type.strip():
        return Reply(data=body, data_type="binary")
    media_type, parameters = _split_content_type(content_type)
    data_type = KINDS_BY_MEDIA_TYPE.get(media_type)
    if data_type is None:
        raise InvalidResponse(f"unsupported reply content type {content_type!r}")
    if data_type == "binary":
        return Reply(data=body, data_type=data_type)
    if data_type == "protobuf":
        if not is_serialized_any(body):
            raise InvalidResponse(f"reply declared {PROTOBUF_CONTENT_TYPE} but is not a serialized google.protobuf.Any")
        return Reply(data=body, data_type=data_type)
    text = _decode_text(body, parameters.get("charset", "utf-8"))
    if data_type == "json":
        try:
            strict_loads(text)  # NaN/Infinity would reach JSON clients as invalid JSON
        except ValueError as error:
            raise InvalidResponse(f"reply declared application/json but is not valid JSON: {error}") from None
    return Reply(data=text.encode("utf-8"), data_type=data_type)


def _split_content_type(content_type: str) -> Tuple[str, Dict[str, str]]:
    media_type, *raw_parameters = content_type.split(";")
    parameters: Dict[str, str] = {}
    for raw in raw_parameters:
        name, _, value = raw.partition("=")
        parameters[name.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), parameters


def _decode_text(body: bytes, charset: str) -> str:
    """Clients always receive UTF-8, so replies in another declared charset are transcoded."""
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        raise InvalidResponse(f"unknown reply charset {charset!r}") from None
    try:
        text = body.decode(codec.name)
    except UnicodeDecodeError:
        raise InvalidResponse(f"reply is not valid {charset} text") from None
    return text[1:] if text.startswith("\ufeff") else text
