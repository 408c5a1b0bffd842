"""MQTT wire primitives (integers, UTF-8 strings, variable byte integers) and MQTT 5.0 properties.

Properties are a dict keyed by property identifier. User properties (0x26) are a list of (name, value)
pairs and subscription identifiers (0x0B) a list of integers, since both may repeat; any other property
that appears twice is a protocol error, as is a property the packet type does not allow.
"""
from __future__ import annotations

import struct
from typing import Any, Dict, FrozenSet, List, Optional, Tuple, Union

Properties = Dict[int, Any]

PAYLOAD_FORMAT = 0x01
MESSAGE_EXPIRY = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_ID = 0x0B
SESSION_EXPIRY = 0x11
ASSIGNED_CLIENT_ID = 0x12
SERVER_KEEP_ALIVE = 0x13
AUTH_METHOD = 0x15
AUTH_DATA = 0x16
REQUEST_PROBLEM_INFO = 0x17
WILL_DELAY = 0x18
REQUEST_RESPONSE_INFO = 0x19
RESPONSE_INFO = 0x1A
SERVER_REFERENCE = 0x1C
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_AVAILABLE = 0x28
SUBSCRIPTION_ID_AVAILABLE = 0x29
SHARED_AVAILABLE = 0x2A

_BYTE, _U16, _U32, _VARINT, _STRING, _BINARY, _PAIR = range(7)
_TYPES = {
    PAYLOAD_FORMAT: _BYTE, MESSAGE_EXPIRY: _U32, CONTENT_TYPE: _STRING, RESPONSE_TOPIC: _STRING,
    CORRELATION_DATA: _BINARY, SUBSCRIPTION_ID: _VARINT, SESSION_EXPIRY: _U32, ASSIGNED_CLIENT_ID: _STRING,
    SERVER_KEEP_ALIVE: _U16, AUTH_METHOD: _STRING, AUTH_DATA: _BINARY, REQUEST_PROBLEM_INFO: _BYTE,
    WILL_DELAY: _U32, REQUEST_RESPONSE_INFO: _BYTE, RESPONSE_INFO: _STRING, SERVER_REFERENCE: _STRING,
    REASON_STRING: _STRING, RECEIVE_MAXIMUM: _U16, TOPIC_ALIAS_MAXIMUM: _U16, TOPIC_ALIAS: _U16,
    MAXIMUM_QOS: _BYTE, RETAIN_AVAILABLE: _BYTE, USER_PROPERTY: _PAIR, MAXIMUM_PACKET_SIZE: _U32,
    WILDCARD_AVAILABLE: _BYTE, SUBSCRIPTION_ID_AVAILABLE: _BYTE, SHARED_AVAILABLE: _BYTE,
}
# Where each property may appear (MQTT 5.0 section 2.2.2.2), keyed by packet type; "will" = will properties.
_MESSAGE = frozenset({PAYLOAD_FORMAT, MESSAGE_EXPIRY, CONTENT_TYPE, RESPONSE_TOPIC, CORRELATION_DATA,
                      USER_PROPERTY})
_REASON = frozenset({REASON_STRING, USER_PROPERTY})
ALLOWED: Dict[Union[int, str], FrozenSet[int]] = {
    1: frozenset({SESSION_EXPIRY, RECEIVE_MAXIMUM, MAXIMUM_PACKET_SIZE, TOPIC_ALIAS_MAXIMUM, REQUEST_RESPONSE_INFO,
                  REQUEST_PROBLEM_INFO, USER_PROPERTY, AUTH_METHOD, AUTH_DATA}),
    2: frozenset({SESSION_EXPIRY, ASSIGNED_CLIENT_ID, SERVER_KEEP_ALIVE, AUTH_METHOD, AUTH_DATA, RESPONSE_INFO,
                  SERVER_REFERENCE, REASON_STRING, RECEIVE_MAXIMUM, TOPIC_ALIAS_MAXIMUM, MAXIMUM_QOS,
                  RETAIN_AVAILABLE, USER_PROPERTY, MAXIMUM_PACKET_SIZE, WILDCARD_AVAILABLE, SUBSCRIPTION_ID_AVAILABLE,
                  SHARED_AVAILABLE}),
    3: _MESSAGE | {TOPIC_ALIAS, SUBSCRIPTION_ID},
    4: _REASON, 5: _REASON, 6: _REASON, 7: _REASON,
    8: frozenset({SUBSCRIPTION_ID, USER_PROPERTY}),
    9: _REASON,
    10: frozenset({USER_PROPERTY}),
    11: _REASON,
    14: _REASON | {SESSION_EXPIRY, SERVER_REFERENCE},
    15: _REASON | {AUTH_METHOD, AUTH_DATA},
    "will": _MESSAGE | {WILL_DELAY},
}
_REPEATABLE = {USER_PROPERTY, SUBSCRIPTION_ID}
# Properties whose value 0 (or > 1 for the flags) is a protocol error.
_NON_ZERO = {RECEIVE_MAXIMUM, MAXIMUM_PACKET_SIZE, SUBSCRIPTION_ID, TOPIC_ALIAS}
_FLAGS = {PAYLOAD_FORMAT, REQUEST_PROBLEM_INFO, REQUEST_RESPONSE_INFO, MAXIMUM_QOS, RETAIN_AVAILABLE,
          WILDCARD_AVAILABLE, SUBSCRIPTION_ID_AVAILABLE, SHARED_AVAILABLE}


