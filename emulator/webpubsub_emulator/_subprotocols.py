"""The predefined WebSocket subprotocols of the client endpoint and the wire format each one speaks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

from ._json_format import JSON_FORMAT
from ._protobuf_format import PROTOBUF_FORMAT
from ._wire import SIMPLE, RequestFormat, WireFormat


@dataclass(frozen=True)
class Subprotocol:
    name: str
    wire: RequestFormat
    reliable: bool


JSON_PROTOCOL = "json.webpubsub.azure.v1"
RELIABLE_JSON_PROTOCOL = "json.reliable.webpubsub.azure.v1"
PROTOBUF_PROTOCOL = "protobuf.webpubsub.azure.v1"
RELIABLE_PROTOBUF_PROTOCOL = "protobuf.reliable.webpubsub.azure.v1"

SUBPROTOCOLS: Dict[str, Subprotocol] = {protocol.name: protocol for protocol in (
    Subprotocol(JSON_PROTOCOL, JSON_FORMAT, reliable=False),
    Subprotocol(RELIABLE_JSON_PROTOCOL, JSON_FORMAT, reliable=True),
    Subprotocol(PROTOBUF_PROTOCOL, PROTOBUF_FORMAT, reliable=False),
    Subprotocol(RELIABLE_PROTOBUF_PROTOCOL, PROTOBUF_FORMAT, reliable=True),
)}
PREDEFINED_PROTOCOLS = tuple(SUBPROTOCOLS)


def wire_format(subprotocol: Optional[str]) -> WireFormat:
    """The wire format of a connection: a custom subprotocol (picked by a connect handler) is a simple client."""
    protocol = SUBPROTOCOLS.get(subprotocol or "")
    return SIMPLE if protocol is None else protocol.wire


def is_reliable(subprotocol: Optional[str]) -> bool:
    protocol = SUBPROTOCOLS.get(subprotocol or "")
    return protocol is not None and protocol.reliable
