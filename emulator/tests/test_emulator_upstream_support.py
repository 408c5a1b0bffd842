"""A real local event handler (aiohttp.web on 127.0.0.1) that records requests and answers as told.

Shared by the test_emulator_upstream_*.py modules; holds no tests itself.
"""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable, Dict, List, Mapping, Optional

from aiohttp import web
from multidict import CIMultiDictProxy

Responder = Callable[[web.Request], Awaitable[web.StreamResponse]]

TEST_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
WAIT_LIMIT = 5.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    raw_path: str
    event: str  # last path segment, unescaped
    headers: "CIMultiDictProxy[str]"
    body: bytes
    received_at: float


def respond(status: int = 200, body: bytes = b"", headers: Optional[Mapping[str, str]] = None) -> Responder:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, headers=dict(headers or {}))

    return answer


class _ResponseWithoutContentType(web.Response):
    """aiohttp always fills in a Content-Type for a body; some handlers send none at all."""

    async def _write_headers(self) -> None:
        self.headers.popall("Content-Type", None)
        await super()._write_headers()


def respond_without_content_type(body: bytes) -> Responder:
    async def answer(request: web.Request) -> web.StreamResponse:
        return _ResponseWithoutContentType(status=200, body=body)

    return answer


def allow_origin(value: Optional[str] = "*", status: int = 200) -> Responder:
    return respond(status, headers={} if value is None else {"WebHook-Allowed-Origin": value})


def hang(seconds: float = 30.0) -> Responder:
    async def answer(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.Response(status=204)

    return answer


def drop_connection() -> Responder:
    async def answer(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=204)

    return answer


class FakeHandler:
    """Responders are chosen by "METHOD event"; a list of them is used in turn, the last one repeats."""

    def __init__(self) -> None:
        self.requests: List[RecordedRequest] = []
        self.port = 0
        self._responders: Dict[str, List[Responder]] = {}
        self._arrival = asyncio.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url_template(self) -> str:
        return self.base_url + "/api/{hub}/{event}"

    def on(self, method: str, event: str, *responders: Responder) -> None:
        self._responders[f"{method.upper()} {event}"] = list(responders)

    def received(self, method: str = "POST", event: Optional[str] = None) -> List[RecordedRequest]:
        return [
            request for request in self.requests
            if request.method == method and (event is None or request.event == event)
        ]

    async def wait_for(self, count: int, method: str = "POST", event: Optional[str] = None) -> List[RecordedRequest]:
        deadline = time.monotonic() + WAIT_LIMIT
        while len(self.received(method, event)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                got = self.received(method, event)
                raise AssertionError(f"expected {count} {method} {event} request(s), got {got}")
            self._arrival.clear()
            try:
                await asyncio.wait_for(self._arrival.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return self.received(method, event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        event = request.match_info["tail"].rsplit("/", 1)[-1]
        self.requests.append(
            RecordedRequest(request.method, request.raw_path, event, request.headers, body, time.monotonic())
        )
        self._arrival.set()
        queue = self._responders.get(f"{request.method} {event}")
        if queue:
            responder = queue.pop(0) if len(queue) > 1 else queue[0]
            return await responder(request)
        if request.method in ("OPTIONS", "GET"):
            return await allow_origin()(request)
        return web.Response(status=204)


@asynccontextmanager
async def running_handler() -> AsyncIterator[FakeHandler]:
    fake = FakeHandler()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.2, handler_cancellation=True, access_log=None)
    await runner.setup()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    fake.port = listener.getsockname()[1]
    await web.SockSite(runner, listener).start()
    try:
        yield fake
    finally:
        await runner.cleanup()


def unused_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port
