"""``odata()``: OData filters from a template and values, so a user id is never pasted into a filter.

    >>> odata("userId eq {} and {} in groups", "o'brien", "room 1")
    "userId eq 'o''brien' and 'room 1' in groups"

Each ``{}`` is replaced by the literal of one value, written as the filter language writes it:

==========================  ============================================================
``str``                     ``'...'``, a quote inside doubled (``'o''brien'``)
``int``                     digits (the service's integers are 64-bit; larger ones raise)
``float``                   ``1.5``, ``1e-05`` (NaN and infinities have no literal and raise)
``bool`` / ``None``         ``true`` / ``false`` / ``null``
``list`` / ``tuple``        ``('a', 'b')``, for ``userId in {}``
==========================  ============================================================

Any other type raises ``TypeError``; so does a number of values that differs from the number of
placeholders. ``{{`` and ``}}`` stand for literal braces, as in ``str.format``: the filter language
has no braces of its own, so they only occur inside string literals of the template. A placeholder
inside quotes (``userId eq '{}'``) raises ``ValueError``: ``odata`` adds the quotes itself.
"""

from __future__ import annotations

import math
import string
from typing import List, Sequence, Union

Scalar = Union[str, float, None]  # float accepts int and bool for type checkers
FilterValue = Union[Scalar, Sequence[Scalar]]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def odata(template: str, *values: FilterValue) -> str:
    """Fill ``template``'s ``{}`` placeholders with the OData literals of ``values``."""
    if not isinstance(template, str):
        raise TypeError(f"odata() template must be a str, not {type(template).__name__}")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"invalid odata() template {template!r}: {error} (write {{{{ or }}}} for a brace)") from None
    pieces: List[str] = []
    in_quotes = False
    placeholders = 0
    for literal, field, format_spec, conversion in parts:
        pieces.append(literal)
        in_quotes ^= literal.count("'") % 2 == 1  # a doubled quote inside a string toggles twice
        if field is None:
            continue
        if field or format_spec or conversion:
            found = "{" + field + (f"!{conversion}" if conversion else "") + (f":{format_spec}" if format_spec else "")
            raise ValueError(f"odata() placeholders are a bare {{}}, got {found}}} in {template!r}")
        if in_quotes:
            raise ValueError(f"a {{}} of {template!r} is inside quotes: leave them out, odata() quotes strings itself")
        if placeholders < len(values):
            pieces.append(_literal(values[placeholders]))
        placeholders += 1
    if placeholders != len(values):
        raise TypeError(f"odata() template has {placeholders} {{}} placeholder(s) but {len(values)} value(s) "
                        f"were given: {template!r}")
    return "".join(pieces)


def _literal(value: object, in_list: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"{value} is outside the 64-bit integers a filter can hold")
        return int.__repr__(value)  # the digits, also for IntEnum members
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no OData literal: pass a finite number")
        return float.__repr__(value)
    if isinstance(value, (list, tuple)) and not in_list:
        if not value:
            raise ValueError("an empty list has no OData literal: 'x in ()' is not a valid filter")
        return "(" + ", ".join(_literal(item, in_list=True) for item in value) + ")"
    raise TypeError(f"odata() cannot write a value of type {type(value).__name__} as a filter literal: "
                    f"pass str, int, float, bool, None{'' if in_list else ' or a list of those'}")
