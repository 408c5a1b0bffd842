"""Serve ASGI and WSGI apps on 127.0.0.1 in a background thread, for the event-handler tests."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any, Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import uvicorn

START_TIMEOUT_SECONDS = 10.0


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    # The emulator may call the handler for one connection while another's request is open.
    daemon_threads = True


class _QuietRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        pass


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Yields the base URL (``http://127.0.0.1:PORT``) of the standard library's WSGI server."""
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Yields the base URL of a uvicorn server running ``app`` in a background thread."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # ws="none": event handlers answer plain HTTP. uvicorn's "auto" would load a WebSocket implementation,
    # which uvicorn 0.39 (the last for Python 3.9) takes from websockets' deprecated legacy API, a warning.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="auto", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        listener.close()
