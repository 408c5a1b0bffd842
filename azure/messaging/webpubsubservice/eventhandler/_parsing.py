"""Turn a CloudEvents binary-mode request (headers + body) into the typed request models."""

from __future__ import annotations

import base64
import binascii
import codecs
import json
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import isodate  # type: ignore[import-untyped]  # no type information; used in event_time() only

from ._models import (
    ClientCertificate,
    ConnectedRequest,
    ConnectionContext,
    ConnectRequest,
    DataType,
    DisconnectedRequest,
    MqttConnectProperties,
    MqttDisconnected,
    MqttDisconnectPacket,
    UserEventRequest,
    UserProperties,
)
from ._state import InvalidConnectionState, decode_states

Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]

TYPE_PREFIX = "azure.webpubsub."
SYSTEM_TYPE_PREFIX = "azure.webpubsub.sys."
USER_TYPE_PREFIX = "azure.webpubsub.user."
REQUIRED_HEADERS = ("ce-awpsversion", "ce-type", "ce-hub", "ce-connectionid")
PROTOBUF = "application/x-protobuf"  # a protobuf client's protobuf_data: the bytes of a serialized Any


class MalformedEvent(Exception):
    """The request is not a well-formed Web PubSub event; answered with 400 and this reason."""


def normalise_headers(headers: Headers) -> Dict[str, str]:
    """Lower-cased names; repeated headers are joined with ``", "`` as HTTP allows."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    merged: Dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return merged


def split_content_type(content_type: str) -> Tuple[str, Dict[str, str]]:
    media_type, *raw_parameters = content_type.split(";")
    parameters: Dict[str, str] = {}
    for raw in raw_parameters:
        name, _, value = raw.partition("=")
        parameters[name.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), parameters


def missing_cloud_event_headers(headers: Mapping[str, str]) -> List[str]:
    return [name for name in REQUIRED_HEADERS if not headers.get(name)]


def build_context(headers: Mapping[str, str]) -> ConnectionContext:
    event_type = headers["ce-type"]
    try:
        states = decode_states(headers.get("ce-connectionstate"))
    except InvalidConnectionState as error:
        raise MalformedEvent(str(error)) from None
    return ConnectionContext(
        hub=headers["ce-hub"],
        connection_id=headers["ce-connectionid"],
        # ce-eventName is always sent; the ce-type suffix is a fallback that names the same event.
        event_name=headers.get("ce-eventname") or event_type.rsplit(".", 1)[-1],
        event_id=headers.get("ce-id"),
        user_id=headers.get("ce-userid") or None,
        subprotocol=headers.get("ce-subprotocol") or None,
        origin=headers.get("webhook-request-origin"),
        signature=headers.get("ce-signature"),
        states=states,
        headers=headers,
        physical_connection_id=headers.get("ce-physicalconnectionid") or None,
        session_id=headers.get("ce-sessionid") or None,
        time=event_time(headers.get("ce-time")),
    )


def event_time(value: Optional[str]) -> Optional[datetime]:
    """``ce-time``, an RFC 3339 timestamp, as an aware UTC datetime (None when the header is absent).

    isodate, not ``datetime.fromisoformat``: before Python 3.11 that refuses a ``Z`` suffix and more
    than six fractional digits (.NET writes seven).
    """
    if value is None:
        return None
    parsed: Optional[datetime]
    try:
        parsed = isodate.parse_datetime(value)
    except ValueError:  # isodate.ISO8601Error is one; an impossible month or day raises ValueError itself
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise MalformedEvent(f"ce-time must be an RFC 3339 timestamp with a UTC offset, got {value!r}")
    return parsed.astimezone(timezone.utc)


def _json_object_body(body: bytes, event: str) -> Dict[str, Any]:
    if not body.strip():
        return {}
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedEvent(f"{event} body is not valid JSON: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise MalformedEvent(f"{event} body must be a JSON object")
    # Property names are matched case-insensitively, as the service's own parsers do.
    return {name.lower(): value for name, value in document.items()}


def _as_string(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _string_lists(value: Any, field_name: str) -> Dict[str, List[str]]:
    """Claims, query and headers map names to arrays of strings; single values are wrapped."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedEvent(f"connect body field {field_name!r} must be a JSON object")
    return {
        name: [_as_string(item) for item in items] if isinstance(items, list) else [_as_string(items)]
        for name, items in value.items()
    }


