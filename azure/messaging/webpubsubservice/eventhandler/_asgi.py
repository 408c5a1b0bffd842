"""ASGI adapter: serves the handler's path and hands everything else to the wrapped app."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, List, MutableMapping, Optional, Tuple

from ._core import EventHandlerCore, body_too_large_response, text_response
from ._models import HandlerResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class EventHandlerASGIApp:
    """Use alone (``uvicorn module:app``), as middleware around another ASGI app, or mount it.

    Coroutine callbacks run on the event loop; plain functions run in a worker thread.
    """

    def __init__(self, app: Optional[ASGIApp] = None, *, handler: EventHandlerCore) -> None:
        # ``app`` comes first so Starlette's ``add_middleware(EventHandlerASGIApp, handler=...)`` works.
        self.handler = handler
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route_path = self._route_path(scope) if scope["type"] == "http" else None
        if route_path is not None:
            await self._serve(route_path, scope, receive, send)
        elif self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "lifespan":
            await _run_empty_lifespan(receive, send)
        elif scope["type"] == "http":
            await _send(send, text_response(404, "Not Found"))
        # Other scope types (websocket) have nothing to talk to; returning closes them.

    def _route_path(self, scope: Scope) -> Optional[str]:
        """The path the handler should see, or None when the request is not for the handler."""
        path: str = scope.get("path", "")
        root_path: str = scope.get("root_path", "")
        if self.handler.matches(path):
            return path
        # Routers disagree on whether a mounted app's ``path`` still includes ``root_path``.
        if root_path and path.startswith(root_path) and self.handler.matches(path[len(root_path) :] or "/"):
            return path[len(root_path) :] or "/"
        return None

    async def _serve(self, route_path: str, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope.get("headers", [])]
        method: str = scope["method"]
        limit = self.handler.max_body_size
        if method.upper() == "POST" and _declared_length(headers) > limit:
            await _send(send, body_too_large_response(limit))
            return
        body = await _read_body(receive, limit)
        if body is None:
            return  # the client went away; there is nobody to answer
        await _send(send, await self.handler.handle_async(method, route_path, headers, body))


def _declared_length(headers: List[Tuple[str, str]]) -> int:
    for name, value in headers:
        if name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _read_body(receive: Receive, limit: int) -> Optional[bytes]:
    """Reads at most ``limit + 1`` bytes, enough for the core to see an oversized body and answer 413."""
    chunks: List[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit or not message.get("more_body", False):
            return b"".join(chunks)[: limit + 1]


async def _send(send: Send, response: HandlerResponse) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
    if response.status != 204:
        headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _run_empty_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
