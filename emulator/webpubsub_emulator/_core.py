"""Shared emulator state: settings, hubs, the upstream caller and the set of live sessions."""
from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from typing import Dict, Iterator, List, Optional, Sequence, Set

from ._config import EmulatorSettings
from ._connection import Connection, ConnectionLimits
from ._hub import Hub
from ._upstream import Upstream

logger = logging.getLogger("webpubsub_emulator")

SHUTDOWN_REASON = "The emulator is shutting down."


class EmulatorCore:
    def __init__(self, settings: EmulatorSettings, limits: ConnectionLimits) -> None:
        self.settings = settings
        self.limits = limits
        self.access_keys: List[str] = list(settings.access_keys)  # replaced whole, never changed in place
        self.upstream = Upstream(access_keys=self.access_keys)
        for hub in settings.hubs.values():
            self.upstream.set_handlers(hub.name, hub.event_handlers)
        # Only hubs with connections are kept: users, groups and memberships all hang off connections.
        self._hubs: Dict[str, Hub] = {}
        self._join_counter = itertools.count(1)
        self.sessions: Set["asyncio.Task[object]"] = set()
        self.shutting_down = False
        self.handshakes_in_progress = 0  # accepted by the connection limit, not yet in a hub
        # Signs reconnection tokens: not an access key, so rotating the keys never breaks a recovery.
        self.reconnection_secret = secrets.token_urlsafe(32)

    @property
    def primary_key(self) -> str:
        return self.access_keys[0]

    def set_access_keys(self, keys: Sequence[str]) -> None:
        """Key rotation: callable from any thread, since each reader sees the old list or the new one."""
        self.access_keys = list(keys)
        self.upstream.set_access_keys(self.access_keys)

    def connection_count(self) -> int:
        """Live sessions (a reliable one waiting for recovery still counts) plus handshakes under way."""
        return sum(len(hub.connections) for hub in list(self._hubs.values())) + self.handshakes_in_progress

    def hub(self, name: str) -> Hub:
        """The hub, created if needed: only for a connection about to be added (see `connection_ended`)."""
        key = name.lower()
        hub = self._hubs.get(key)
        if hub is None:
            hub = self._hubs[key] = Hub(name, self._join_counter)
        return hub

    def find_hub(self, name: str) -> Optional[Hub]:
        return self._hubs.get(name.lower())

    def connections(self) -> Iterator[Connection]:
        for hub in list(self._hubs.values()):
            yield from list(hub.connections.values())

    def connection_ended(self, connection: Connection, reason: Optional[str]) -> None:
        """Called once per session when it is over for good (closed, or its recovery window expired)."""
        hub = self.find_hub(connection.hub)
        if hub is not None:
            hub.remove(connection)
            if not hub.connections:
                del self._hubs[connection.hub.lower()]
        logger.info("connection %s ended (%s)", connection.connection_id, reason or "closed")
        try:
            self.upstream.disconnected(connection.upstream, reason)
        except Exception:  # a failing handler must never break the emulator
            logger.exception("disconnected event for %s failed", connection.connection_id)

    async def shutdown(self, timeout: float = 5.0) -> None:
        self.shutting_down = True
        for connection in list(self.connections()):
            connection.close(SHUTDOWN_REASON, 1001)
        sessions = [task for task in self.sessions if not task.done()]
        if sessions:
            await asyncio.wait(sessions, timeout=timeout)
        try:
            await self.upstream.close()
        except Exception:
            logger.exception("closing the upstream caller failed")
