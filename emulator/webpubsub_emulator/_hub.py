"""The live state of one hub: its connections, indexed by id, user and group."""
from __future__ import annotations

import asyncio
import itertools
from typing import Callable, Dict, Iterable, Iterator, List, Optional

from ._connection import Connection
from ._messages import OutboundMessage

ConnectionPredicate = Callable[[Connection], bool]


class Hub:
    def __init__(self, name: str, join_counter: Optional[Iterator[int]] = None) -> None:
        """`join_counter` numbers group joins for paging; the core shares one across the hubs it
        forgets and re-creates, so a continuation token never points into a re-used range."""
        self.name = name
        self.connections: Dict[str, Connection] = {}
        self.users: Dict[str, Dict[str, Connection]] = {}
        self.groups: Dict[str, Dict[str, Connection]] = {}
        self._join_counter = itertools.count(1) if join_counter is None else join_counter

    # -- membership -----------------------------------------------------------------------------
    def add(self, connection: Connection) -> None:
        self.connections[connection.connection_id] = connection
        if connection.user_id is not None:
            self.users.setdefault(connection.user_id, {})[connection.connection_id] = connection

    def remove(self, connection: Connection) -> None:
        if self.connections.get(connection.connection_id) is not connection:
            return
        del self.connections[connection.connection_id]
        self.leave_all(connection)
        if connection.user_id is not None:
            user_connections = self.users.get(connection.user_id)
            if user_connections is not None:
                user_connections.pop(connection.connection_id, None)
                if not user_connections:
                    del self.users[connection.user_id]

    def join(self, connection: Connection, group: str) -> None:
        if group in connection.groups:
            return
        connection.groups.add(group)
        connection.group_join_order[group] = next(self._join_counter)
        self.groups.setdefault(group, {})[connection.connection_id] = connection

    def leave(self, connection: Connection, group: str) -> None:
        if group not in connection.groups:
            return
        connection.groups.discard(group)
        connection.group_join_order.pop(group, None)
        members = self.groups.get(group)
        if members is not None:
            members.pop(connection.connection_id, None)
            if not members:
                del self.groups[group]

    def leave_all(self, connection: Connection) -> None:
        for group in list(connection.groups):
            self.leave(connection, group)

    # -- lookups --------------------------------------------------------------------------------
    def user_connections(self, user_id: str) -> List[Connection]:
        return list(self.users.get(user_id, {}).values())

    def group_members(self, group: str) -> List[Connection]:
        return list(self.groups.get(group, {}).values())

    def members_after(self, group: str, position: int) -> List[Connection]:
        """Group members in join order after a paging position (stable across joins and leaves)."""
        members = [conn for conn in self.groups.get(group, {}).values()
                   if conn.group_join_order.get(group, 0) > position]
        members.sort(key=lambda conn: conn.group_join_order.get(group, 0))
        return members

    # -- delivery -------------------------------------------------------------------------------
    @staticmethod
    def fan_out(targets: Iterable[Connection], message: OutboundMessage,
                predicate: Optional[ConnectionPredicate] = None) -> int:
        deadline = None
        if message.ttl_seconds:
            deadline = asyncio.get_running_loop().time() + message.ttl_seconds
        delivered = 0
        for connection in targets:
            if predicate is None or predicate(connection):
                connection.deliver(message, deadline)
                delivered += 1
        return delivered
