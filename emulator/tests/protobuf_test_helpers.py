"""Protobuf-subprotocol clients for the emulator tests.

Client frames are built with the emulator's own message classes (from `protos/webpubsub.proto`), which the
wire tests pin to the reference's byte-level test vectors.
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional

import aiohttp
from emulator_core_helpers import WAIT, Client, open_socket

from webpubsub_emulator import Emulator
from webpubsub_emulator._protobuf_schema import DownstreamMessage, MessageData, ProtobufAny, UpstreamMessage

PROTOBUF_PROTOCOL = "protobuf.webpubsub.azure.v1"
RELIABLE_PROTOBUF_PROTOCOL = "protobuf.reliable.webpubsub.azure.v1"

# The reference's example Any: type.googleapis.com/azure.webpubsub.TestMessage with value 08 01.
EXAMPLE_ANY = ProtobufAny(type_url="type.googleapis.com/azure.webpubsub.TestMessage", value=b"\x08\x01")
EXAMPLE_ANY_BYTES = EXAMPLE_ANY.SerializeToString()

Up = UpstreamMessage
Down = DownstreamMessage


def text(value: str) -> Any:
    return MessageData(text_data=value)


def binary(value: bytes) -> Any:
    return MessageData(binary_data=value)


def json_data(value: str) -> Any:
    return MessageData(json_data=value)


def protobuf_data(value: Any = EXAMPLE_ANY) -> Any:
    return MessageData(protobuf_data=value)


def join(group: str, ack_id: Optional[int] = None) -> Any:
    return Up(join_group_message=Up.JoinGroupMessage(group=group, ack_id=ack_id))


def leave(group: str, ack_id: Optional[int] = None) -> Any:
    return Up(leave_group_message=Up.LeaveGroupMessage(group=group, ack_id=ack_id))


def send_to_group(group: str, data: Any, ack_id: Optional[int] = None, *, no_echo: Optional[bool] = None,
                  ttl_seconds: Optional[int] = None) -> Any:
    return Up(send_to_group_message=Up.SendToGroupMessage(group=group, data=data, ack_id=ack_id, no_echo=no_echo,
                                                          ttl_seconds=ttl_seconds))


def event(name: str, data: Any, ack_id: Optional[int] = None) -> Any:
    return Up(event_message=Up.EventMessage(event=name, data=data, ack_id=ack_id))


def sequence_ack(sequence_id: int) -> Any:
    return Up(sequence_ack_message=Up.SequenceAckMessage(sequence_id=sequence_id))


PING = Up(ping_message=Up.PingMessage())


def ack(ack_id: int, error_name: Optional[str] = None) -> Any:
    """An `AckMessage` as the client receives it, ignoring the error text."""
    message = Down.AckMessage(ack_id=ack_id, success=error_name is None)
    if error_name is not None:
        message.error.name = error_name
    return message


class ProtobufClient(Client):
    """A client of a protobuf subprotocol: binary frames of `UpstreamMessage` / `DownstreamMessage`."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__(session, ws)
        self.connected_message: Any = None
        self.disconnected_reason = ""

    async def receive_message(self, timeout: float = WAIT) -> Any:
        frame = await self.receive(timeout)
        assert frame.type == aiohttp.WSMsgType.BINARY, frame
        return Down.FromString(frame.data)

    async def receive_case(self, case: str, timeout: float = WAIT) -> Any:
        """The next message, which must be of this `DownstreamMessage` case; its inner message."""
        message = await self.receive_message(timeout)
        assert message.WhichOneof("message") == case, message
        return getattr(message, case)

    async def receive_data(self, timeout: float = WAIT) -> Any:  # type: ignore[override]
        return await self.receive_case("data_message", timeout)

    async def send_message(self, message: Any) -> None:
        await self.ws.send_bytes(message.SerializeToString())

    async def request_ack(self, message: Any) -> Any:
        """Send a request and return the ack, with the error text cleared for easy comparison."""
        await self.send_message(message)
        answer = await self.receive_case("ack_message")
        answer.error.ClearField("message")
        if not answer.error.name:
            answer.ClearField("error")
        return answer

    async def pong(self) -> bool:
        await self.send_message(PING)
        return (await self.receive_message()).WhichOneof("message") == "pong_message"

    async def closing(self) -> aiohttp.WSMessage:
        """The close frame, after checking that a `disconnected` system message came first."""
        system = await self.receive_case("system_message")
        assert system.WhichOneof("message") == "disconnected_message", system
        self.disconnected_reason = system.disconnected_message.reason
        frame = await self.receive()
        assert frame.type == aiohttp.WSMsgType.CLOSE, frame
        return frame


async def connect_protobuf(emu: Emulator, hub: str = "chat", *, protocol: str = PROTOBUF_PROTOCOL,
                           **client_args: Any) -> ProtobufClient:
    """A protobuf client whose `connected` system message has been read (kept in `.connected_message`)."""
    client = ProtobufClient(*await open_socket(emu, hub, protocols=[protocol], **client_args))
    assert client.ws.protocol == protocol
    system = await client.receive_case("system_message")
    client.connected_message = system.connected_message
    client.connection_id = system.connected_message.connection_id
    return client


async def gather_close(*clients: Client) -> None:
    await asyncio.gather(*(client.close() for client in clients))
