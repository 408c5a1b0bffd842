"""One client connection: identity, groups, permissions and the bounded outbound queue.

Every connection owns a queue drained by its own writer task, so a slow client only delays itself.
Each queued frame remembers its deadline (enqueue time + messageTtlSeconds); the writer drops frames
whose deadline passed instead of delivering them late. A queue that stays over its bound for longer
than a grace period (or reaches twice the bound) gets the client closed with 1008.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, Dict, Optional, Set, Tuple

from aiohttp import web

from ._messages import Frame, OutboundMessage, websocket_frame
from ._permissions import Permissions
from ._service_errors import PING_TIMEOUT_REASON
from ._subprotocols import is_reliable, wire_format
from ._upstream import UpstreamConnection

logger = logging.getLogger("webpubsub_emulator")

MAX_REMEMBERED_ACK_IDS = 100_000

_QueueItem = Optional[Tuple[Frame, Optional[float], int]]  # None = close marker
# Below this many bytes waiting in the socket's write buffer an idle connection writes frames straight
# to the transport; above it (or with anything queued) frames go through the queue and the writer task,
# which waits for the socket to drain.
_DIRECT_WRITE_LIMIT = 64 * 1024
_PING_FRAME = b"\x89\x00"  # a WebSocket ping with no payload (RFC 6455 section 5.5.2)


@dataclass(frozen=True)
class ConnectionLimits:
    queue_max_messages: int = 10_000
    queue_max_bytes: int = 16 * 1024 * 1024
    queue_grace_seconds: float = 3.0
    reliable_max_messages: int = 1000
    reliable_max_bytes: int = 16 * 1024 * 1024
    recovery_seconds: float = 30.0
    close_timeout_seconds: float = 3.0


class Connection:
    def __init__(self, *, hub: str, connection_id: str, user_id: Optional[str], subprotocol: Optional[str],
                 permissions: Permissions, limits: ConnectionLimits, upstream: UpstreamConnection,
                 on_ended: Callable[["Connection", Optional[str]], None]) -> None:
        self.hub = hub
        self.connection_id = connection_id
        self.user_id = user_id
        self.subprotocol = subprotocol
        self.wire = wire_format(subprotocol)  # renders every frame this connection is sent
        self.reliable = is_reliable(subprotocol)
        self.permissions = permissions
        self.limits = limits
        self.upstream = upstream
        self.groups: Set[str] = set()
        self.group_join_order: Dict[str, int] = {}
        self._processed_ack_ids: Dict[int, None] = {}  # insertion-ordered, so the oldest go first
        self.reconnection_token: Optional[str] = None
        self.closing = False
        self.ended = False
        self.close_reason: Optional[str] = None
        self._on_ended = on_ended
        self._loop = asyncio.get_running_loop()
        self._ws: Optional[web.WebSocketResponse] = None
        self._transport: Optional[asyncio.BaseTransport] = None
        self._writer: Optional["asyncio.Task[None]"] = None
        self._queue: Deque[_QueueItem] = deque()
        self._queued_bytes = 0
        self._wakeup: Optional["asyncio.Future[None]"] = None
        self._writing = False
        self._over_bound_since: Optional[float] = None
        self._timers: Set[asyncio.TimerHandle] = set()
        self._sequence_id = 0
        self._unacked: Deque[Tuple[int, Frame, Optional[float], int]] = deque()
        self._unacked_bytes = 0
        self._attachments = 0
        self._last_heard = self._loop.time()

    # -- idempotent publishing ------------------------------------------------------------------
    def ack_id_processed(self, ack_id: int) -> bool:
        return ack_id in self._processed_ack_ids

    def remember_ack_id(self, ack_id: int) -> None:
        """Only successful requests are remembered; the oldest are forgotten past a bound so a
        long-lived connection cannot grow without limit."""
        self._processed_ack_ids[ack_id] = None
        if len(self._processed_ack_ids) > MAX_REMEMBERED_ACK_IDS:
            del self._processed_ack_ids[next(iter(self._processed_ack_ids))]

    # -- what the OData filter sees -------------------------------------------------------------
    @property
    def protocol(self) -> Optional[str]:
        return self.subprotocol

    @property
    def attached(self) -> bool:
        return self._ws is not None

    def is_attached_to(self, ws: web.WebSocketResponse) -> bool:
        return self._ws is ws

    # -- socket attachment ----------------------------------------------------------------------
    def attach(self, ws: web.WebSocketResponse, transport: Optional[asyncio.BaseTransport]) -> None:
        """Start writing to `ws`; a recovered reliable session replays what the client never acked."""
        self._ws = ws
        self._transport = transport
        self._attachments += 1
        self._writing = False
        self._queue.clear()
        self._queued_bytes = 0
        self._over_bound_since = None
        connected = self.wire.connected(self.connection_id, self.user_id, self.reconnection_token)
        if connected is not None:
            self.send_control(connected)
        now = self._loop.time()
        for _sequence_id, frame, deadline, size in self._unacked:
            if deadline is None or deadline >= now:
                self._enqueue(frame, deadline, size)
        self._writer = self._loop.create_task(self._write_loop(ws))

    def drop_socket(self) -> None:
        """Abandon the current socket without a close handshake (a recovering client replaced it)."""
        transport = self._transport
        self.detach()
        if transport is not None:
            transport.close()

    def detach(self) -> None:
        """The socket is gone; a reliable session keeps buffering until recovered or expired."""
        self._ws = None
        self._transport = None
        writer, self._writer = self._writer, None
        if writer is not None and not writer.done():
            writer.cancel()
        self._queue.clear()
        self._queued_bytes = 0

    def start_recovery_window(self) -> None:
        attachments = self._attachments

        def expire() -> None:
            if not self.attached and not self.ended and self._attachments == attachments:
                self.finish("The connection was not recovered in time.")

        self._call_later(self.limits.recovery_seconds, expire)

    # -- keep-alive -----------------------------------------------------------------------------
    def heard_from_client(self) -> None:
        """Any frame from the client (data, ping or pong) shows it is alive."""
        self._last_heard = self._loop.time()

    def start_keep_alive(self, interval: float, timeout: float) -> None:
        """Ping the client every `interval` seconds while this socket is attached; once nothing came from
        it for `timeout` seconds, close it with the service's reason `PingTimeout` (checked at each ping)."""
        ws = self._ws
        self._last_heard = self._loop.time()

        def tick() -> None:
            if ws is None or self._ws is not ws or self.closing:
                return
            silent = self._loop.time() - self._last_heard
            if silent >= timeout:
                logger.info("connection %s sent nothing for %.1f s: closing it (%s)", self.connection_id, silent,
                            PING_TIMEOUT_REASON)
                self.close(PING_TIMEOUT_REASON)
                return
            transport = self._transport
            if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
                transport.write(_PING_FRAME)
            self._call_later(interval, tick)

        self._call_later(interval, tick)

    # -- sending --------------------------------------------------------------------------------
    def deliver(self, message: OutboundMessage, deadline: Optional[float]) -> None:
        if self.closing:
            return
        if self.reliable:
            self._sequence_id += 1
            frame = self.wire.sequenced_data(message, self._sequence_id)
            size = len(frame)
            self._unacked.append((self._sequence_id, frame, deadline, size))
            self._unacked_bytes += size
            if (len(self._unacked) > self.limits.reliable_max_messages
                    or self._unacked_bytes > self.limits.reliable_max_bytes):
                self.close("Too many unacknowledged messages: the reliable buffer is full.", 1008,
                           drop_queue=True)
                return
            if self._ws is None:
                return
            if not self._write_directly(frame):
                self._enqueue(frame, deadline, size)
            return
        transport = self._direct_transport()
        if transport is not None:
            transport.write(message.wire(self.wire))  # the frame bytes are shared by the whole fan-out
        else:
            self._enqueue(message.frame(self.wire), deadline, message.size + 64)

    def _direct_transport(self) -> Optional[asyncio.WriteTransport]:
        """Fast path of a fan-out: an idle connection with a drained socket gets the prebuilt frame bytes
        written at once, skipping the queue and a writer task switch. Order is kept because this only
        happens while nothing is queued or being written."""
        transport = self._transport
        if (self._queue or self._writing or transport is None or self._ws is None or self._ws.closed
                or transport.is_closing()
                or not isinstance(transport, asyncio.WriteTransport)
                or transport.get_write_buffer_size() > _DIRECT_WRITE_LIMIT):
            return None
        return transport

    def _write_directly(self, frame: Frame) -> bool:
        transport = self._direct_transport()
        if transport is None:
            return False
        transport.write(websocket_frame(frame))
        return True

    def send_control(self, frame: Frame) -> None:
        """Acks, pongs and system messages: never sequenced, never expire."""
        if not self.closing and self._ws is not None and not self._write_directly(frame):
            self._enqueue(frame, None, len(frame))

    def sequence_ack(self, sequence_id: int) -> None:
        while self._unacked and self._unacked[0][0] <= sequence_id:
            self._unacked_bytes -= self._unacked.popleft()[3]

    def _enqueue(self, frame: Frame, deadline: Optional[float], size: int) -> None:
        queue = self._queue
        queue.append((frame, deadline, size))
        self._queued_bytes += size
        limits = self.limits
        if len(queue) > limits.queue_max_messages or self._queued_bytes > limits.queue_max_bytes:
            self._note_over_bound()
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def _note_over_bound(self) -> None:
        limits = self.limits
        now = self._loop.time()
        hard_limit = (len(self._queue) > 2 * limits.queue_max_messages
                      or self._queued_bytes > 2 * limits.queue_max_bytes)
        if self._over_bound_since is None:
            self._over_bound_since = now
            self._call_later(limits.queue_grace_seconds, self._check_over_bound)
        if hard_limit or now - self._over_bound_since >= limits.queue_grace_seconds:
            self._close_slow_client()

    def _is_over_bound(self) -> bool:
        return (len(self._queue) > self.limits.queue_max_messages
                or self._queued_bytes > self.limits.queue_max_bytes)

    def _check_over_bound(self) -> None:
        since = self._over_bound_since
        if since is None or self.closing:
            return
        if not self._is_over_bound():
            self._over_bound_since = None
        elif self._loop.time() - since >= self.limits.queue_grace_seconds * 0.99:
            self._close_slow_client()
        # else: the queue dipped under the bound and rose again; that newer period has its own timer

    def _close_slow_client(self) -> None:
        logger.warning("closing slow connection %s: outbound queue over its bound", self.connection_id)
        self.close("The client is too slow: its outbound queue stayed over the limit.", 1008, drop_queue=True)

    async def _write_loop(self, ws: web.WebSocketResponse) -> None:
        queue = self._queue
        loop = self._loop
        try:
            while True:
                while not queue:
                    self._wakeup = loop.create_future()
                    await self._wakeup
                item = queue.popleft()
                self._writing = True
                if item is None:
                    await self._send_close(ws)
                    return
                frame, deadline, size = item
                self._queued_bytes -= size
                if deadline is not None and loop.time() > deadline:  # dropped, not delivered late
                    self._writing = False
                    continue
                if isinstance(frame, str):
                    await ws.send_str(frame)
                else:
                    await ws.send_bytes(frame)
                self._writing = False
                if self._over_bound_since is not None and not self._is_over_bound():
                    self._over_bound_since = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer went away mid-write; the reader notices and cleans up
            logger.debug("writer for %s stopped: %r", self.connection_id, exc)

    async def _send_close(self, ws: web.WebSocketResponse) -> None:
        reason = self.close_reason or ""
        code = self._close_code
        disconnected = self.wire.disconnected(reason)
        if isinstance(disconnected, str):
            await ws.send_str(disconnected)
        elif disconnected is not None:
            await ws.send_bytes(disconnected)
        await ws.close(code=code, message=reason.encode("utf-8")[:123])

    # -- closing --------------------------------------------------------------------------------
    _close_code = 1000

    def close(self, reason: str, code: int = 1000, *, drop_queue: bool = False) -> None:
        """Server-initiated close: the client sees `disconnected` (if it speaks a subprotocol) then a
        close frame. The session ends for good, even for a reliable connection."""
        if self.closing or self.ended:
            return
        self.closing = True
        self.close_reason = reason
        self._close_code = code
        if self._ws is None:
            self.finish(reason)
            return
        if drop_queue:
            self._queue.clear()
            self._queued_bytes = 0
        self._queue.append(None)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)
        self._call_later(self.limits.close_timeout_seconds, self._abort)

    def _abort(self) -> None:
        """The close handshake did not finish in time (e.g. the client never reads): drop the socket."""
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
        if self._transport is not None:
            transport = self._transport
            abort = getattr(transport, "abort", None)
            if callable(abort):
                abort()
            else:
                transport.close()

    def finish(self, reason: Optional[str]) -> None:
        """The session is over: forget it (idempotent)."""
        if self.ended:
            return
        self.ended = True
        self.closing = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.detach()
        self._unacked.clear()
        self._on_ended(self, reason if self.close_reason is None else self.close_reason)

    def _call_later(self, delay: float, callback: Callable[[], None]) -> None:
        handle: Optional[asyncio.TimerHandle] = None

        def run() -> None:
            if handle is not None:
                self._timers.discard(handle)
            callback()

        handle = self._loop.call_later(delay, run)
        self._timers.add(handle)

    async def wait_writer(self) -> None:
        writer = self._writer
        if writer is not None:
            try:
                await writer
            except asyncio.CancelledError:
                pass
