"""The service's size limits, and how names are measured against them.

Sources: service-limits-and-errors.md sections 1-3 and 5 ([doc] documented, [emu] Microsoft's emulator,
[ours] our choice where the service documents nothing; the README lists the choices).
"""
from __future__ import annotations

MAX_FRAME_BYTES = 1024 * 1024  # one client WebSocket message: "1 MB" [doc], 1 MiB [emu]; over it: close 1009
MAX_REST_BODY_BYTES = 1024 * 1024  # REST request body: undocumented; 1 MiB like the emulator [emu], 413 [ours]
MAX_GROUP_NAME_LENGTH = 1024  # 1-1024 characters, not whitespace only [doc]
MAX_USER_ID_LENGTH = 1024  # undocumented at the service [ours]
MAX_EVENT_NAME_LENGTH = 128  # ^[A-Za-z][A-Za-z0-9_.-]{0,127}$ [emu]

DEFAULT_KEEP_ALIVE_SECONDS = 20.0  # webSocketKeepAliveIntervalInSeconds, 1-120, default 20 [doc]
MAX_KEEP_ALIVE_SECONDS = 120.0
PING_TIMEOUT_INTERVALS = 3  # default ping timeout = 3 keep-alive intervals without a frame [ours]


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
