"""The protobuf codec against the reference's byte-level test vectors, and the schema's compiled descriptor.

Upstream vectors: the message classes encode them byte for byte, and the emulator decodes them into the
request the JSON twin would give. Downstream vectors: what the emulator writes, byte for byte.
"""
from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from protobuf_test_helpers import (EXAMPLE_ANY, EXAMPLE_ANY_BYTES, PING, binary, event, join, json_data, leave,
                                   protobuf_data, send_to_group, sequence_ack, text)

from webpubsub_emulator._json_format import JSON_FORMAT
from webpubsub_emulator._messages import BINARY, JSON, PROTOBUF, TEXT, OutboundMessage
from webpubsub_emulator._protobuf_format import PROTOBUF_FORMAT
from webpubsub_emulator._protobuf_schema import DESCRIPTOR_FILE, PROTO_DIR, PROTO_FILE
from webpubsub_emulator._requests import (JoinGroup, LeaveGroup, Ping, ProtocolViolation, Request, SendEvent,
                                          SendToGroup, SequenceAck)


def hex_bytes(spaced: str) -> bytes:
    return bytes.fromhex(spaced.replace(" ", ""))


UPSTREAM_VECTORS = [
    ("join room1, ack 1", join("room1", 1), "32 09 0a 05 72 6f 6f 6d 31 10 01", "MgkKBXJvb20xEAE=",
     JoinGroup("room1", 1)),
    ("leave room1, ack 2", leave("room1", 2), "3a 09 0a 05 72 6f 6f 6d 31 10 02", "OgkKBXJvb20xEAI=",
     LeaveGroup("room1", 2)),
    ("sendToGroup text, ack 3", send_to_group("room1", text("hi"), 3),
     "0a 0f 0a 05 72 6f 6f 6d 31 10 03 1a 04 0a 02 68 69", "Cg8KBXJvb20xEAMaBAoCaGk=",
     SendToGroup("room1", TEXT, b"hi", ack_id=3)),
    ("sendToGroup binary, noEcho", send_to_group("room1", binary(b"\x01\x02\x03"), no_echo=True),
     "0a 10 0a 05 72 6f 6f 6d 31 1a 05 12 03 01 02 03 20 01", "ChAKBXJvb20xGgUSAwECAyAB",
     SendToGroup("room1", BINARY, b"\x01\x02\x03", no_echo=True)),
    ("sendToGroup json", send_to_group("room1", json_data('{"a":1}')),
     "0a 12 0a 05 72 6f 6f 6d 31 1a 09 22 07 7b 22 61 22 3a 31 7d", "ChIKBXJvb20xGgkiB3siYSI6MX0=",
     SendToGroup("room1", JSON, b'{"a":1}')),
    ("event text, ack 4", event("chat", text("hi"), 4), "2a 0e 0a 04 63 68 61 74 12 04 0a 02 68 69 18 04",
     "Kg4KBGNoYXQSBAoCaGkYBA==", SendEvent("chat", TEXT, b"hi", 4)),
    ("sequenceAck 5", sequence_ack(5), "42 02 08 05", "QgIIBQ==", SequenceAck(5)),
    ("ping", PING, "4a 00", "SgA=", Ping()),
    ("sendToGroup protobuf", send_to_group("G", protobuf_data()), "0a 3c 0a 01 47 1a 37 1a 35" + EXAMPLE_ANY_BYTES.hex(),
     "CjwKAUcaNxo1Ci90eXBlLmdvb2dsZWFwaXMuY29tL2F6dXJlLndlYnB1YnN1Yi5UZXN0TWVzc2FnZRICCAE=",
     SendToGroup("G", PROTOBUF, EXAMPLE_ANY_BYTES)),
]


@pytest.mark.parametrize("message, spaced_hex, base64_text", [case[1:4] for case in UPSTREAM_VECTORS],
                         ids=[case[0] for case in UPSTREAM_VECTORS])
def test_client_messages_encode_to_the_reference_bytes(message: Any, spaced_hex: str, base64_text: str) -> None:
    assert message.SerializeToString() == hex_bytes(spaced_hex)
    assert base64.b64encode(hex_bytes(spaced_hex)).decode() == base64_text


@pytest.mark.parametrize("spaced_hex, request_", [(case[2], case[4]) for case in UPSTREAM_VECTORS],
                         ids=[case[0] for case in UPSTREAM_VECTORS])
