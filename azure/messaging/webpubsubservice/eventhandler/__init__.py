"""Handle Web PubSub's CloudEvents upstream requests (connect, user events, connected, disconnected).

Layers: ``_core`` is sans-IO (``handle``/``handle_async``), ``_asgi`` and ``_wsgi`` put it on a server,
and ``WebPubSubEventHandler`` below is the core with both adapters at hand. It needs no web framework:
the standard library and the SDK's own dependencies (azure-core, isodate for ``ce-time``) are enough.
"""

from typing import Optional

from ._asgi import ASGIApp, EventHandlerASGIApp
from ._core import EventHandlerCore
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
from ._wsgi import EventHandlerWSGIApp, WSGIApp


class WebPubSubEventHandler(EventHandlerCore):
    __doc__ = EventHandlerCore.__doc__

    def as_asgi_app(self, app: Optional[ASGIApp] = None) -> EventHandlerASGIApp:
        """An ASGI app serving this handler; other paths go to ``app`` (or get 404 without one)."""
        return EventHandlerASGIApp(app, handler=self)

    def as_wsgi_app(self, app: Optional[WSGIApp] = None) -> EventHandlerWSGIApp:
        """A WSGI app serving this handler; other paths go to ``app`` (or get 404 without one)."""
        return EventHandlerWSGIApp(app, handler=self)


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
