"""The seam between a connection and its protocol family.

A `WireFormat` is one shared, stateless object per protocol family. `Connection` asks its format for
every frame it sends: data messages (`data`, cached per format by `OutboundMessage`, so a fan-out renders
each family once; `sequenced_data` for reliable subprotocols) and the `connected`/`disconnected` system
messages. Families whose clients send requests (`RequestFormat`: JSON, protobuf) also render acks and
pongs and decode client frames into the protocol-neutral requests of `_requests`, which
`_client_protocol.ClientRequests` executes for all of them.

Another WebSocket subprotocol family plugs in by subclassing `RequestFormat` and registering its names in
`_subprotocols`. MQTT does not go through this seam: a topic, a QoS and properties depend on each
session's subscriptions, so `_mqtt_session.MqttSession` overrides `Connection.deliver` and encodes its
own PUBLISH packets.
"""
from __future__ import annotations

from typing import Optional

from ._messages import BINARY, PROTOBUF, Frame, OutboundMessage
from ._requests import Request


class WireFormat:
    """How one protocol family writes what the service sends. The base class is the simple client's:
    bare payload frames, no envelopes, no system messages."""

    name = "simple"

    def data(self, message: OutboundMessage) -> Frame:
        """The frame every receiver of this family gets for `message` (built once per fan-out)."""
        return message.data if message.kind in (BINARY, PROTOBUF) else message.data.decode("utf-8")

    def sequenced_data(self, message: OutboundMessage, sequence_id: int) -> Frame:
        """The frame of a reliable subprotocol, carrying this connection's sequence id."""
        raise NotImplementedError(f"the {self.name} wire format has no reliable flavour")

    def connected(self, connection_id: str, user_id: Optional[str],
                  reconnection_token: Optional[str]) -> Optional[Frame]:
        """The first frame after the upgrade (and after a recovery); None sends nothing."""
        return None

    def disconnected(self, reason: str) -> Optional[Frame]:
        """The frame that precedes a server-initiated close; None sends nothing."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class RequestFormat(WireFormat):
    """A subprotocol family whose clients send requests and get acks, pongs and system messages."""

    binary_frames = False  # the one WebSocket frame type this family accepts; the other closes with 1003
    wrong_frame_reason = ""

    def ack(self, ack_id: int, error_name: Optional[str] = None, error_message: str = "") -> Frame:
        raise NotImplementedError

    def pong(self) -> Frame:
        raise NotImplementedError

    def decode(self, data: Frame) -> Request:
        """One client frame (of the accepted type) as a request; raises `ProtocolViolation`."""
        raise NotImplementedError


SIMPLE = WireFormat()