def test_reference_bytes_decode_to_the_json_twins_request(spaced_hex: str, request_: Request) -> None:
    assert PROTOBUF_FORMAT.decode(hex_bytes(spaced_hex)) == request_


def test_the_reference_example_any_is_the_documented_base64() -> None:
    assert base64.b64encode(EXAMPLE_ANY_BYTES).decode() == (
        "Ci90eXBlLmdvb2dsZWFwaXMuY29tL2F6dXJlLndlYnB1YnN1Yi5UZXN0TWVzc2FnZRICCAE=")
    assert EXAMPLE_ANY.value == b"\x08\x01" and len(EXAMPLE_ANY_BYTES) == 53


DOWNSTREAM_VECTORS = [
    ("ack 1 success", lambda: PROTOBUF_FORMAT.ack(1), "0a 04 08 01 10 01", "CgQIARAB"),
    ("ack 2 failed", lambda: PROTOBUF_FORMAT.ack(2, "Forbidden", "x"),
     "0a 12 08 02 1a 0e 0a 09 46 6f 72 62 69 64 64 65 6e 12 01 78", "ChIIAhoOCglGb3JiaWRkZW4SAXg="),
    ("data from group, text", lambda: PROTOBUF_FORMAT.data(OutboundMessage(TEXT, b"hi", group="room1")),
     "12 14 0a 05 67 72 6f 75 70 12 05 72 6f 6f 6d 31 1a 04 0a 02 68 69", "EhQKBWdyb3VwEgVyb29tMRoECgJoaQ=="),
    ("data from server, json, sequence 1",
     lambda: PROTOBUF_FORMAT.sequenced_data(OutboundMessage(JSON, b'{"a":1}'), 1),
     "12 15 0a 06 73 65 72 76 65 72 1a 09 22 07 7b 22 61 22 3a 31 7d 20 01", "EhUKBnNlcnZlchoJIgd7ImEiOjF9IAE="),
    ("connected c1 alice", lambda: PROTOBUF_FORMAT.connected("c1", "alice", None),
     "1a 0d 0a 0b 0a 02 63 31 12 05 61 6c 69 63 65", "Gg0KCwoCYzESBWFsaWNl"),
    ("connected c1, no user", lambda: PROTOBUF_FORMAT.connected("c1", None, None), "1a 06 0a 04 0a 02 63 31",
     "GgYKBAoCYzE="),
    ("disconnected bye", lambda: PROTOBUF_FORMAT.disconnected("bye"), "1a 07 12 05 12 03 62 79 65", "GgcSBRIDYnll"),
    ("pong", PROTOBUF_FORMAT.pong, "22 00", "IgA="),
]


@pytest.mark.parametrize("render, spaced_hex, base64_text", [case[1:] for case in DOWNSTREAM_VECTORS],
                         ids=[case[0] for case in DOWNSTREAM_VECTORS])
def test_service_messages_are_the_reference_bytes(render: Callable[[], bytes], spaced_hex: str,
                                                  base64_text: str) -> None:
    frame = render()
    assert frame == hex_bytes(spaced_hex)
    assert base64.b64encode(frame).decode() == base64_text


@pytest.mark.parametrize("kind, data, case, value", [
    (TEXT, b"text data", "text_data", "text data"),
    (BINARY, b"\x01\x02\x03", "binary_data", b"\x01\x02\x03"),
    (JSON, b' {"a":1} ', "json_data", '{"a":1}'),
    (PROTOBUF, EXAMPLE_ANY_BYTES, "protobuf_data", EXAMPLE_ANY),
], ids=["text", "binary", "json", "protobuf"])
def test_each_data_kind_has_its_message_data_case(kind: str, data: bytes, case: str, value: Any) -> None:
    from protobuf_test_helpers import Down

    frame = Down.FromString(PROTOBUF_FORMAT.data(OutboundMessage(kind, data)))
    message_data = frame.data_message.data
    assert message_data.WhichOneof("data") == case and getattr(message_data, case) == value
    assert not frame.data_message.HasField("sequence_id") and not frame.data_message.HasField("group")


