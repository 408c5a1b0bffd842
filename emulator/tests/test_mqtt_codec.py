"""The broker's MQTT codec: known byte vectors, round trips, and every kind of malformed input."""
from __future__ import annotations

import struct
from typing import List

import pytest

from webpubsub_emulator._mqtt_codec import (AUTH, MQTT_5, MQTT_311, PUBACK, PUBCOMP, PUBREC, PUBREL, Ack, Auth,
                                            ConnAck, Connect, Disconnect, Packet, PacketError, PacketReader,
                                            PingReq, PingResp, Publish, SubAck, Subscribe, Subscription, UnsubAck,
                                            Unsubscribe, Will, encode)
from webpubsub_emulator._mqtt_properties import encode_varint

LIMIT = 1024 * 1024


def s(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


def packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + encode_varint(len(body)) + body


def connect_body(level: int = 4, flags: int = 0x02, client_id: str = "dev1", properties: bytes = b"\x00") -> bytes:
    return s("MQTT") + bytes((level, flags)) + b"\x00\x3c" + (properties if level == 5 else b"") + s(client_id)


def decode_one(data: bytes, version: "int | None" = None) -> Packet:
    packets = PacketReader(LIMIT, version).feed(data)
    assert len(packets) == 1
    return packets[0]


# -- known vectors ------------------------------------------------------------------------------------------
VECTORS = [
    ("connect 3.1.1", None, packet(0x10, connect_body()),
     Connect("dev1", protocol_level=4, keep_alive=60)),
    ("connect 5.0 with properties, will, user name and password", None,
     packet(0x10, s("MQTT") + bytes((5, 0xC6)) + b"\x00\x0a"
            + b"\x0c" + b"\x11\x00\x00\x00\x1e" + b"\x26" + s("a") + s("b")
            + s("dev1") + b"\x02\x01\x01" + s("t/1") + s("bye") + s("user") + b"\x00\x02\x00\xff"),
     Connect("dev1", protocol_level=5, keep_alive=10, username="user", password=b"\x00\xff",
             will=Will("t/1", b"bye", properties={0x01: 1}), properties={0x11: 30, 0x26: [("a", "b")]})),
    ("publish qos 0, 3.1.1", MQTT_311, packet(0x30, s("room1") + b"hi"), Publish("room1", b"hi")),
    ("publish qos 1 retained dup, 5.0 with content type", MQTT_5,
     packet(0x3B, s("a/b") + b"\x00\x07" + b"\x0d\x03" + s("text/plain") + b"hello"),
     Publish("a/b", b"hello", qos=1, retain=True, dup=True, packet_id=7, properties={0x03: "text/plain"})),
    ("puback 3.1.1", MQTT_311, packet(0x40, b"\x00\x05"), Ack(PUBACK, 5)),
    ("puback 5.0 short form means success", MQTT_5, packet(0x40, b"\x00\x05"), Ack(PUBACK, 5)),
    ("pubrec 5.0 with a reason code only", MQTT_5, packet(0x50, b"\x00\x05\x10"), Ack(PUBREC, 5, 0x10)),
    ("pubrel", MQTT_311, packet(0x62, b"\x01\x00"), Ack(PUBREL, 256)),
    ("pubcomp 5.0 with a reason string", MQTT_5, packet(0x70, b"\x00\x01\x92\x05\x1f" + s("no")),
     Ack(PUBCOMP, 1, 0x92, {0x1F: "no"})),
    ("subscribe 3.1.1", MQTT_311, packet(0x82, b"\x00\x01" + s("room1") + b"\x01" + s("x") + b"\x00"),
     Subscribe(1, [Subscription("room1", 1), Subscription("x", 0)])),
    ("subscribe 5.0 with options and identifier", MQTT_5,
     packet(0x82, b"\x00\x02" + b"\x02\x0b\x07" + s("room1") + b"\x2e"),
     Subscribe(2, [Subscription("room1", 2, no_local=True, retain_as_published=True, retain_handling=2)],
               {0x0B: [7]})),
    ("unsubscribe", MQTT_311, packet(0xA2, b"\x00\x03" + s("room1")), Unsubscribe(3, ["room1"])),
    ("pingreq", MQTT_311, b"\xc0\x00", PingReq()),
    ("pingresp", MQTT_311, b"\xd0\x00", PingResp()),
    ("disconnect 3.1.1", MQTT_311, b"\xe0\x00", Disconnect()),
    ("disconnect 5.0 with will", MQTT_5, b"\xe0\x01\x04", Disconnect(4)),
    ("disconnect 5.0 with session expiry", MQTT_5, b"\xe0\x07\x00\x05\x11\x00\x00\x00\x0a",
     Disconnect(0, {0x11: 10})),
    ("auth 5.0", MQTT_5, b"\xf0\x02\x18\x00", Auth(0x18)),
    ("connack 5.0", MQTT_5, b"\x20\x06\x01\x00\x03\x12" + b"\x00\x00", ConnAck(0, True, {0x12: ""})),
    ("suback", MQTT_5, b"\x90\x05\x00\x01\x00\x01\x80", SubAck(1, [1, 0x80])),
    ("unsuback 3.1.1", MQTT_311, b"\xb0\x02\x00\x09", UnsubAck(9)),
    ("unsuback 5.0", MQTT_5, b"\xb0\x04\x00\x09\x00\x11", UnsubAck(9, [0x11])),
]


@pytest.mark.parametrize("version, data, expected", [case[1:] for case in VECTORS], ids=[c[0] for c in VECTORS])
def test_known_bytes_decode_to_packets_and_back(version: "int | None", data: bytes, expected: Packet) -> None:
    assert decode_one(data, version) == expected
    wire_version = expected.protocol_level if isinstance(expected, Connect) else version or MQTT_5
    assert encode(expected, wire_version) == data


ROUND_TRIPS: List[Packet] = [
    ConnAck(0x87, properties={0x1F: "denied", 0x26: [("k", "v"), ("k", "w")]}),
    Publish("t", b"", qos=2, packet_id=65535, properties={0x0B: [1, 268_435_455], 0x02: 30}),
    Ack(PUBREL, 9, 0x92, {0x26: [("a", "")]}),
    SubAck(4, [0x00, 0x01, 0x02, 0xA2, 0x9E, 0x87], {0x1F: "why"}),
    Unsubscribe(5, ["a", "b"], {0x26: [("x", "y")]}),
    Disconnect(0x98, {0x1F: "Closed by REST API."}),
    Connect("", protocol_level=5, clean_start=False, keep_alive=0, password=b"secret",
            properties={0x21: 10, 0x27: 4096, 0x15: "method"}),
]


@pytest.mark.parametrize("original", ROUND_TRIPS, ids=[type(p).__name__ for p in ROUND_TRIPS])
def test_packets_survive_a_round_trip(original: Packet) -> None:
    assert decode_one(encode(original, MQTT_5), None if isinstance(original, Connect) else MQTT_5) == original


def test_the_reader_learns_the_version_from_connect() -> None:
    reader = PacketReader(LIMIT)
    packets = reader.feed(packet(0x10, connect_body(level=5)) + b"\x40\x03\x00\x01\x80")
    assert reader.version == MQTT_5
    assert packets[1] == Ack(PUBACK, 1, 0x80)


def test_packets_split_across_feeds_and_joined_in_one_feed() -> None:
    stream = packet(0x10, connect_body()) + packet(0x30, s("room1") + b"x" * 300) + b"\xc0\x00"
    reader = PacketReader(LIMIT)
    seen: List[Packet] = []
    for index in range(len(stream)):
        seen += reader.feed(stream[index:index + 1])
    assert seen == PacketReader(LIMIT).feed(stream)
    assert [type(p) for p in seen] == [Connect, Publish, PingReq]


# -- malformed input ----------------------------------------------------------------------------------------
MALFORMED = [
    ("remaining length of five bytes", MQTT_311, b"\x30\xff\xff\xff\xff\x01", 0x81, "more than four bytes"),
    ("string longer than the packet", MQTT_311, packet(0x30, b"\x00\x09abc"), 0x81, "shorter than"),
    ("invalid UTF-8 in a topic", MQTT_311, packet(0x30, b"\x00\x02\xc3\x28"), 0x81, "UTF-8"),
    ("surrogate encoded in UTF-8", MQTT_311, packet(0x30, b"\x00\x03\xed\xa0\x80"), 0x81, "UTF-8"),
    ("overlong UTF-8", MQTT_311, packet(0x30, b"\x00\x02\xc0\xaf"), 0x81, "UTF-8"),
    ("null character in a topic", MQTT_311, packet(0x30, s("a\x00b")), 0x81, "U+0000"),
    ("subscribe without its reserved flag", MQTT_311, packet(0x80, b"\x00\x01" + s("a") + b"\x00"), 0x81,
     "Reserved flags"),
    ("pingreq with flags", MQTT_311, b"\xc1\x00", 0x81, "Reserved flags"),
    ("pingreq with a body", MQTT_311, b"\xc0\x01\x00", 0x81, "trailing"),
    ("reserved packet type 0", MQTT_311, b"\x00\x00", 0x81, "reserved"),
    ("auth in 3.1.1", MQTT_311, b"\xf0\x00", 0x81, "reserved"),
    ("publish with QoS 3", MQTT_311, packet(0x36, s("a") + b"\x00\x01"), 0x81, "QoS 3"),
    ("QoS 0 publish with DUP", MQTT_311, packet(0x38, s("a")), 0x81, "DUP"),
    ("packet identifier 0", MQTT_311, packet(0x32, s("a") + b"\x00\x00"), 0x81, "identifier 0"),
    ("subscribe without filters", MQTT_311, packet(0x82, b"\x00\x01"), 0x82, "without any topic filter"),
    ("unsubscribe without filters", MQTT_5, packet(0xA2, b"\x00\x01\x00"), 0x82, "without any topic filter"),
    ("subscription options with reserved bits (3.1.1)", MQTT_311, packet(0x82, b"\x00\x01" + s("a") + b"\x04"),
     0x81, "subscription options"),
    ("subscription options with reserved bits (5.0)", MQTT_5, packet(0x82, b"\x00\x01\x00" + s("a") + b"\x40"),
     0x81, "subscription options"),
    ("retain handling 3", MQTT_5, packet(0x82, b"\x00\x01\x00" + s("a") + b"\x30"), 0x82, "Retain handling"),
    ("duplicate content type", MQTT_5, packet(0x30, s("a") + b"\x0a\x03" + s("a/b") + b"\x03" + s("c")), 0x82,
     "more than once"),
    ("duplicate subscription identifier in subscribe", MQTT_5,
     packet(0x82, b"\x00\x01\x04\x0b\x01\x0b\x02" + s("a") + b"\x00"), 0x82, "more than once"),
    ("property not allowed in the packet", MQTT_5, packet(0x30, s("a") + b"\x05\x11\x00\x00\x00\x01"), 0x82,
     "not allowed"),
    ("unknown property", MQTT_5, packet(0x30, s("a") + b"\x02\x7f\x00"), 0x81, "Unknown property"),
    ("property length past the end", MQTT_5, packet(0x30, s("a") + b"\x09\x01\x00"), 0x81, "past the end"),
    ("truncated property value", MQTT_5, packet(0x30, s("a") + b"\x02\x02\x00"), 0x81, "shorter than"),
    ("payload format indicator 2", MQTT_5, packet(0x30, s("a") + b"\x02\x01\x02"), 0x82, "invalid value"),
    ("subscription identifier 0", MQTT_5, packet(0x82, b"\x00\x01\x02\x0b\x00" + s("a") + b"\x00"), 0x82,
     "invalid value"),
    ("receive maximum 0", None, packet(0x10, connect_body(5, properties=b"\x03\x21\x00\x00")), 0x82,
     "invalid value"),
    ("first packet is not CONNECT", None, b"\xc0\x00", 0x82, "first packet must be CONNECT"),
    ("reserved CONNECT flag", None, packet(0x10, connect_body(flags=0x03)), 0x81, "reserved CONNECT flag"),
    ("will QoS 3", None, packet(0x10, connect_body(flags=0x1E)), 0x81, "will flags"),
    ("will retain without will", None, packet(0x10, connect_body(flags=0x22)), 0x81, "will flags"),
    ("3.1.1 password without user name", None, packet(0x10, connect_body(flags=0x42) + s("pw")), 0x81,
     "password without a user name"),
    ("CONNECT missing its client id", None, packet(0x10, s("MQTT") + b"\x04\x02\x00\x3c"), 0x81, "shorter than"),
]


@pytest.mark.parametrize("version, data, code, fragment", [case[1:] for case in MALFORMED],
                         ids=[c[0] for c in MALFORMED])
def test_malformed_input_is_refused_with_its_reason_code(version: "int | None", data: bytes, code: int,
                                                         fragment: str) -> None:
    with pytest.raises(PacketError) as refused:
        PacketReader(LIMIT, version).feed(data)
    assert refused.value.code == code
    assert fragment in refused.value.reason


@pytest.mark.parametrize("name, level", [("MQIsdp", 3), ("MQTT", 3), ("MQTT", 6), ("XMPP", 4)])
def test_unsupported_protocols_are_named_with_their_level(name: str, level: int) -> None:
    with pytest.raises(PacketError) as refused:
        PacketReader(LIMIT).feed(packet(0x10, s(name) + bytes((level, 2)) + b"\x00\x3c" + s("dev1")))
    assert (refused.value.code, refused.value.protocol_level) == (0x84, level)


def test_an_oversized_packet_is_refused_from_its_header_before_the_body_arrives() -> None:
    reader = PacketReader(max_packet_size=100, version=MQTT_311)
    with pytest.raises(PacketError) as refused:
        reader.feed(b"\x30" + encode_varint(1_000_000))
    assert refused.value.code == 0x95
    assert "1000004 bytes is larger than the maximum of 100 bytes" in refused.value.reason


def test_a_packet_at_the_limit_is_accepted() -> None:
    data = packet(0x30, s("a") + b"x" * 95)
    assert len(data) == 100
    assert PacketReader(100, MQTT_311).feed(data) == [Publish("a", b"x" * 95)]


def test_a_stream_that_does_not_start_with_connect_is_refused_at_its_first_byte() -> None:
    with pytest.raises(PacketError) as refused:
        PacketReader(LIMIT).feed(b"G")  # e.g. someone speaking HTTP
    assert refused.value.code == 0x82


def test_an_incomplete_packet_waits_for_more_bytes() -> None:
    reader = PacketReader(LIMIT, MQTT_311)
    assert reader.feed(b"\x30") == []
    assert reader.feed(b"\x85") == []  # remaining length not finished yet
    assert reader.feed(b"\x01" + s("a")) == []
    assert reader.feed(b"x" * 130) == [Publish("a", b"x" * 130)]


def test_encoding_refuses_properties_the_packet_type_does_not_allow() -> None:
    with pytest.raises(ValueError, match="not allowed"):
        encode(Publish("a", b"", properties={0x11: 1}), MQTT_5)


def test_properties_are_left_out_for_3_1_1() -> None:
    assert encode(ConnAck(0, properties={0x25: 0}), MQTT_311) == b"\x20\x02\x00\x00"
    assert encode(Disconnect(0x98), MQTT_311) == b"\xe0\x00"
    assert encode(Auth(0x18), MQTT_5)[0] >> 4 == AUTH
