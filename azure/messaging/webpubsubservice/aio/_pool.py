"""Keep-alive connections to one origin, with a cap on how many are in use at once."""

from __future__ import annotations

import asyncio
import collections
from typing import Awaitable, Callable, Deque, List, Set, Tuple

from azure.core.exceptions import ServiceRequestError, ServiceRequestTimeoutError

from ._connection import HttpConnection

Connect = Callable[[], Awaitable[HttpConnection]]


class ConnectionPool:
    """Idle connections are reused newest first; beyond ``limit`` connections in use, callers queue."""

    def __init__(self, limit: int, max_idle: int) -> None:
        self._limit = limit
        self._max_idle = max_idle
        self._idle: List[HttpConnection] = []
        self._open: Set[HttpConnection] = set()
        self._in_use = 0
        self._queue: "Deque[asyncio.Future[None]]" = collections.deque()
        self._closed = False

    async def acquire(self, connect: Connect, queue_timeout: float) -> Tuple[HttpConnection, bool]:
        """A connection and whether it was reused; the caller must hand it back with :meth:`release`."""
        if self._in_use >= self._limit:
            await self._wait_for_slot(queue_timeout)  # a releaser hands its slot straight to us
        else:
            self._in_use += 1
        try:
            while self._idle:
                connection = self._idle.pop()
                if connection.is_usable():
                    return connection, True
                self._forget(connection, abort=False)
            connection = await connect()
            if self._closed:  # the client was closed while this connection was being opened
                connection.abort()
                raise _closed_error()
        except BaseException:
            self._give_slot_back()
            raise
        self._open.add(connection)
        return connection, False

    def release(self, connection: HttpConnection, reusable: bool) -> None:
        if reusable and not self._closed and len(self._idle) < self._max_idle and connection.reusable:
            self._idle.append(connection)
        else:
            # A response not read to its end leaves the connection mid-message: never reuse it.
            self._forget(connection, abort=not connection.reusable)
        self._give_slot_back()

    async def close(self) -> None:
        """Close every connection, idle or in use; returns once their sockets are closed."""
        self._closed = True
        connections, self._open, self._idle = list(self._open), set(), []
        for connection in connections:
            connection.close()
        if connections:
            done, pending = await asyncio.wait([connection.lost for connection in connections], timeout=1.0)
            for connection in connections:
                if not connection.lost.done():
                    connection.abort()
            if pending:
                await asyncio.sleep(0)  # let the aborted transports run their connection_lost callbacks
        for waiter in self._queue:
            if not waiter.done():
                waiter.cancel()

    def abandon(self) -> None:
        """Drop every connection without the event loop that opened them (it may be closed already)."""
        self._closed = True
        connections, self._open, self._idle = list(self._open), set(), []
        for connection in connections:
            connection.close_without_loop()

    def _forget(self, connection: HttpConnection, abort: bool) -> None:
        self._open.discard(connection)
        if abort:
            connection.abort()
        else:
            connection.close()

    async def _wait_for_slot(self, queue_timeout: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        try:
            # Shielded: the waiter itself is cancelled only by close(), which tells the two cases apart.
            if queue_timeout:
                await asyncio.wait_for(asyncio.shield(waiter), queue_timeout)
            else:
                await asyncio.shield(waiter)
        except asyncio.TimeoutError:
            if waiter.done() and not waiter.cancelled():
                self._give_slot_back()
            waiter.cancel()
            raise ServiceRequestTimeoutError(f"no connection became free within {queue_timeout}s") from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._give_slot_back()  # woken but cancelled before using the slot: pass it on
            closed_under_us = waiter.cancelled() and self._closed
            waiter.cancel()
            if closed_under_us:
                raise _closed_error() from None
            raise
        if self._closed:
            self._give_slot_back()
            raise _closed_error()

    def _give_slot_back(self) -> None:
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves to the waiter: _in_use stays as it is
                return
        self._in_use -= 1


def _closed_error() -> ServiceRequestError:
    return ServiceRequestError("the client was closed before this request could be sent")
