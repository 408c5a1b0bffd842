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

import functools
from typing import Optional

from ._filter_compiler import _Compiler
from ._filter_language import MAX_NESTING_DEPTH, FilterError, FilterPredicate, FilterTarget
from ._filter_parser import _Parser, _tokenize

__all__ = ["FilterError", "FilterPredicate", "FilterTarget", "MAX_NESTING_DEPTH", "compile_filter"]


def compile_filter(text: Optional[str]) -> FilterPredicate:
    """Parse and type-check ``text``; return a predicate that never raises.

    ``None``, empty or whitespace-only text matches every connection. Raises ``FilterError`` for any
    syntax or type error.
    """
    if text is None or not text.strip():
        return _match_everything
    return _compile_text(text)


def _match_everything(target: FilterTarget) -> bool:
    return True


@functools.lru_cache(maxsize=512)
def _compile_text(text: str) -> FilterPredicate:
    # Compiled predicates are pure functions of the text, so the same filter sent repeatedly (the
    # usual case for a broadcasting app server) is parsed only once.
    try:
        tree = _Parser(text, _tokenize(text)).parse()
        return _Compiler(text).compile_predicate(tree)
    except RecursionError:
        # The depth limit keeps recursion far below Python's limit; this only guards callers that
        # are themselves running on a nearly exhausted stack.
        raise FilterError(text, "The filter is nested too deeply.") from None
