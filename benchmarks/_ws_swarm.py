"""A swarm of lean WebSocket clients in one process, for the fan-out benchmark.

Each client is a bare asyncio ``Protocol`` speaking RFC 6455 directly (handshake, unmasked server frames,
pong and close replies): a client that costs a few microseconds per received frame, so that the swarm,
which receives every delivery of the benchmark, stays as cheap as possible next to the server it measures.
Its CPU use per round is reported all the same, so a swarm that became the bottleneck shows.

Messages are ``"<round>:<seq>:<send time>"`` where the send time is ``time.monotonic()`` in the sender's
process (``CLOCK_MONOTONIC``, one clock for every process of the machine). Every client checks that it
receives the round's messages in order, each exactly once.

Protocol with the parent (one JSON object per line): greeting ``{"connected": n}`` once every client is
upgraded; ``{"op": "expect", "round": r, "messages": n}`` arms a round; ``{"op": "wait", "timeout": s}``
waits until every client has the round's messages (or the timeout) and replies with counts and latencies.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import resource
import struct
import sys
import time
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

from _common import percentile

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def raise_fd_limit() -> None:
    """Every client is a socket: lift the soft descriptor limit to the hard one where allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
        except (ValueError, OSError):
            pass


def _masked(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask); only used for the rare pong and close replies."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(body)) + mask + body


class Round:
    """What every client of the swarm expects in the current round, and what they all received."""

    def __init__(self, round_id: int, messages: int, clients: int) -> None:
        self.prefix = f"{round_id}:"
        self.messages = messages
        self.clients = clients
        self.complete_clients = 0
        self.latencies: List[float] = []
        self.errors: List[str] = []
        self.first_receipt = float("inf")
        self.last_receipt = 0.0
        self.done = asyncio.Event()
        self.cpu_at_start = _cpu_seconds()
        if messages == 0:
            self.done.set()


class Client(asyncio.Protocol):
    def __init__(self, host: str, target: str, swarm: "Swarm") -> None:
        self.swarm = swarm
        self.transport: Optional[asyncio.Transport] = None
        key = base64.b64encode(os.urandom(16))
        self.expected_accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        self.request = (f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        self.upgraded: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.fragments = bytearray()
        self.fragment_opcode = 0
        self.received = 0  # messages of the current round
        self.closed = False

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.closed = True
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError(f"closed before the upgrade: {exc}"))
        elif not self.swarm.closing:
            self.swarm.lost_connections += 1

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()  # one reading for every frame of this chunk
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[:end + 4]
            if not head.startswith(b"HTTP/1.1 101") or self.expected_accept not in head:
                self.upgraded.set_exception(ConnectionError(f"upgrade refused: {head[:200]!r}"))
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded.set_result(None)
        self._frames(now)

    # -- frames -----------------------------------------------------------------------------------
    def _frames(self, now: float) -> None:
        buffer = self.buffer
        offset = 0
        size = len(buffer)
        while size - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1]
            length = second & 0x7F
            header = 2
            if length == 126:
                if size - offset < 4:
                    break
                length = int.from_bytes(buffer[offset + 2:offset + 4], "big")
                header = 4
            elif length == 127:
                if size - offset < 10:
                    break
                length = int.from_bytes(buffer[offset + 2:offset + 10], "big")
                header = 10
            if second & 0x80:  # servers never mask; tolerate it anyway
                header += 4
            if size - offset < header + length:
                break
            payload = bytes(buffer[offset + header:offset + header + length])
            if second & 0x80:
                mask = buffer[offset + header - 4:offset + header]
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            offset += header + length
            self._frame(first & 0x80, first & 0x0F, payload, now)
        if offset:
            del buffer[:offset]

    def _frame(self, fin: int, opcode: int, payload: bytes, now: float) -> None:
        if opcode == OP_PING:
            assert self.transport is not None
            self.transport.write(_masked(OP_PONG, payload))
            return
        if opcode == OP_CLOSE:
            if self.transport is not None and not self.closed:
                self.transport.write(_masked(OP_CLOSE, payload[:2]))
                self.transport.close()
            return
        if opcode == OP_PONG:
            return
        if opcode in (OP_TEXT, OP_BINARY):
            self.fragment_opcode = opcode
            self.fragments.clear()
        self.fragments += payload
        if fin:
            message = bytes(self.fragments)
            self.fragments.clear()
            self.swarm.deliver(self, message, now)


