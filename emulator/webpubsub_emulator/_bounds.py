"""What one request may cost the emulator: the bounds against hostile or runaway input, in one place.

The README's emulator section has the same numbers in its "Limits" table; change both together.
Where the service documents a limit the bound follows it; where it does not, the value is our choice,
generous for real use and small enough that one request cannot stall every other client.
"""
from __future__ import annotations

DEFAULT_READ_TIMEOUT_SECONDS = 60.0
"""A request's head must arrive within this many seconds of the connection opening (or of the end of
the previous request on a kept-alive connection), and its body within this many seconds of its head;
otherwise the connection is dropped (the body case first gets a 408). Idle keep-alive connections are
closed after the same time. WebSocket connections, once upgraded, are not affected. Configurable:
``Emulator(read_timeout=...)`` / ``--read-timeout``."""

MAX_REST_BODY_BYTES = 1024 * 1024
"""REST request bodies (after any Content-Encoding is undone); larger ones get 413."""

MAX_FILTER_LENGTH = 64 * 1024
"""Characters in one OData filter (query parameter or bulk-group body). The service documents no
length; a query-string filter is bounded by the request line anyway (8 KiB)."""

MAX_FILTER_TOKENS = 5000
"""Tokens (names, literals, operators, parentheses, commas) in one filter: about 1,250 ``eq`` clauses
or 2,500 ``in`` list items; compiling the largest takes about 20 ms. The service says filters are limited "roughly by clause count" and that
more than about 100 clauses risks rejection."""

FILTER_CACHE_BYTES = 16 * 1024 * 1024
"""Estimated memory of all cached compiled filters together; least recently used ones go first."""

MAX_GROUPS_PER_BULK_REQUEST = 100
"""Group names in one ``:addToGroups`` / ``:removeFromGroups`` body (the service documents none)."""
