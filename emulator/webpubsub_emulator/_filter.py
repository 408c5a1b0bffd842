"""The OData ``filter`` language of the Web PubSub data-plane API, as implemented by the emulator.

``compile_filter`` turns filter text into a predicate over connections. All syntax and type
checking happens up front, so a bad filter is rejected before any message is fanned out and the
returned predicate never raises. The predicate is a tree of small closures built once per filter
text; it runs once per candidate connection, so nothing re-reads the text at evaluation time.

Behaviour follows the REST reference (rest-api-semantics.md section 8). Choices where the documents
leave room, kept deliberately:

* Keywords (``and or not eq ne gt ge lt le in true false null``) and function names are lower-case
  only, as in OData; identifier names (``userId``, ``connectionId``, ``groups``, ``protocol``) are
  case-insensitive. Syntax errors are the OData parser's, positions included (``_filter_parser``).
* Static types are sets drawn from {string, int, bool, null, collection}. An expression is accepted
  only if every type it may have at runtime is acceptable where it is used, which is why
  ``not length(userId)`` (int-or-null) is rejected. When several types are unacceptable the message
  names the first of null, string, int, bool, collection, matching the service's
  "Type 'null', expect 'bool'." for that example.
* The items of an ``in`` list may be any single-valued expression (the restated grammar says
  ``value``), not only literals.
* Comparisons chain from the left, as in OData: ``a eq b eq c`` is ``(a eq b) eq c``.
* Integer literals must fit in 64 bits. Lengths and offsets count Python code points.
* Syntax errors quote the whole filter and give a 0-based character position; type errors quote
  the offending sub-expression, as the service does for ``not length(userId)``; so do names and
  constructs that parse but are not supported (``Token 'foo' is not supported.``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Optional, Tuple

from ._limits import FILTER_CACHE_BYTES, MAX_FILTER_LENGTH, MAX_FILTER_TOKENS
from ._filter_compiler import _Compiler
from ._filter_language import MAX_NESTING_DEPTH, FilterError, FilterPredicate, FilterTarget
from ._filter_parser import TooManyTokens, _Parser, _tokenize

__all__ = ["FilterError", "FilterPredicate", "FilterTarget", "MAX_FILTER_LENGTH", "MAX_FILTER_TOKENS",
           "MAX_NESTING_DEPTH", "compile_filter"]


def compile_filter(text: Optional[str]) -> FilterPredicate:
    """Parse and type-check ``text``; return a predicate that never raises.

    ``None``, empty or whitespace-only text matches every connection. Raises ``FilterError`` for any
    syntax or type error, and for a filter over the size bounds (``MAX_FILTER_LENGTH`` characters,
    ``MAX_FILTER_TOKENS`` tokens), which keep one request from stalling every other client.
    """
    if text is None or not text.strip():
        return _match_everything
    return _CACHE.get(text)


def _match_everything(target: FilterTarget) -> bool:
    return True


def _compile_text(text: str) -> Tuple[FilterPredicate, int]:
    """The predicate and an estimate of its memory in bytes."""
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(_abbreviated(text), f"The filter is {len(text)} characters long; at most "
                                              f"{MAX_FILTER_LENGTH} are allowed.")
    lexer = _tokenize(text, MAX_FILTER_TOKENS)
    try:
        tree = _Parser(text, lexer).parse()
        predicate = _Compiler(text).compile_predicate(tree)
    except TooManyTokens:
        raise FilterError(_abbreviated(text), f"The filter has more than {MAX_FILTER_TOKENS} tokens.") from None
    except RecursionError:
        # The depth limit keeps recursion far below Python's limit; this only guards callers that
        # are themselves running on a nearly exhausted stack.
        raise FilterError(text, "The filter is nested too deeply.") from None
    # Measured: about 90 bytes of closures and nodes per token, plus the text kept as the cache key.
    return predicate, len(text) + 128 * lexer.tokens_read

def _abbreviated(text: str) -> str:
    return text if len(text) <= 100 else text[:100] + "..."


class _SizeBoundedCache:
    """Compiled predicates by filter text, least recently used first out, bounded by estimated bytes
    rather than by count: one large filter weighs as much as thousands of small ones.

    Predicates are pure functions of the text, so the same filter sent repeatedly (the usual case for a
    broadcasting app server) is parsed only once. Emulators in several threads share the cache.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self._entries: "OrderedDict[str, Tuple[FilterPredicate, int]]" = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> FilterPredicate:
        with self._lock:
            entry = self._entries.get(text)
            if entry is not None:
                self._entries.move_to_end(text)
                return entry[0]
        predicate, size = _compile_text(text)  # outside the lock; a racing duplicate is harmless
        with self._lock:
            if size <= self.budget_bytes and text not in self._entries:
                self._entries[text] = (predicate, size)
                self.used_bytes += size
                while self.used_bytes > self.budget_bytes:
                    _text, (_predicate, evicted) = self._entries.popitem(last=False)
                    self.used_bytes -= evicted
        return predicate

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.used_bytes = 0


_CACHE = _SizeBoundedCache(FILTER_CACHE_BYTES)
