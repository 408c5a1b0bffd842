"""The service's size limits, how names are measured against them, and what one request may cost.

Sources: service-limits-and-errors.md sections 1-3 and 5 ([doc] documented, [emu] Microsoft's emulator,
[ours] our choice where the service documents nothing; the README lists the choices).
"""
from __future__ import annotations

import re

MAX_FRAME_BYTES = 1024 * 1024  # one client WebSocket message: "1 MB" [doc], 1 MiB [emu]; over it: close 1009
MAX_REST_BODY_BYTES = 1024 * 1024  # REST request body: undocumented; 1 MiB like the emulator [emu], 413 [ours];
# measured after any Content-Encoding is undone
MAX_GROUP_NAME_LENGTH = 1024  # 1-1024 characters, not whitespace only [doc]
MAX_USER_ID_LENGTH = 1024  # undocumented at the service [ours]
MAX_EVENT_NAME_LENGTH = 128  # ^[A-Za-z][A-Za-z0-9_.-]{0,127}$ [emu]
_EVENT_NAME = re.compile(rf"[A-Za-z][A-Za-z0-9_.-]{{0,{MAX_EVENT_NAME_LENGTH - 1}}}")

DEFAULT_KEEP_ALIVE_SECONDS = 20.0  # webSocketKeepAliveIntervalInSeconds, 1-120, default 20 [doc]
MAX_KEEP_ALIVE_SECONDS = 120.0
PING_TIMEOUT_INTERVALS = 3  # default ping timeout = 3 keep-alive intervals without a frame [ours]

# -- what one request may cost, so that hostile or runaway input cannot stall every other client [ours] --
# A request's head must arrive within the read timeout of the connection opening (or of the previous
# response on a kept-alive connection, which is also how long an idle one stays open), and its body
# within the read timeout of its head; otherwise the connection is dropped (a late body gets a 408
# first). Upgraded WebSocket connections are not affected. `Emulator(read_timeout=)`, `--read-timeout`.
DEFAULT_READ_TIMEOUT_SECONDS = 60.0
# OData filters: the service says they are limited "roughly by clause count" and that more than about
# 100 clauses risks rejection [doc]; a query-string filter is bounded by the 8 KiB request line anyway.
MAX_FILTER_LENGTH = 64 * 1024  # characters, query parameter or bulk-group body
MAX_FILTER_TOKENS = 5000  # about 1,250 `eq` clauses or 2,500 `in` items; compiling the largest: ~20 ms
FILTER_CACHE_BYTES = 16 * 1024 * 1024  # estimated memory of all cached compiled filters; LRU eviction
MAX_GROUPS_PER_BULK_REQUEST = 100  # group names in one :addToGroups / :removeFromGroups body


def dotnet_length(text: str) -> int:
    """The length .NET's `string.Length` gives: UTF-16 code units (a character beyond U+FFFF counts 2)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def is_valid_group_name(group: object) -> bool:
    return (isinstance(group, str) and 1 <= dotnet_length(group) <= MAX_GROUP_NAME_LENGTH
            and not group.isspace())


def is_valid_user_id(user_id: object) -> bool:
    return isinstance(user_id, str) and 1 <= dotnet_length(user_id) <= MAX_USER_ID_LENGTH


def is_valid_event_name(name: str) -> bool:
    """A user event name, from any client protocol (fullmatch: `$` would let "name\\n" through)."""
    return _EVENT_NAME.fullmatch(name) is not None