def _string_list(value: Any, field_name: str) -> List[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MalformedEvent(f"connect body field {field_name!r} must be an array of strings")
    return list(value)


def _certificates(value: Any) -> List[ClientCertificate]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise MalformedEvent("connect body field 'clientCertificates' must be an array of objects")
    certificates = []
    for item in value:
        fields = {name.lower(): field_value for name, field_value in item.items()}
        certificates.append(
            ClientCertificate(thumbprint=str(fields.get("thumbprint") or ""), content=str(fields.get("content") or ""))
        )
    return certificates


def _lower(value: Any, what: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEvent(f"{what} must be a JSON object")
    return {name.lower(): item for name, item in value.items()}


def _user_properties(value: Any) -> UserProperties:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedEvent("mqtt 'userProperties' must be an array")
    pairs: UserProperties = []
    for item in value:
        fields = _lower(item, "an MQTT user property")
        name, text = fields.get("name"), fields.get("value")
        if not isinstance(name, str) or not isinstance(text, str):
            raise MalformedEvent("each MQTT user property needs a string name and value")
        pairs.append((name, text))
    return pairs


def _mqtt_connect(value: Any) -> Optional[MqttConnectProperties]:
    if value is None:
        return None
    fields = _lower(value, "connect body field 'mqtt'")
    version, password = fields.get("protocolversion"), fields.get("password")
    if version not in (4, 5) or isinstance(version, bool):
        raise MalformedEvent(f"mqtt 'protocolVersion' must be 4 or 5, not {version!r}")
    try:
        secret = None if password is None else base64.b64decode(password, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise MalformedEvent("mqtt 'password' is not base64") from None
    username = fields.get("username")
    return MqttConnectProperties(
        protocol_version=version,
        username=username if isinstance(username, str) else None,
        password=secret,
        user_properties=_user_properties(fields.get("userproperties")),
        clean_start=fields.get("cleanstart") if isinstance(fields.get("cleanstart"), bool) else None,
    )


def parse_connect(context: ConnectionContext, body: bytes) -> ConnectRequest:
    fields = _json_object_body(body, "connect")
    return ConnectRequest(
        context=context,
        claims=_string_lists(fields.get("claims"), "claims"),
        query=_string_lists(fields.get("query"), "query"),
        headers=_string_lists(fields.get("headers"), "headers"),
        subprotocols=_string_list(fields.get("subprotocols"), "subprotocols"),
        client_certificates=_certificates(fields.get("clientcertificates")),
        mqtt=_mqtt_connect(fields.get("mqtt")),
    )


def parse_connected(context: ConnectionContext, body: bytes) -> ConnectedRequest:
    _json_object_body(body, "connected")
    return ConnectedRequest(context=context)


def parse_disconnected(context: ConnectionContext, body: bytes) -> DisconnectedRequest:
    fields = _json_object_body(body, "disconnected")
    reason = fields.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise MalformedEvent("disconnected body field 'reason' must be a string")
    mqtt = None
    if fields.get("mqtt") is not None:
        details = _lower(fields["mqtt"], "disconnected body field 'mqtt'")
        packet = details.get("disconnectpacket")
        if packet is not None:
            packet_fields = _lower(packet, "mqtt 'disconnectPacket'")
            code = packet_fields.get("code")
            if not isinstance(code, int) or isinstance(code, bool):
                raise MalformedEvent("mqtt 'disconnectPacket.code' must be an integer")
            raw = packet_fields.get("userproperties")
            packet = MqttDisconnectPacket(code, None if raw is None else _user_properties(raw))
        mqtt = MqttDisconnected(bool(details.get("initiatedbyclient")), packet)
    return DisconnectedRequest(context=context, reason=reason, mqtt=mqtt)


def parse_user_event(context: ConnectionContext, content_type: str, body: bytes) -> UserEventRequest:
    media_type, parameters = split_content_type(content_type)
    data: Any = body
    data_type: DataType = "protobuf" if media_type == PROTOBUF else "binary"
    if media_type in ("text/plain", "application/json"):
        text = _decode_text(body, parameters.get("charset", "utf-8"))
        data, data_type = text, "text"
        if media_type == "application/json":
            try:
                data, data_type = json.loads(text), "json"
            except ValueError as error:
                raise MalformedEvent(f"user event body is not valid JSON: {error}") from None
    return UserEventRequest(context=context, data=data, data_type=data_type, content_type=content_type, body=body)


def _decode_text(body: bytes, charset: str) -> str:
    try:
        text = body.decode(codecs.lookup(charset).name)
    except LookupError:
        raise MalformedEvent(f"unknown charset {charset!r}") from None
    except UnicodeDecodeError:
        raise MalformedEvent(f"user event body is not valid {charset} text") from None
    return text[1:] if text.startswith("\ufeff") else text
