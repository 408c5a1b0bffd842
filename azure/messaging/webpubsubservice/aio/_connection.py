"""One keep-alive HTTP/1.1 client connection on an asyncio protocol.

The response is parsed as bytes arrive, in ``data_received``, and the waiting coroutine is woken once per
milestone (head complete, body data, response complete) through a plain future: no stream reader, no
task per read and no ``wait_for``, which is most of what a generic client spends on a small response.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any, List, Optional, Tuple

from azure.core.exceptions import ServiceResponseError, ServiceResponseTimeoutError
from typing_extensions import Protocol

_MAX_HEAD_BYTES = 64 * 1024
_STREAM_HIGH_WATER = 1024 * 1024  # unread streamed bytes before the socket stops being read

# How a response body is delimited (RFC 9112 section 6.3).
_NO_BODY, _LENGTH, _CHUNKED, _UNTIL_CLOSE = range(4)
# Where the chunked decoder is.
_CHUNK_SIZE, _CHUNK_DATA, _CHUNK_DATA_END, _CHUNK_TRAILER = range(4)


class ResponseHead:
    """Status line and headers of a response."""

    __slots__ = ("status", "reason", "headers", "keep_alive")

    def __init__(self, status: int, reason: str, headers: List[Tuple[str, str]], keep_alive: bool) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.keep_alive = keep_alive


class StaleConnectionError(ServiceResponseError):
    """The server closed the connection before answering: nothing was received, so a fresh one may retry."""


class HttpConnection(asyncio.Protocol):
    """Sends one request at a time and parses its response; reusable when the response allows it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: Optional[asyncio.Transport] = None
        self.lost: "asyncio.Future[None]" = loop.create_future()
        self._buffer = bytearray()
        self._waiter: "Optional[asyncio.Future[None]]" = None
        self._error: Optional[Exception] = None
        self._last_activity = 0.0
        self._reset()

    def _reset(self) -> None:
        self.head: Optional[ResponseHead] = None
        self._head_only = False
        self._framing = _NO_BODY
        self._remaining = 0
        self._chunk_state = _CHUNK_SIZE
        self._body: List[bytes] = []
        self._body_size = 0
        self._complete = False
        self._received_any = False
        self._streaming = False
        self._paused = False

    # -- asyncio.Protocol ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._received_any = True
        self._last_activity = self._loop.time()
        self._buffer += data
        try:
            self._advance()
        except ServiceResponseError as error:
            self._fail(error)
            return
        if self._streaming and self._body_size > _STREAM_HIGH_WATER and not self._paused and self.transport:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> Optional[bool]:
        return False  # close our side too: a half-closed HTTP/1.1 connection is of no further use

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self.head is not None and self._framing == _UNTIL_CLOSE and not self._complete:
            self._complete = True  # the body was delimited by the server closing the connection
        elif not self._complete and self._error is None:
            detail = f": {exc}" if exc else ""
            if self._received_any:
                self._error = ServiceResponseError(f"connection closed in the middle of the response{detail}")
            else:
                self._error = StaleConnectionError(f"connection closed before any response{detail}")
        if not self.lost.done():
            self.lost.set_result(None)
        self._wake()

    # -- state -----------------------------------------------------------------------------------------

    def is_usable(self) -> bool:
        """Idle, open and with nothing unexpected buffered (a server may not speak before it is asked)."""
        return (self.transport is not None and not self.transport.is_closing() and not self.lost.done()
                and self._error is None and not self._buffer)

    @property
    def reusable(self) -> bool:
        """Whether the finished exchange left the connection ready for the next request."""
        return (self._complete and self.head is not None and self.head.keep_alive and self._framing != _UNTIL_CLOSE
                and not self._buffer and self.is_usable())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection at once: used when a response was not read to its end."""
        if self.transport is not None:
            self.transport.abort()

    def close_without_loop(self) -> None:
        """Close the socket even if the connection's event loop has been closed already."""
        if self.transport is None:
            return
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.transport.abort)
            return
        # A closed loop no longer runs transport callbacks, and asyncio has no public way to finish closing a
        # transport without one: run the selector transport's own final step, which closes the socket.
        transport: Any = self.transport
        inner = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None) or transport
        finish = getattr(inner, "_call_connection_lost", None)
        if finish is not None:
            finish(None)

    # -- exchange --------------------------------------------------------------------------------------

    def send(self, head: bytes, body: Optional[bytes], head_only: bool, streaming: bool) -> None:
        assert self.transport is not None
        self._reset()
        self._head_only = head_only
        self._streaming = streaming
        self._last_activity = self._loop.time()
        if body:
            self.transport.writelines((head, body))
        else:
            self.transport.write(head)

    async def read_head(self, read_timeout: float) -> ResponseHead:
        while self.head is None:
            await self._wait(read_timeout)
        return self.head

    async def read_body(self, read_timeout: float) -> bytes:
        while not self._complete:
            await self._wait(read_timeout)
        body = b"".join(self._body) if len(self._body) != 1 else self._body[0]
        self._body, self._body_size = [], 0
        return body

    async def read_chunk(self, read_timeout: float) -> bytes:
        """The body bytes received so far (waiting for some if there are none); ``b""`` at the end."""
        while not self._body and not self._complete:
            await self._wait(read_timeout)
        chunk = b"".join(self._body)
        self._body, self._body_size = [], 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    async def _wait(self, read_timeout: float) -> None:
        if self._error is not None:
            raise self._error
        waiter = self._waiter = self._loop.create_future()
        timer = self._loop.call_later(read_timeout, self._check_idle, read_timeout) if read_timeout else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if self._error is not None:
            raise self._error

    def _check_idle(self, read_timeout: float) -> None:
        """Fail the wait if nothing arrived for ``read_timeout``; otherwise look again when it could have."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        idle_for = self._loop.time() - self._last_activity
        if idle_for >= read_timeout:
            self._fail(ServiceResponseTimeoutError(f"no response data within the read timeout ({read_timeout}s)"))
        else:
            timer = self._loop.call_later(read_timeout - idle_for, self._check_idle, read_timeout)
            waiter.add_done_callback(lambda _: timer.cancel())

    def _fail(self, error: Exception) -> None:
        self._error = error
        self._wake()
        self.abort()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- parsing ---------------------------------------------------------------------------------------

    def _advance(self) -> None:
        while self.head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEAD_BYTES:
                    raise ServiceResponseError("response head larger than 64 KiB")
                return
            raw_head = bytes(self._buffer[:end])
            del self._buffer[:end + 4]
            self._parse_head(raw_head)
        if not self._complete:
            self._parse_body()

    def _parse_head(self, raw: bytes) -> None:
        lines = raw.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        status_text, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(status_text) != 3 or not status_text.isdigit():
            raise ServiceResponseError(f"not an HTTP/1.x response: {lines[0][:80]!r}")
        status = int(status_text)
        if 100 <= status < 200 and status != 101:
            return  # interim response (100 Continue, 103 Early Hints): the real one follows
        headers: List[Tuple[str, str]] = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise ServiceResponseError(f"malformed response header line {line[:80]!r}")
            headers.append((name, value.strip()))
        connection_tokens = {token.strip().lower() for name, value in headers
                             if name.lower() == "connection" for token in value.split(",")}
        keep_alive = ("close" not in connection_tokens if version == "HTTP/1.1"
                      else "keep-alive" in connection_tokens)
        self._framing, self._remaining = _framing(status, headers, self._head_only)
        self.head = ResponseHead(status, reason, headers, keep_alive)
        if self._framing == _NO_BODY or (self._framing == _LENGTH and self._remaining == 0):
            self._complete = True

    def _parse_body(self) -> None:
        buffer = self._buffer
        if self._framing == _LENGTH:
            if buffer:
                take = min(self._remaining, len(buffer))
                self._keep(bytes(buffer[:take]))
                del buffer[:take]
                self._remaining -= take
                self._complete = self._remaining == 0
        elif self._framing == _UNTIL_CLOSE:
            if buffer:
                self._keep(bytes(buffer))
                buffer.clear()
        else:
            self._parse_chunks()

    def _parse_chunks(self) -> None:
        buffer = self._buffer
        while buffer and not self._complete:
            if self._chunk_state == _CHUNK_SIZE:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > 1024:
                        raise ServiceResponseError("malformed chunk size line")
                    return
                size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
                del buffer[:end + 2]
                try:
                    self._remaining = int(size_text, 16)
                except ValueError:
                    raise ServiceResponseError(f"malformed chunk size {size_text[:20]!r}") from None
                self._chunk_state = _CHUNK_DATA if self._remaining else _CHUNK_TRAILER
            elif self._chunk_state == _CHUNK_DATA:
                take = min(self._remaining, len(buffer))
                self._keep(bytes(buffer[:take]))
                del buffer[:take]
                self._remaining -= take
                if self._remaining == 0:
                    self._chunk_state = _CHUNK_DATA_END
            elif self._chunk_state == _CHUNK_DATA_END:
                if len(buffer) < 2:
                    return
                if buffer[:2] != b"\r\n":
                    raise ServiceResponseError("chunk data not followed by CRLF")
                del buffer[:2]
                self._chunk_state = _CHUNK_SIZE
            else:  # trailer fields until an empty line; their content is not needed
                end = buffer.find(b"\r\n")
                if end < 0:
                    return
                del buffer[:end + 2]
                self._complete = end == 0

    def _keep(self, data: bytes) -> None:
        self._body.append(data)
        self._body_size += len(data)


def _framing(status: int, headers: List[Tuple[str, str]], head_only: bool) -> Tuple[int, int]:
    if head_only or status in (204, 304) or 100 <= status < 200:
        return _NO_BODY, 0
    length: Optional[str] = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == "transfer-encoding" and value.lower().rsplit(",", 1)[-1].strip() == "chunked":
            return _CHUNKED, 0
        if lowered == "content-length":
            length = value
    if length is None:
        return _UNTIL_CLOSE, 0
    if not length.isdigit():
        raise ServiceResponseError(f"invalid Content-Length {length[:20]!r}")
    return _LENGTH, int(length)


class Decompressor(Protocol):
    def decompress(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


def decompressor_for(headers: List[Tuple[str, str]]) -> Optional[Decompressor]:
    """A decompressor for a gzip or deflate ``Content-Encoding``, or None when the body is as sent."""
    for name, value in headers:
        if name.lower() == "content-encoding" and value.strip().lower() in ("gzip", "x-gzip", "deflate"):
            return zlib.decompressobj(32 + zlib.MAX_WBITS)  # 32 + MAX_WBITS: gzip or zlib framing
    return None
