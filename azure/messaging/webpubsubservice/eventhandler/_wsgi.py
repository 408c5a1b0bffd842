"""WSGI adapter: serves the handler's path and hands everything else to the wrapped app."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ._core import EventHandlerCore, body_too_large_response, text_response
from ._models import HandlerResponse

Environ = Dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class EventHandlerWSGIApp:
    """Use alone, or as middleware: ``flask_app.wsgi_app = handler.as_wsgi_app(flask_app.wsgi_app)``.

    Coroutine callbacks run with ``asyncio.run`` in a fresh event loop in the request's thread.
    """

    def __init__(self, app: Optional[WSGIApp] = None, *, handler: EventHandlerCore) -> None:
        self.handler = handler
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        route_path = self._route_path(environ)
        if route_path is None:
            if self.app is not None:
                return self.app(environ, start_response)
            return _respond(start_response, text_response(404, "Not Found"))
        method = str(environ.get("REQUEST_METHOD", "GET"))
        limit = self.handler.max_body_size
        declared = _declared_length(environ)
        if declared is None:
            return _respond(start_response, text_response(400, "invalid Content-Length"))
        if method.upper() == "POST" and declared > limit:
            return _respond(start_response, body_too_large_response(limit))
        if _has_unreadable_chunked_body(environ):
            # Without Content-Length or wsgi.input_terminated the body cannot be read safely; an
            # explicit refusal beats treating the event as empty.
            return _respond(
                start_response, text_response(411, "send Content-Length: this WSGI server cannot read chunked bodies")
            )
        body = _read_body(environ, declared, limit)
        return _respond(start_response, self.handler.handle(method, route_path, _request_headers(environ), body))

    def _route_path(self, environ: Environ) -> Optional[str]:
        path_info = str(environ.get("PATH_INFO", "")) or "/"
        full_path = str(environ.get("SCRIPT_NAME", "")) + path_info
        for candidate in (full_path, path_info):
            if self.handler.matches(candidate):
                return candidate
        return None


def _request_headers(environ: Environ) -> List[Tuple[str, str]]:
    headers = [
        (name[5:].replace("_", "-").lower(), str(value)) for name, value in environ.items() if name.startswith("HTTP_")
    ]
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers.append((name.replace("_", "-").lower(), str(environ[name])))
    return headers


def _declared_length(environ: Environ) -> Optional[int]:
    """Content-Length, 0 when absent, None when it is not a non-negative number."""
    raw = str(environ.get("CONTENT_LENGTH") or "0").strip()
    if not raw.isdigit():
        return None
    return int(raw)


def _has_unreadable_chunked_body(environ: Environ) -> bool:
    chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
    return chunked and not environ.get("wsgi.input_terminated")


def _read_body(environ: Environ, declared: int, limit: int) -> bytes:
    stream = environ["wsgi.input"]
    if declared:
        return bytes(stream.read(min(declared, limit + 1)))
    if environ.get("wsgi.input_terminated"):
        # Chunked request on a server that marks the end of input: read just past the limit.
        return bytes(stream.read(limit + 1))
    return b""


def _respond(start_response: StartResponse, response: HandlerResponse) -> List[bytes]:
    headers = list(response.headers)
    if response.status != 204:
        headers.append(("Content-Length", str(len(response.body))))
    start_response(f"{response.status} {HTTPStatus(response.status).phrase}", headers)
    return [response.body]
