"""A loopback HTTP/1.1 server for the async transport tests that answers with exact bytes.

``respond(request)`` returns the raw response bytes, ``None`` to send nothing (the connection stays open),
``HANG_UP`` to close the connection without answering, or ``ThenHangUp(data)`` to close it after ``data``.
The server records which connections were opened and which the client closed, so tests can see pooling and
socket release from the outside.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable, Dict, List, Optional, Tuple, Union

HANG_UP = b"<hang up>"


class ThenHangUp(bytes):
    """Response bytes after which the server closes the connection."""


class Trickle(bytes):
    """Response bytes sent a few at a time, each piece in its own TCP segment."""
Peer = Tuple[str, int]


@dataclass
class RawRequest:
    method: str
    target: str
    headers: Dict[str, str]  # lower-cased names
    body: bytes
    peer: Peer


Answer = Optional[bytes]
Respond = Callable[[RawRequest], Union[Answer, Awaitable[Answer]]]


def response(status: int = 202, body: bytes = b"", headers: Optional[Dict[str, str]] = None,
             reason: str = "OK") -> bytes:
    """A Content-Length framed response."""
    fields = {"Content-Length": str(len(body)), **(headers or {})}
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return head.encode("latin-1") + b"\r\n" + body


class RawServer:
    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.requests: List[RawRequest] = []
        self.opened: List[Peer] = []
        self.closed_by_client: List[Peer] = []
        self._server: Optional[asyncio.AbstractServer] = None
        self._writers: List[asyncio.StreamWriter] = []
        self._changed = asyncio.Event()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> "RawServer":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await asyncio.wait_for(self._server.wait_closed(), 5)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async def poll() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(poll(), timeout)

    def _notify(self) -> None:
        self._changed.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer: Peer = writer.get_extra_info("peername")[:2]
        self.opened.append(peer)
        self._writers.append(writer)
        self._notify()
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    self.closed_by_client.append(peer)
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = RawRequest(method, target, headers, body, peer)
                self.requests.append(request)
                self._notify()
                answer = self.respond(request)
                if not isinstance(answer, (bytes, type(None))):
                    answer = await answer
                if answer == HANG_UP:
                    return
                if isinstance(answer, Trickle):
                    for start in range(0, len(answer), 3):
                        writer.write(answer[start:start + 3])
                        await writer.drain()
                        await asyncio.sleep(0.0005)
                elif answer:
                    writer.write(answer)
                    await writer.drain()
                if isinstance(answer, ThenHangUp):
                    return
        except ConnectionError:
            self.closed_by_client.append(peer)
        finally:
            writer.close()
            self._notify()
