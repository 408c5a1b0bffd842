"""Typed requests and responses that event-handler callbacks receive and return."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Tuple

from typing_extensions import Literal, get_args

DataType = Literal["text", "json", "binary", "protobuf"]
DATA_TYPES: Tuple[str, ...] = get_args(DataType)
UserProperties = List[Tuple[str, str]]  # MQTT 5.0 user properties: (name, value) pairs, names may repeat

# Status codes the service documents for refusing a connect or failing a user event.
REJECTION_STATUS_CODES = (400, 401, 403, 500)


class ConnectionContext:
    """Who sent an event: the CloudEvents attributes shared by every request, plus connection state.

    ``states`` is the decoded ``ce-connectionState``. Only blocking events (``connect`` and user events)
    can change it: after ``set_state``/``clear_states`` the handler sends the whole new state back.
    """

    def __init__(
        self,
        *,
        hub: str,
        connection_id: str,
        event_name: str,
        event_id: Optional[str] = None,
        user_id: Optional[str] = None,
        subprotocol: Optional[str] = None,
        origin: Optional[str] = None,
        signature: Optional[str] = None,
        states: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        physical_connection_id: Optional[str] = None,
        session_id: Optional[str] = None,
        time: Optional[datetime] = None,
    ) -> None:
        self.hub = hub
        self.connection_id = connection_id
        self.event_name = event_name
        self.event_id = event_id
        self.user_id = user_id
        self.subprotocol = subprotocol
        self.origin = origin
        self.signature = signature
        # MQTT clients only: the network connection, and the session (absent on connect).
        self.physical_connection_id = physical_connection_id
        self.session_id = session_id
        # Header names are lower-cased: HTTP names are case-insensitive.
        self.headers: Dict[str, str] = dict(headers or {})
        self.time = time  # when the service sent the event (ce-time), an aware UTC datetime
        self._states: Dict[str, Any] = dict(states or {})
        self._states_changed = False

    @property
    def states(self) -> Dict[str, Any]:
        """A copy of the connection state; change it with ``set_state`` so the change is sent back."""
        return dict(self._states)

    @property
    def states_changed(self) -> bool:
        return self._states_changed

    def set_state(self, name: str, value: Any) -> None:
        """Attach a JSON-serialisable value to the connection; later events carry it in ``states``."""
        json.dumps(value)  # fail here, in the caller's code, rather than while answering the service
        self._states[name] = value
        self._states_changed = True

    def clear_states(self) -> None:
        self._states.clear()
        self._states_changed = True

    def __repr__(self) -> str:
        return (
            f"ConnectionContext(hub={self.hub!r}, connection_id={self.connection_id!r}, "
            f"event_name={self.event_name!r}, user_id={self.user_id!r})"
        )


@dataclass(frozen=True)
class ClientCertificate:
    thumbprint: str
    content: str


@dataclass
class MqttConnectProperties:
    """The MQTT CONNECT behind a ``connect`` event: ``protocol_version`` 4 is MQTT 3.1.1, 5 is MQTT 5.0."""

    protocol_version: int
    username: Optional[str] = None
    password: Optional[bytes] = None
    user_properties: UserProperties = field(default_factory=list)
    clean_start: Optional[bool] = None


@dataclass
class MqttDisconnectPacket:
    """The last DISCONNECT of an MQTT session: ``code`` is its 5.0 reason code (always 0 for 3.1.1);
    ``user_properties`` is None when the service sent it."""

    code: int
    user_properties: Optional[UserProperties] = None


@dataclass
class MqttDisconnected:
    initiated_by_client: bool
    disconnect_packet: Optional[MqttDisconnectPacket] = None  # None when no DISCONNECT was exchanged


@dataclass
class ConnectRequest:
    """The blocking ``connect`` event, sent while the client's WebSocket handshake (or, for MQTT clients,
    their CONNECT) waits. ``mqtt`` is set for MQTT clients only."""

    context: ConnectionContext
    claims: Dict[str, List[str]] = field(default_factory=dict)
    query: Dict[str, List[str]] = field(default_factory=dict)
    headers: Dict[str, List[str]] = field(default_factory=dict)
    subprotocols: List[str] = field(default_factory=list)
    client_certificates: List[ClientCertificate] = field(default_factory=list)
    mqtt: Optional[MqttConnectProperties] = None


@dataclass
class ConnectResponse:
    """Accept a connection, optionally overriding its identity. Fields left as None are not sent.
    ``mqtt_user_properties`` go into an MQTT 5.0 client's CONNACK."""

    user_id: Optional[str] = None
    groups: Optional[List[str]] = None
    roles: Optional[List[str]] = None
    subprotocol: Optional[str] = None
    mqtt_user_properties: Optional[UserProperties] = None


