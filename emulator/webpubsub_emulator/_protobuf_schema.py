"""The message classes of the protobuf subprotocols, built at import time by the protobuf runtime.

`protos/webpubsub.proto` is the schema, written from the protocol reference. protoc compiles it into
`protos/webpubsub.binpb`, a serialized `FileDescriptorSet` checked in beside it; at import time this module
loads that descriptor into a private `DescriptorPool` and lets `message_factory` make the classes. A test
(emulator/tests/test_emulator_protobuf_wire.py) recompiles the `.proto` with grpcio-tools and checks the result
is byte-for-byte the checked-in descriptor. After editing the `.proto`, regenerate the descriptor from
the `emulator` folder with grpcio-tools (a dev dependency):

    python -m grpc_tools.protoc --proto_path=webpubsub_emulator/protos \
        --descriptor_set_out=webpubsub_emulator/protos/webpubsub.binpb webpubsub.proto

Why a compiled descriptor and not a checked-in generated `_pb2.py`: generated modules are stamped with
the protoc release that made them and refuse to load on an older protobuf runtime (and warn or refuse
across major versions), while Python 3.9 tops out at protobuf 6.x and newer Pythons get 7.x. A descriptor
is plain protobuf data that every runtime loads, so the emulator can depend on `protobuf>=4.25` (the first
runtime whose `GetMessageClass` classes expose their nested types) without pinning one major. The runtime
has no `.proto` parser, so protoc runs at development time only.

A private pool keeps these types (package `azure.webpubsub`, as in the official C# client) from clashing
with an application that loads its own copy of the same schema into the default pool.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, cast

from google.protobuf import any_pb2, descriptor, descriptor_pb2, descriptor_pool, message, message_factory

PROTO_DIR = Path(__file__).resolve().parent / "protos"
PROTO_FILE = PROTO_DIR / "webpubsub.proto"
DESCRIPTOR_FILE = PROTO_DIR / "webpubsub.binpb"
PACKAGE = "azure.webpubsub"


class _Pool(Protocol):
    """The two `DescriptorPool` methods used here. types-protobuf 6.x, the newest on Python 3.9, leaves
    the pool's methods untyped (7.x types them); this states their types on every version."""

    def Add(self, file_desc_proto: descriptor_pb2.FileDescriptorProto) -> None: ...  # noqa: N802

    def FindMessageTypeByName(self, full_name: str) -> descriptor.Descriptor: ...  # noqa: N802


def _build_pool() -> _Pool:
    pool = cast(_Pool, descriptor_pool.DescriptorPool())
    any_file = descriptor_pb2.FileDescriptorProto.FromString(any_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(any_file)
    for file in descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_FILE.read_bytes()).file:
        pool.Add(file)
    return pool


_POOL = _build_pool()


def _message_class(full_name: str) -> Any:
    # Typed Any: the classes are made at run time, so their fields are unknown to a type checker.
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(full_name))


UpstreamMessage = _message_class(f"{PACKAGE}.UpstreamMessage")
DownstreamMessage = _message_class(f"{PACKAGE}.DownstreamMessage")
MessageData = _message_class(f"{PACKAGE}.MessageData")
ProtobufAny = _message_class("google.protobuf.Any")
DecodeError = message.DecodeError


def is_serialized_any(data: bytes) -> bool:
    """Whether `data` parses as a `google.protobuf.Any` (type_url a valid UTF-8 string, value bytes)."""
    try:
        ProtobufAny.FromString(data)
    except DecodeError:
        return False
    return True