def test_reliable_connected_message_carries_the_reconnection_token() -> None:
    from protobuf_test_helpers import Down

    connected = Down.FromString(PROTOBUF_FORMAT.connected("c1", "alice", "token")).system_message.connected_message
    assert (connected.connection_id, connected.user_id, connected.reconnection_token) == ("c1", "alice", "token")


def test_json_clients_see_protobuf_data_as_base64_of_the_serialized_any() -> None:
    frame = JSON_FORMAT.data(OutboundMessage(PROTOBUF, EXAMPLE_ANY_BYTES, group="G"))
    assert frame == ('{"type":"message","from":"group","group":"G","dataType":"protobuf","data":"'
                     + base64.b64encode(EXAMPLE_ANY_BYTES).decode() + '"}')


@pytest.mark.parametrize("frame, reason", [
    (b"\xff", "Error reading protobuf."),
    (hex_bytes("32 09 0a 05"), "Error reading protobuf."),  # cut off inside the join message
    (hex_bytes("32 03 0a 01 ff"), "Error reading protobuf."),  # group is not UTF-8
    (b"\x0b" * 10_000, "Error reading protobuf."),  # unknown groups nested 10,000 deep
    (b"", "Unsupported request message type."),
    (hex_bytes("1a 00"), "Unsupported request message type."),  # field 3: no request has it
    (hex_bytes("30 01"), "Unsupported request message type."),  # join as a varint: skipped as unknown
    (hex_bytes("0a 07 0a 05 72 6f 6f 6d 31"), "Missing MessageData: text_data, binary_data, protobuf_data or "
                                              "json_data is required."),
    (hex_bytes("0a 09 0a 05 72 6f 6f 6d 31 1a 00"), "Missing MessageData: text_data, binary_data, protobuf_data "
                                                   "or json_data is required."),
    (send_to_group("g", json_data("{not json")).SerializeToString(), "'json_data' is not valid JSON."),
    (send_to_group("g", json_data("null")).SerializeToString(), "'json_data' must not be null."),
    (hex_bytes("0a 0d 0a 01 67 1a 04 0a 02 68 69 3a 02 0a 00"), "Streaming requests are not supported."),
], ids=["garbage", "cut off", "bad utf-8", "deep nesting", "empty", "unknown case", "wrong wire type", "no data", "empty data",
        "bad json", "json null", "stream"])
def test_malformed_frames_are_protocol_violations_with_1007(frame: bytes, reason: str) -> None:
    with pytest.raises(ProtocolViolation) as raised:
        PROTOBUF_FORMAT.decode(frame)
    assert (raised.value.reason, raised.value.code) == (reason, 1007)


def test_a_text_frame_is_the_wrong_frame_type() -> None:
    with pytest.raises(ProtocolViolation) as raised:
        PROTOBUF_FORMAT.decode("4a00")
    assert raised.value.code == 1003


def test_unknown_fields_are_skipped() -> None:
    join_message = join("room1", 1).join_group_message.SerializeToString() + hex_bytes("f8 01 07")  # field 31 = 7
    frame = bytes([0x32, len(join_message)]) + join_message
    assert PROTOBUF_FORMAT.decode(frame) == JoinGroup("room1", 1)


def test_a_group_field_of_the_wrong_wire_type_is_skipped_and_reads_as_empty() -> None:
    assert PROTOBUF_FORMAT.decode(hex_bytes("32 04 08 05 10 01")) == JoinGroup("", 1)


def test_a_present_ack_id_of_zero_is_a_real_ack_id() -> None:
    assert PROTOBUF_FORMAT.decode(join("g", 0).SerializeToString()) == JoinGroup("g", 0)
    assert PROTOBUF_FORMAT.decode(join("g").SerializeToString()) == JoinGroup("g", None)


def test_the_largest_uint64_ack_id_is_accepted() -> None:
    assert PROTOBUF_FORMAT.decode(join("g", 2 ** 64 - 1).SerializeToString()) == JoinGroup("g", 2 ** 64 - 1)


def test_checked_in_descriptor_is_what_protoc_makes_of_the_proto(tmp_path: Path) -> None:
    output = tmp_path / "webpubsub.binpb"
    finished = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"--proto_path={PROTO_DIR}", f"--descriptor_set_out={output}",
         PROTO_FILE.name], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert output.read_bytes() == DESCRIPTOR_FILE.read_bytes(), (
        "protos/webpubsub.binpb is stale: regenerate it as _protobuf_schema's docstring says")
