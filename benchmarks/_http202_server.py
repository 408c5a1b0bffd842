"""A loopback HTTP/1.1 server that answers every request with ``202 Accepted`` and an empty body.

Runs in its own process (started by the benchmarks) so its cost never shares a GIL with the client
under test. It is a bare asyncio ``Protocol`` — no framework, no routing, no header parsing beyond what
framing needs — so that it stays far faster than any client it serves (the raw urllib3 and
aiohttp reference lines in the reports show its headroom). Connections are kept alive.

Protocol with the parent: prints ``{"port": N}`` once listening; exits when stdin closes.
"""
from __future__ import annotations

import asyncio
import json
import sys
from typing import Optional

RESPONSE = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
HEADER_END = b"\r\n\r\n"
MAX_HEADER_BYTES = 64 * 1024


class Accept202(asyncio.Protocol):
    """Parses just enough of each request (header block, Content-Length or chunked body) to frame it."""

    def __init__(self) -> None:
        self.transport: Optional[asyncio.Transport] = None
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies = 0
        while True:
            consumed = self._one_request()
            if consumed == 0:
                break
            del self.buffer[:consumed]
            replies += 1
        if replies and self.transport is not None:
            # Pipelined requests get their replies in one write.
            self.transport.write(RESPONSE * replies)
        elif len(self.buffer) > MAX_HEADER_BYTES and HEADER_END not in self.buffer and self.transport:
            self.transport.close()

    def _one_request(self) -> int:
        """Bytes of the first complete request in the buffer, or 0 if it is not complete yet."""
        end = self.buffer.find(HEADER_END)
        if end < 0:
            return 0
        body_start = end + 4
        head = bytes(self.buffer[:end]).lower()
        length_at = head.find(b"\r\ncontent-length:")
        if length_at >= 0:
            value_end = head.find(b"\r\n", length_at + 2)
            value = head[length_at + 17:value_end if value_end >= 0 else len(head)]
            total = body_start + int(value.strip() or b"0")
            return total if len(self.buffer) >= total else 0
        if b"\r\ntransfer-encoding:" in head and b"chunked" in head:
            # The last chunk "0\r\n\r\n" starts a line (no trailers, and our bodies never contain it);
            # searching from the header's final CRLF also finds it for an empty body.
            terminator = self.buffer.find(b"\r\n0\r\n\r\n", body_start - 2)
            if terminator < 0:
                return 0
            return terminator + 7
        return body_start


async def serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Accept202, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    # stdin closing (the parent exiting or closing the pipe) ends the server.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(serve())