class Swarm:
    def __init__(self) -> None:
        self.clients: List[Client] = []
        self.round: Optional[Round] = None
        self.closing = False
        self.lost_connections = 0

    async def connect(self, url: str, count: int, parallel: int) -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        target = parts.path + ("?" + parts.query if parts.query else "")
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(parallel)  # a few connects at a time: listen backlogs are finite

        async def one() -> None:
            async with gate:
                client = Client(f"{host}:{port}", target, self)
                await loop.create_connection(lambda: client, host, port)
                await asyncio.wait_for(client.upgraded, 30)
                self.clients.append(client)

        await asyncio.gather(*(one() for _ in range(count)))

    def arm(self, round_id: int, messages: int) -> None:
        for client in self.clients:
            client.received = 0
        self.round = Round(round_id, messages, len(self.clients))

    def deliver(self, client: Client, message: bytes, now: float) -> None:
        current = self.round
        if current is None:
            return
        try:
            round_text, seq_text, sent_text = message.decode().split(":")
        except ValueError:
            current.errors.append(f"unexpected message {message[:80]!r}")
            return
        if round_text + ":" != current.prefix:
            return  # a straggler of an earlier round
        seq = int(seq_text)
        if seq != client.received:
            current.errors.append(f"client {self.clients.index(client)} got message {seq} "
                                  f"where {client.received} was due")
            return
        client.received += 1
        current.latencies.append(now - float(sent_text))
        current.first_receipt = min(current.first_receipt, now)
        current.last_receipt = max(current.last_receipt, now)
        if client.received == current.messages:
            current.complete_clients += 1
            if current.complete_clients == current.clients:
                current.done.set()

    async def wait(self, timeout: float) -> Dict[str, Any]:
        current = self.round
        assert current is not None
        try:
            await asyncio.wait_for(current.done.wait(), timeout)
        except asyncio.TimeoutError:  # reported through the counts
            pass
        cpu_seconds = _cpu_seconds() - current.cpu_at_start
        counts = [client.received for client in self.clients]
        latencies = sorted(current.latencies)
        return {"clients": len(counts), "expected": current.messages, "min_count": min(counts, default=0),
                "max_count": max(counts, default=0), "total": sum(counts),
                "complete_clients": current.complete_clients, "errors": current.errors[:10],
                "error_count": len(current.errors), "lost_connections": self.lost_connections,
                "first_receipt": current.first_receipt, "last_receipt": current.last_receipt,
                "p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99),
                "max": latencies[-1] if latencies else None,
                "cpu_seconds": cpu_seconds}

    def close(self) -> None:
        self.closing = True
        for client in self.clients:
            if client.transport is not None:
                client.transport.close()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--parallel-connects", type=int, default=64)
    args = parser.parse_args()
    raise_fd_limit()
    swarm = Swarm()
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        await swarm.connect(args.url, args.clients, args.parallel_connects)
    except Exception as error:  # reported to the parent
        print(json.dumps({"error": f"connecting {args.clients} clients failed after "
                                   f"{len(swarm.clients)}: {type(error).__name__}: {error}"}), flush=True)
        swarm.close()
        return
    print(json.dumps({"connected": len(swarm.clients), "connect_seconds": time.monotonic() - started}), flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        if command["op"] == "expect":
            swarm.arm(command["round"], command["messages"])
            reply: Dict[str, Any] = {"armed": True}
        else:
            reply = await swarm.wait(command["timeout"])
        print(json.dumps(reply), flush=True)
    swarm.close()
    await asyncio.sleep(0.1)  # let the closes go out


if __name__ == "__main__":
    asyncio.run(main())
