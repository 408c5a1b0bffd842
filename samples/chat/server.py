"""A chat room on Azure Web PubSub: run it, then open http://127.0.0.1:8081/ in two browser tabs.

    python samples/chat/server.py [--port 8081]

One process serves three things on one port: the page (``/``), ``/negotiate`` (a client access
token from the SDK's service client) and the event handler (``/eventhandler``) that the service
calls. Chat messages arrive as ``chat`` events and are broadcast with ``send_to_all``; the
``connected`` and ``disconnected`` events keep the list of who is online.

By default it starts the local emulator in-process, on a free port, with this server as the hub's
event handler; the chat's own default port, 8081, stays clear of a standalone emulator's 8080.

With a real Web PubSub resource, set WEBPUBSUB_CONNECTION_STRING to its connection string. The
service must then reach this server: expose it at a public URL (for example through a tunnel to
127.0.0.1:8081), and in the hub ``chat``'s settings set the event handler URL to
``<public URL>/eventhandler`` with the system events ``connect``, ``connected`` and ``disconnected``
and the user event ``chat`` (or ``*``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Callable, Dict, Iterable, Iterator, List
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from webpubsub_emulator import Emulator

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.eventhandler import (
    ConnectedRequest,
    ConnectRequest,
    ConnectResponse,
    DisconnectedRequest,
    EventHandlerError,
    UserEventRequest,
    WebPubSubEventHandler,
)

HUB = "chat"
DEFAULT_PORT = 8081
MAX_NAME_LENGTH = 32
MAX_MESSAGE_LENGTH = 2000
PAGE = Path(__file__).with_name("index.html")
StartResponse = Callable[..., Any]


class Presence:
    """Who is online: each user with at least one open connection (a user may have several tabs).

    The service has no "list connections" call, so the app keeps the list from the ``connected`` and
    ``disconnected`` events. One lock orders the announcements, so every page sees the lists in order.
    """

    def __init__(self, service: WebPubSubServiceClient) -> None:
        self._service = service
        self._lock = threading.Lock()
        self._users_by_connection: Dict[str, str] = {}

    def online(self) -> List[str]:
        return sorted(set(self._users_by_connection.values()))

    def connected(self, connection_id: str, user_id: str) -> None:
        with self._lock:
            first_connection = user_id not in self._users_by_connection.values()
            self._users_by_connection[connection_id] = user_id
            if first_connection:
                self._service.send_to_all({"system": f"{user_id} joined", "online": self.online()})
            else:  # another tab of someone already online: only the new tab needs the list
                self._service.send_to_connection(connection_id, {"online": self.online()})

    def disconnected(self, connection_id: str) -> None:
        with self._lock:
            user_id = self._users_by_connection.pop(connection_id, None)
            if user_id is not None and user_id not in self._users_by_connection.values():
                self._service.send_to_all({"system": f"{user_id} left", "online": self.online()})


def create_event_handler(connection_string: str, service: WebPubSubServiceClient) -> WebPubSubEventHandler:
    presence = Presence(service)

    def on_connect(request: ConnectRequest) -> ConnectResponse:
        # The token from /negotiate carries the user id; refuse anonymous connections.
        if not request.context.user_id:
            raise EventHandlerError(401, "please sign in through /negotiate")
        offered = "json.webpubsub.azure.v1" in request.subprotocols
        return ConnectResponse(subprotocol="json.webpubsub.azure.v1" if offered else None)

    def on_connected(request: ConnectedRequest) -> None:
        presence.connected(request.context.connection_id, request.context.user_id or "")

    def on_user_event(request: UserEventRequest) -> None:
        if request.context.event_name != "chat":
            raise EventHandlerError(400, f"unknown event {request.context.event_name!r}; this chat knows 'chat'")
        text = str(request.data).strip()
        if len(text) > MAX_MESSAGE_LENGTH:
            raise EventHandlerError(400, f"messages are at most {MAX_MESSAGE_LENGTH} characters")
        if text:
            service.send_to_all({"from": request.context.user_id, "text": text})

    def on_disconnected(request: DisconnectedRequest) -> None:
        presence.disconnected(request.context.connection_id)

    # The connection string gives both the key that signs events and the allowed origin.
    return WebPubSubEventHandler(
        HUB,
        access_keys=connection_string,
        on_connect=on_connect,
        on_connected=on_connected,
        on_user_event=on_user_event,
        on_disconnected=on_disconnected,
    )


def create_app(connection_string: str) -> Callable[[Dict[str, Any], StartResponse], Iterable[bytes]]:
    service = WebPubSubServiceClient.from_connection_string(connection_string, hub=HUB)

    def pages(environ: Dict[str, Any], start_response: StartResponse) -> List[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/":
            return _reply(start_response, "200 OK", "text/html; charset=utf-8", PAGE.read_bytes())
        if path == "/negotiate":
            user_id = parse_qs(environ.get("QUERY_STRING", "")).get("id", [""])[0].strip()
            if not user_id:
                return _reply(start_response, "400 Bad Request", "text/plain", b"missing ?id=<your name>")
            if len(user_id) > MAX_NAME_LENGTH:
                message = f"names are at most {MAX_NAME_LENGTH} characters"
                return _reply(start_response, "400 Bad Request", "text/plain", message.encode())
            token = service.get_client_access_token(user_id=user_id)
            return _reply(start_response, "200 OK", "application/json", json.dumps({"url": token["url"]}).encode())
        return _reply(start_response, "404 Not Found", "text/plain", b"not found")

    return create_event_handler(connection_string, service).as_wsgi_app(pages)


def _reply(start_response: StartResponse, status: str, content_type: str, body: bytes) -> List[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - name fixed by the base class
        pass


def listen(port: int) -> WSGIServer:
    """Bind 127.0.0.1:port (0 = a free port); a busy port ends the program with one line, not a traceback."""
    try:
        return make_server("127.0.0.1", port, lambda environ, start: [], _ThreadingServer, _QuietHandler)
    except OSError as error:
        sys.exit(f"chat: cannot listen on 127.0.0.1:{port}: {error.strerror or error} "
                 f"(is the chat already running? --port 0 picks a free port)")


@contextmanager
def chat_with_emulator(server: WSGIServer) -> Iterator[Emulator]:
    """Start an emulator whose event handler is this server, and give the server the chat app."""
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    with Emulator(event_handlers={HUB: f"{base_url}/eventhandler"}) as emulator:
        server.set_app(create_app(emulator.connection_string))
        yield emulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port of the chat server (default {DEFAULT_PORT}; 0 picks a free one)")
    port = parser.parse_args().port
    if not 0 <= port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {port}")
    # Bind first so the emulator can be told where the event handler lives.
    server = listen(port)
    with ExitStack() as stack:
        configured = os.environ.get("WEBPUBSUB_CONNECTION_STRING")
        if configured:  # a real resource, whose hub settings name this server's public URL
            server.set_app(create_app(configured))
            service = "Web PubSub from WEBPUBSUB_CONNECTION_STRING"
        else:
            service = f"emulator at {stack.enter_context(chat_with_emulator(server)).endpoint}"
        print(f"Chat running at http://127.0.0.1:{server.server_address[1]}/ ({service}); Ctrl+C to stop",
              flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


if __name__ == "__main__":
    main()
