"""A chat room on Azure Web PubSub, running against the local emulator.

    python samples/chat/server.py [--port 8080]

One process serves three things on one port: the page (``/``), ``/negotiate`` (a client access
token from the SDK's service client) and the event handler (``/eventhandler``) that the emulator
calls. Chat messages arrive as ``chat`` events and are broadcast with ``send_to_all``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Callable, Dict, Iterable, List
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
PAGE = Path(__file__).with_name("index.html")
StartResponse = Callable[..., Any]


def create_event_handler(connection_string: str, service: WebPubSubServiceClient) -> WebPubSubEventHandler:
    def on_connect(request: ConnectRequest) -> ConnectResponse:
        # The token from /negotiate carries the user id; refuse anonymous connections.
        if not request.context.user_id:
            raise EventHandlerError(401, "please sign in through /negotiate")
        offered = "json.webpubsub.azure.v1" in request.subprotocols
        return ConnectResponse(subprotocol="json.webpubsub.azure.v1" if offered else None)

    def on_connected(request: ConnectedRequest) -> None:
        service.send_to_all({"system": f"{request.context.user_id} joined"})

    def on_user_event(request: UserEventRequest) -> None:
        if request.context.event_name == "chat":
            service.send_to_all({"from": request.context.user_id, "text": str(request.data)})

    def on_disconnected(request: DisconnectedRequest) -> None:
        service.send_to_all({"system": f"{request.context.user_id} left"})

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8080, help="port of the chat server (0 picks a free one)")
    port = parser.parse_args().port
    # Bind first so the emulator can be told where the event handler lives, then build the app.
    server = make_server("127.0.0.1", port, lambda environ, start: [], _ThreadingServer, _QuietHandler)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    with Emulator(event_handlers={HUB: f"{base_url}/eventhandler"}) as emulator:
        server.set_app(create_app(emulator.connection_string))
        print(f"Chat running at {base_url}/ (emulator at {emulator.endpoint}); Ctrl+C to stop", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


if __name__ == "__main__":
    main()
