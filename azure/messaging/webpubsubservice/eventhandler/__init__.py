"""Handle Web PubSub's CloudEvents upstream requests (connect, user events, connected, disconnected).

The core is sans-IO (``WebPubSubEventHandler.handle``/``handle_async``); ``as_asgi_app`` and
``as_wsgi_app`` put it on a server. It needs no web framework: the standard library and
the SDK's own dependencies (azure-core, isodate for ``ce-time``) are enough.
"""

from ._asgi import EventHandlerASGIApp
from ._core import WebPubSubEventHandler
from ._models import (
    ClientCertificate,
    ConnectedRequest,
    ConnectionContext,
    ConnectRequest,
    ConnectResponse,
    DisconnectedRequest,
    EventHandlerError,
    HandlerResponse,
    MqttConnectProperties,
    MqttDisconnected,
    MqttDisconnectPacket,
    UserEventRequest,
    UserEventResponse,
)
from ._wsgi import EventHandlerWSGIApp

__all__ = [
    "WebPubSubEventHandler",
    "EventHandlerASGIApp",
    "EventHandlerWSGIApp",
    "ConnectionContext",
    "ConnectRequest",
    "ConnectResponse",
    "ConnectedRequest",
    "DisconnectedRequest",
    "UserEventRequest",
    "UserEventResponse",
    "ClientCertificate",
    "EventHandlerError",
    "HandlerResponse",
    "MqttConnectProperties",
    "MqttDisconnected",
    "MqttDisconnectPacket",
]