class PacketError(Exception):
    """The bytes break the MQTT specification; ``code`` is the MQTT 5.0 reason code to disconnect with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.protocol_level: Optional[int] = None  # set when a CONNECT names an unsupported version


def _malformed(reason: str) -> PacketError:
    return PacketError(0x81, reason)


class PropertyReader:
    """Reads MQTT primitives from one packet body; running past its end is a malformed packet."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def remaining(self) -> int:
        return len(self._data) - self._offset

    def take(self, count: int) -> bytes:
        if count > self.remaining():
            raise _malformed("The packet is shorter than its contents require.")
        chunk = self._data[self._offset:self._offset + count]
        self._offset += count
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def uint16(self) -> int:
        value: int = struct.unpack("!H", self.take(2))[0]
        return value

    def uint32(self) -> int:
        value: int = struct.unpack("!I", self.take(4))[0]
        return value

    def varint(self) -> int:
        value = 0
        for shift in range(0, 28, 7):
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise _malformed("A variable byte integer takes more than four bytes.")

    def binary(self) -> bytes:
        return self.take(self.uint16())

    def string(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode("utf-8")  # strict: rejects overlong forms and surrogates, as MQTT requires
        except UnicodeDecodeError:
            raise _malformed("A string is not well-formed UTF-8.") from None
        if "\x00" in text:
            raise _malformed("A string contains the null character U+0000.")
        return text

    def rest(self) -> bytes:
        return self.take(self.remaining())


def read_properties(reader: PropertyReader, kind: Union[int, str]) -> Properties:
    length = reader.varint()
    if length > reader.remaining():
        raise _malformed("The property length runs past the end of the packet.")
    inner = PropertyReader(reader.take(length))
    allowed = ALLOWED[kind]
    properties: Properties = {}
    while inner.remaining():
        identifier = inner.varint()
        kind_of_value = _TYPES.get(identifier)
        if kind_of_value is None:
            raise _malformed(f"Unknown property identifier 0x{identifier:02X}.")
        if identifier not in allowed:
            raise PacketError(0x82, f"Property 0x{identifier:02X} is not allowed in this packet.")
        value = _read_value(inner, kind_of_value)
        if identifier in _NON_ZERO and value == 0 or identifier in _FLAGS and value > 1:
            raise PacketError(0x82, f"Property 0x{identifier:02X} has the invalid value {value}.")
        if identifier in _REPEATABLE:
            properties.setdefault(identifier, []).append(value)
        elif identifier in properties:
            raise PacketError(0x82, f"Property 0x{identifier:02X} appears more than once.")
        else:
            properties[identifier] = value
    if SUBSCRIPTION_ID in properties and kind != 3 and len(properties[SUBSCRIPTION_ID]) > 1:
        raise PacketError(0x82, "Property 0x0B appears more than once.")
    return properties


def _read_value(reader: PropertyReader, kind_of_value: int) -> Any:
    if kind_of_value == _BYTE:
        return reader.byte()
    if kind_of_value == _U16:
        return reader.uint16()
    if kind_of_value == _U32:
        return reader.uint32()
    if kind_of_value == _VARINT:
        return reader.varint()
    if kind_of_value == _STRING:
        return reader.string()
    if kind_of_value == _BINARY:
        return reader.binary()
    return reader.string(), reader.string()


# -- encoding -----------------------------------------------------------------------------------------
def encode_varint(value: int) -> bytes:
    if not 0 <= value <= 268_435_455:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        value, byte = divmod(value, 128)
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError("an MQTT string holds at most 65535 bytes")
    return struct.pack("!H", len(raw)) + raw


def encode_properties(properties: Properties, kind: Union[int, str]) -> bytes:
    allowed = ALLOWED[kind]
    out = bytearray()
    for identifier, value in properties.items():
        if identifier not in allowed:
            raise ValueError(f"property 0x{identifier:02X} is not allowed in packet {kind}")
        values: List[Any] = value if identifier in _REPEATABLE else [value]
        for item in values:
            out += encode_varint(identifier) + _encode_value(_TYPES[identifier], item)
    return encode_varint(len(out)) + bytes(out)


def _encode_value(kind_of_value: int, value: Any) -> bytes:
    if kind_of_value == _BYTE:
        return bytes((value,))
    if kind_of_value == _U16:
        return struct.pack("!H", value)
    if kind_of_value == _U32:
        return struct.pack("!I", value)
    if kind_of_value == _VARINT:
        return encode_varint(value)
    if kind_of_value == _STRING:
        return encode_string(value)
    if kind_of_value == _BINARY:
        return struct.pack("!H", len(value)) + bytes(value)
    pair: Tuple[str, str] = value
    return encode_string(pair[0]) + encode_string(pair[1])