@dataclass
class UserEventRequest:
    """A blocking user event: ``message`` from simple clients, or a subprotocol client's ``event``.

    ``data`` is ``str`` for ``text/plain`` (``data_type="text"``), the parsed value for ``application/json``
    (``"json"``), the bytes of a serialized ``google.protobuf.Any`` for ``application/x-protobuf`` (``"protobuf"``:
    a protobuf client's ``protobuf_data``, e.g. ``any_pb2.Any.FromString(request.data)``) and ``bytes`` for
    anything else (``"binary"``).
    """

    context: ConnectionContext
    data: Any
    data_type: DataType
    content_type: str
    body: bytes

    @property
    def mqtt_user_properties(self) -> UserProperties:
        """An MQTT client's user properties (they arrive as ``mqtt-<name>`` headers, names lower-cased)."""
        return [(name[5:], value) for name, value in self.context.headers.items() if name.startswith("mqtt-")]


@dataclass
class UserEventResponse:
    """Data sent back to the calling connection only. ``data_type`` defaults from the data:
    ``str`` -> text, ``bytes`` -> binary, anything else -> JSON; ``"protobuf"`` sends ``bytes`` of a serialized
    ``google.protobuf.Any`` as ``application/x-protobuf`` (a protobuf client gets them as ``protobuf_data``).
    ``mqtt_user_properties`` reach an MQTT client."""

    data: Any
    data_type: Optional[DataType] = None
    mqtt_user_properties: Optional[UserProperties] = None

    def __post_init__(self) -> None:
        if self.data_type is not None and self.data_type not in DATA_TYPES:
            raise ValueError(f"data_type must be 'text', 'json', 'binary' or 'protobuf', not {self.data_type!r}")

    def resolved_data_type(self) -> DataType:
        if self.data_type is not None:
            return self.data_type
        if isinstance(self.data, str):
            return "text"
        if isinstance(self.data, (bytes, bytearray, memoryview)):
            return "binary"
        return "json"


@dataclass
class ConnectedRequest:
    """Notification that a connection is open; the service does not wait for the answer."""

    context: ConnectionContext


@dataclass
class DisconnectedRequest:
    """Notification that a connection ended; ``reason`` is empty or None for a normal close."""

    context: ConnectionContext
    reason: Optional[str] = None
    mqtt: Optional[MqttDisconnected] = None


class EventHandlerError(Exception):
    """Raise from ``on_connect`` or ``on_user_event`` to refuse the event with a status and a reason.

    A refused ``connect`` fails the client's handshake (4xx codes reach the client as they are). An MQTT
    client gets a CONNACK code instead: ``mqtt_code`` (1-5 for MQTT 3.1.1, 0x80-0x9F for 5.0) or one derived
    from the status (400: bad user name or password, 401/403: not authorized, 500: server unavailable).
    """

    def __init__(self, status_code: int, reason: str = "", *, mqtt_code: Optional[int] = None,
                 mqtt_user_properties: Optional[UserProperties] = None) -> None:
        if status_code not in REJECTION_STATUS_CODES:
            raise ValueError(f"status_code must be one of {REJECTION_STATUS_CODES}, not {status_code}")
        if mqtt_code is not None and not (1 <= mqtt_code <= 5 or 0x80 <= mqtt_code <= 0x9F):
            raise ValueError(f"mqtt_code must be a CONNACK code (1-5 or 0x80-0x9F), not {mqtt_code}")
        super().__init__(f"{status_code}: {reason}")
        self.status_code = status_code
        self.reason = reason
        self.mqtt_code = mqtt_code
        self.mqtt_user_properties = mqtt_user_properties


@dataclass(frozen=True)
class HandlerResponse:
    """What the sans-IO core answers; adapters copy it onto the wire unchanged."""

    status: int
    headers: Tuple[Tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> Optional[str]:
        wanted = name.lower()
        for header_name, value in self.headers:
            if header_name.lower() == wanted:
                return value
        return None

