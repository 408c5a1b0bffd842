"""MQTT 3.1.1 and 5.0 control packets: bytes in, packets out, and packets back to bytes.

Pure and I/O-free. ``PacketReader.feed`` takes whatever bytes arrived (a WebSocket frame may hold part of a
packet or several) and returns the complete packets; ``encode`` turns a packet into bytes. Every packet type
is decoded and encoded in both directions, so the tests can play the client with the same code. Anything a
receiver MUST reject raises ``PacketError`` carrying the MQTT 5.0 reason code to disconnect with:
0x81 malformed packet, 0x82 protocol error, 0x84 unsupported protocol version, 0x95 packet too large.
Checks that need broker state (topic rules, permissions, aliases) are left to the broker.

Libraries looked at before writing this: amqtt 0.12 (maintained, MIT, but MQTT 3.1.1 only, decoding is
tied to its asyncio stream readers, Python >= 3.10 and a dozen dependencies), hbmqtt (amqtt's abandoned
predecessor), mqtt-codec 1.0 (3.1.1 only, last release 2019), gmqtt 0.8 and paho-mqtt 2.2 (clients: their
packet handling is woven into the client class and only covers the client's side), mqtt5 0.8 (sans-IO and
maintained, but 5.0 only and Python >= 3.11). None decodes both versions from the broker's side.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ._mqtt_properties import (PropertyReader, Properties, encode_properties, encode_string, encode_varint,
                               read_properties)
from ._mqtt_properties import PacketError as PacketError  # re-exported: the one error of the codec

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 8, 9, 10, 11, 12, 13, 14, 15
MQTT_311, MQTT_5 = 4, 5
MALFORMED, PROTOCOL_ERROR, UNSUPPORTED_VERSION, PACKET_TOO_LARGE = 0x81, 0x82, 0x84, 0x95

# Fixed-header flags that are not PUBLISH's: PUBREL, SUBSCRIBE and UNSUBSCRIBE must carry 0b0010.
_REQUIRED_FLAGS = {PUBREL: 2, SUBSCRIBE: 2, UNSUBSCRIBE: 2}


@dataclass
class Will:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: Properties = field(default_factory=dict)


@dataclass
class Connect:
    client_id: str
    protocol_level: int = MQTT_5
    clean_start: bool = True
    keep_alive: int = 60
    username: Optional[str] = None
    password: Optional[bytes] = None
    will: Optional[Will] = None
    properties: Properties = field(default_factory=dict)


@dataclass
class ConnAck:
    code: int
    session_present: bool = False
    properties: Properties = field(default_factory=dict)


@dataclass
class Publish:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: Optional[int] = None
    properties: Properties = field(default_factory=dict)


@dataclass
class Ack:
    """PUBACK, PUBREC, PUBREL or PUBCOMP (``kind``)."""

    kind: int
    packet_id: int
    code: int = 0
    properties: Properties = field(default_factory=dict)


@dataclass
class Subscription:
    topic_filter: str
    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0


@dataclass
class Subscribe:
    packet_id: int
    subscriptions: List[Subscription]
    properties: Properties = field(default_factory=dict)


@dataclass
class SubAck:
    packet_id: int
    codes: List[int]
    properties: Properties = field(default_factory=dict)


@dataclass
class Unsubscribe:
    packet_id: int
    topic_filters: List[str]
    properties: Properties = field(default_factory=dict)


@dataclass
class UnsubAck:
    packet_id: int
    codes: List[int] = field(default_factory=list)  # MQTT 5.0 only
    properties: Properties = field(default_factory=dict)


@dataclass
class PingReq:
    pass


@dataclass
class PingResp:
    pass


@dataclass
class Disconnect:
    code: int = 0
    properties: Properties = field(default_factory=dict)


@dataclass
class Auth:
    code: int = 0
    properties: Properties = field(default_factory=dict)


Packet = Union[Connect, ConnAck, Publish, Ack, Subscribe, SubAck, Unsubscribe, UnsubAck, PingReq, PingResp,
               Disconnect, Auth]


# -- decoding -----------------------------------------------------------------------------------------
class PacketReader:
    """Reassembles packets from a byte stream. ``version`` is learnt from the CONNECT (or set by a client)."""

    def __init__(self, max_packet_size: int, version: Optional[int] = None) -> None:
        self.max_packet_size = max_packet_size
        self.version = version
        self._buffer = bytearray()

    def feed(self, data: bytes) -> List[Packet]:
        self._buffer += data
        packets: List[Packet] = []
        while True:
            header = self._fixed_header()
            if header is None:
                return packets
            first, start, length = header
            if len(self._buffer) < start + length:
                return packets
            body = bytes(self._buffer[start:start + length])
            del self._buffer[:start + length]
            packet = decode_packet(first, body, self.version)
            if isinstance(packet, Connect):
                self.version = packet.protocol_level
            packets.append(packet)

    def _fixed_header(self) -> Optional[Tuple[int, int, int]]:
        """(first byte, offset of the body, body length), or None while the header is incomplete."""
        buffer = self._buffer
        if buffer and self.version is None and buffer[0] >> 4 != CONNECT:
            raise PacketError(PROTOCOL_ERROR, "The first packet must be CONNECT.")  # no need to wait for its body
        length = 0
        for index in range(1, 5):
            if index >= len(buffer):
                return None
            byte = buffer[index]
            length |= (byte & 0x7F) << (7 * (index - 1))
            if not byte & 0x80:
                total = index + 1 + length
                if total > self.max_packet_size:
                    raise PacketError(PACKET_TOO_LARGE, f"The packet of {total} bytes is larger than the "
                                                        f"maximum of {self.max_packet_size} bytes.")
                return buffer[0], index + 1, length
        raise PacketError(MALFORMED, "The remaining length takes more than four bytes.")


def decode_packet(first: int, body: bytes, version: Optional[int]) -> Packet:
    """One packet from its first byte and body. Before the CONNECT (``version`` None) only CONNECT is read."""
    kind, flags = first >> 4, first & 0x0F
    if version is None and kind != CONNECT:
        raise PacketError(PROTOCOL_ERROR, "The first packet must be CONNECT.")
    if kind != PUBLISH and flags != _REQUIRED_FLAGS.get(kind, 0):
        raise PacketError(MALFORMED, f"Reserved flags of packet type {kind} are not as the specification "
                                     "requires.")
    decoder = _DECODERS.get(kind)
    if decoder is None or (kind == AUTH and version != MQTT_5):
        raise PacketError(MALFORMED, f"Packet type {kind} is reserved.")
    reader = PropertyReader(body)
    packet: Packet = decoder(reader, kind, flags, version or MQTT_5)
    if reader.remaining():
        raise PacketError(MALFORMED, f"Packet type {kind} has {reader.remaining()} unexpected trailing bytes.")
    return packet


def _decode_connect(reader: PropertyReader, kind: int, flags: int, version: int) -> Connect:
    name = reader.string()
    level = reader.byte()
    if (name, level) not in (("MQTT", MQTT_311), ("MQTT", MQTT_5)):
        error = PacketError(UNSUPPORTED_VERSION, f"Protocol {name!r} level {level} is not supported: use "
                                                 "MQTT 3.1.1 (level 4) or MQTT 5.0 (level 5).")
        error.protocol_level = level
        raise error
    connect_flags = reader.byte()
    if connect_flags & 0x01:
        raise PacketError(MALFORMED, "The reserved CONNECT flag is set.")
    will_flag, will_qos, will_retain = bool(connect_flags & 0x04), (connect_flags >> 3) & 0x03, bool(connect_flags & 0x20)
    if will_qos == 3 or (not will_flag and (will_qos or will_retain)):
        raise PacketError(MALFORMED, "The will flags are inconsistent.")
    has_password, has_username = bool(connect_flags & 0x40), bool(connect_flags & 0x80)
    if level == MQTT_311 and has_password and not has_username:
        raise PacketError(MALFORMED, "MQTT 3.1.1 does not allow a password without a user name.")
    keep_alive = reader.uint16()
    properties = read_properties(reader, CONNECT) if level == MQTT_5 else {}
    connect = Connect(client_id=reader.string(), protocol_level=level, clean_start=bool(connect_flags & 0x02),
                      keep_alive=keep_alive, properties=properties)
    if will_flag:
        will_properties = read_properties(reader, "will") if level == MQTT_5 else {}
        connect.will = Will(topic=reader.string(), payload=reader.binary(), qos=will_qos, retain=will_retain,
                            properties=will_properties)
    if has_username:
        connect.username = reader.string()
    if has_password:
        connect.password = reader.binary()
    return connect


def _decode_connack(reader: PropertyReader, kind: int, flags: int, version: int) -> ConnAck:
    acknowledge_flags = reader.byte()
    if acknowledge_flags & 0xFE:
        raise PacketError(MALFORMED, "Reserved CONNACK flags are set.")
    code = reader.byte()
    properties = read_properties(reader, CONNACK) if version == MQTT_5 else {}
    return ConnAck(code=code, session_present=bool(acknowledge_flags), properties=properties)


def _decode_publish(reader: PropertyReader, kind: int, flags: int, version: int) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise PacketError(MALFORMED, "PUBLISH with QoS 3.")
    dup = bool(flags & 0x08)
    if dup and qos == 0:
        raise PacketError(MALFORMED, "A QoS 0 PUBLISH must not have the DUP flag set.")
    topic = reader.string()
    packet_id = _packet_id(reader) if qos else None
    properties = read_properties(reader, PUBLISH) if version == MQTT_5 else {}
    return Publish(topic=topic, payload=reader.rest(), qos=qos, retain=bool(flags & 0x01), dup=dup,
                   packet_id=packet_id, properties=properties)


def _decode_ack(reader: PropertyReader, kind: int, flags: int, version: int) -> Ack:
    packet_id = _packet_id(reader)
    if version != MQTT_5:
        return Ack(kind, packet_id)
    code = reader.byte() if reader.remaining() else 0
    properties = read_properties(reader, kind) if reader.remaining() else {}
    return Ack(kind, packet_id, code, properties)


def _decode_subscribe(reader: PropertyReader, kind: int, flags: int, version: int) -> Subscribe:
    packet_id = _packet_id(reader)
    properties = read_properties(reader, SUBSCRIBE) if version == MQTT_5 else {}
    subscriptions = []
    while reader.remaining():
        topic_filter = reader.string()
        options = reader.byte()
        reserved = 0xC0 if version == MQTT_5 else 0xFC
        if options & reserved or options & 0x03 == 3:
            raise PacketError(MALFORMED, f"Invalid subscription options for {topic_filter!r}.")
        retain_handling = (options >> 4) & 0x03
        if retain_handling == 3:
            raise PacketError(PROTOCOL_ERROR, f"Retain handling 3 for {topic_filter!r} is reserved.")
        subscriptions.append(Subscription(topic_filter, options & 0x03, bool(options & 0x04), bool(options & 0x08),
                                          retain_handling))
    if not subscriptions:
        raise PacketError(PROTOCOL_ERROR, "SUBSCRIBE without any topic filter.")
    return Subscribe(packet_id, subscriptions, properties)


def _decode_suback(reader: PropertyReader, kind: int, flags: int, version: int) -> SubAck:
    packet_id = _packet_id(reader)
    properties = read_properties(reader, SUBACK) if version == MQTT_5 else {}
    return SubAck(packet_id, list(reader.rest()), properties)


def _decode_unsubscribe(reader: PropertyReader, kind: int, flags: int, version: int) -> Unsubscribe:
    packet_id = _packet_id(reader)
    properties = read_properties(reader, UNSUBSCRIBE) if version == MQTT_5 else {}
    topic_filters = []
    while reader.remaining():
        topic_filters.append(reader.string())
    if not topic_filters:
        raise PacketError(PROTOCOL_ERROR, "UNSUBSCRIBE without any topic filter.")
    return Unsubscribe(packet_id, topic_filters, properties)


def _decode_unsuback(reader: PropertyReader, kind: int, flags: int, version: int) -> UnsubAck:
    packet_id = _packet_id(reader)
    if version != MQTT_5:
        return UnsubAck(packet_id)
    properties = read_properties(reader, UNSUBACK)
    return UnsubAck(packet_id, list(reader.rest()), properties)


def _decode_empty(reader: PropertyReader, kind: int, flags: int, version: int) -> Union[PingReq, PingResp]:
    return PingReq() if kind == PINGREQ else PingResp()


def _decode_disconnect_or_auth(reader: PropertyReader, kind: int, flags: int,
                               version: int) -> Union[Disconnect, Auth]:
    code = reader.byte() if version == MQTT_5 and reader.remaining() else 0
    properties = read_properties(reader, kind) if version == MQTT_5 and reader.remaining() else {}
    return Disconnect(code, properties) if kind == DISCONNECT else Auth(code, properties)


def _packet_id(reader: PropertyReader) -> int:
    packet_id = reader.uint16()
    if packet_id == 0:
        raise PacketError(MALFORMED, "Packet identifier 0 is not allowed.")
    return packet_id


_DECODERS: Dict[int, Callable[[PropertyReader, int, int, int], Any]] = {
    CONNECT: _decode_connect, CONNACK: _decode_connack, PUBLISH: _decode_publish, PUBACK: _decode_ack,
    PUBREC: _decode_ack, PUBREL: _decode_ack, PUBCOMP: _decode_ack, SUBSCRIBE: _decode_subscribe,
    SUBACK: _decode_suback, UNSUBSCRIBE: _decode_unsubscribe, UNSUBACK: _decode_unsuback, PINGREQ: _decode_empty,
    PINGRESP: _decode_empty, DISCONNECT: _decode_disconnect_or_auth, AUTH: _decode_disconnect_or_auth,
}


# -- encoding -----------------------------------------------------------------------------------------
def encode(packet: Packet, version: int) -> bytes:
    """The wire bytes of ``packet`` for a session of protocol ``version`` (4 or 5)."""
    v5 = version == MQTT_5
    flags = 0
    if isinstance(packet, Connect):
        kind, body = CONNECT, _connect_body(packet)
    elif isinstance(packet, ConnAck):
        kind = CONNACK
        body = bytes((int(packet.session_present), packet.code)) + _props(v5, packet.properties, CONNACK)
    elif isinstance(packet, Publish):
        kind = PUBLISH
        flags = (0x08 if packet.dup else 0) | packet.qos << 1 | (0x01 if packet.retain else 0)
        body = encode_string(packet.topic)
        if packet.qos:
            body += struct.pack("!H", packet.packet_id or 0)
        body += _props(v5, packet.properties, PUBLISH) + packet.payload
    elif isinstance(packet, Ack):
        kind, flags = packet.kind, _REQUIRED_FLAGS.get(packet.kind, 0)
        body = struct.pack("!H", packet.packet_id)
        if v5:
            body += _reason(packet.code, packet.properties, packet.kind)
    elif isinstance(packet, Subscribe):
        kind, flags = SUBSCRIBE, 2
        body = struct.pack("!H", packet.packet_id) + _props(v5, packet.properties, SUBSCRIBE)
        for item in packet.subscriptions:
            options = (item.qos | item.no_local << 2 | item.retain_as_published << 3 | item.retain_handling << 4)
            body += encode_string(item.topic_filter) + bytes((options,))
    elif isinstance(packet, SubAck):
        kind = SUBACK
        body = struct.pack("!H", packet.packet_id) + _props(v5, packet.properties, SUBACK) + bytes(packet.codes)
    elif isinstance(packet, Unsubscribe):
        kind, flags = UNSUBSCRIBE, 2
        body = struct.pack("!H", packet.packet_id) + _props(v5, packet.properties, UNSUBSCRIBE)
        body += b"".join(encode_string(topic_filter) for topic_filter in packet.topic_filters)
    elif isinstance(packet, UnsubAck):
        kind = UNSUBACK
        body = struct.pack("!H", packet.packet_id)
        if v5:
            body += encode_properties(packet.properties, UNSUBACK) + bytes(packet.codes)
    elif isinstance(packet, (PingReq, PingResp)):
        kind, body = (PINGREQ if isinstance(packet, PingReq) else PINGRESP), b""
    else:  # Disconnect or Auth
        kind = DISCONNECT if isinstance(packet, Disconnect) else AUTH
        body = _reason(packet.code, packet.properties, kind) if v5 else b""
    return bytes((kind << 4 | flags,)) + encode_varint(len(body)) + body


def _props(v5: bool, properties: Properties, kind: Union[int, str]) -> bytes:
    return encode_properties(properties, kind) if v5 else b""


def _reason(code: int, properties: Properties, kind: int) -> bytes:
    """The shortest form of a reason code with properties: both may be left out when they are defaults."""
    if properties or (code and kind == AUTH):  # AUTH has no short form with a code alone
        return bytes((code,)) + encode_properties(properties, kind)
    return bytes((code,)) if code else b""


def _connect_body(packet: Connect) -> bytes:
    v5 = packet.protocol_level == MQTT_5
    will = packet.will
    flags = (0x02 if packet.clean_start else 0) | (0x80 if packet.username is not None else 0)
    flags |= 0x40 if packet.password is not None else 0
    if will is not None:
        flags |= 0x04 | will.qos << 3 | (0x20 if will.retain else 0)
    body = encode_string("MQTT") + bytes((packet.protocol_level, flags)) + struct.pack("!H", packet.keep_alive)
    body += _props(v5, packet.properties, CONNECT) + encode_string(packet.client_id)
    if will is not None:
        body += _props(v5, will.properties, "will") + encode_string(will.topic)
        body += struct.pack("!H", len(will.payload)) + will.payload
    if packet.username is not None:
        body += encode_string(packet.username)
    if packet.password is not None:
        body += struct.pack("!H", len(packet.password)) + packet.password
    return body
