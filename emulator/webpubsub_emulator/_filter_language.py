"""The vocabulary of the OData filter language: errors, static types, identifiers and functions."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable, Collection, FrozenSet, Mapping, Optional, Protocol, Sequence, Tuple, Union

MAX_NESTING_DEPTH = 100
"""Deepest allowed nesting of parentheses, function calls and ``not``."""

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class FilterError(ValueError):
    """A filter that cannot be parsed or type-checked; ``str()`` is the 400 response message."""

    def __init__(self, sub_expression: str, detail: str) -> None:
        self.sub_expression = sub_expression
        self.detail = detail
        super().__init__(f"Invalid syntax for '{sub_expression}': {detail} (Parameter 'filter')")


class FilterTarget(Protocol):
    """What a filter can see of a connection."""

    @property
    def connection_id(self) -> str: ...

    @property
    def user_id(self) -> Optional[str]: ...

    @property
    def groups(self) -> Collection[str]: ...

    @property
    def protocol(self) -> Optional[str]: ...


FilterPredicate = Callable[[FilterTarget], bool]

# The closures return Any: which Python type comes out is guaranteed by the filter's own static type
# check (the type sets below), something Python's type system cannot express per node.
_Evaluator = Callable[[FilterTarget], Any]
_LiteralValue = Union[str, int, bool, None]


# --------------------------------------------------------------------------------------------------
# Static types

_STRING = "string"
_INT = "int"
_BOOL = "bool"
_NULL = "null"
_COLLECTION = "collection"

_TypeSet = FrozenSet[str]

_REPORT_ORDER = (_NULL, _STRING, _INT, _BOOL, _COLLECTION)
_BOOL_ONLY: _TypeSet = frozenset({_BOOL})
_STRING_OR_NULL: _TypeSet = frozenset({_STRING, _NULL})
_INT_OR_NULL: _TypeSet = frozenset({_INT, _NULL})
_SINGLE_VALUE: _TypeSet = frozenset({_STRING, _INT, _BOOL, _NULL})
_LENGTH_ARGUMENT: _TypeSet = frozenset({_STRING, _NULL, _COLLECTION})


def _literal_type(value: _LiteralValue) -> _TypeSet:
    if value is None:
        return frozenset({_NULL})
    if isinstance(value, bool):
        return _BOOL_ONLY
    if isinstance(value, int):
        return frozenset({_INT})
    return frozenset({_STRING})


# --------------------------------------------------------------------------------------------------
# Identifiers and functions


@dataclass(frozen=True)
class _IdentifierSpec:
    name: str
    types: _TypeSet
    read: _Evaluator


_IDENTIFIERS: Mapping[str, _IdentifierSpec] = {
    spec.name.lower(): spec
    for spec in (
        _IdentifierSpec("userId", _STRING_OR_NULL, operator.attrgetter("user_id")),
        _IdentifierSpec("connectionId", frozenset({_STRING}), operator.attrgetter("connection_id")),
        _IdentifierSpec("groups", frozenset({_COLLECTION}), operator.attrgetter("groups")),
        _IdentifierSpec("protocol", _STRING_OR_NULL, operator.attrgetter("protocol")),
    )
}
_GROUPS_KEY = "groups"


def _length(value: Optional[Collection[str]]) -> Optional[int]:
    return None if value is None else len(value)


def _tolower(value: Optional[str]) -> Optional[str]:
    return None if value is None else value.lower()


def _toupper(value: Optional[str]) -> Optional[str]:
    return None if value is None else value.upper()


def _trim(value: Optional[str]) -> Optional[str]:
    return None if value is None else value.strip()


def _substring_from(value: Optional[str], start: Optional[int]) -> Optional[str]:
    if value is None or start is None or start < 0 or start > len(value):
        return None
    return value[start:]


def _substring_range(
    value: Optional[str], start: Optional[int], count: Optional[int]
) -> Optional[str]:
    if value is None or start is None or count is None:
        return None
    if start < 0 or count < 0 or start + count > len(value):
        return None
    return value[start : start + count]


def _concat(first: Optional[str], second: Optional[str]) -> Optional[str]:
    if first is None:
        return second
    if second is None:
        return first
    return first + second


def _startswith(value: Optional[str], prefix: Optional[str]) -> bool:
    return value is not None and prefix is not None and value.startswith(prefix)


def _endswith(value: Optional[str], suffix: Optional[str]) -> bool:
    return value is not None and suffix is not None and value.endswith(suffix)


def _contains(value: Optional[str], part: Optional[str]) -> bool:
    return value is not None and part is not None and part in value


def _indexof(value: Optional[str], part: Optional[str]) -> int:
    if value is None or part is None:
        return -1
    return value.find(part)


def _string_result_like_argument(arguments: Sequence[_TypeSet]) -> _TypeSet:
    result = set()
    if _STRING in arguments[0]:
        result.add(_STRING)
    if _NULL in arguments[0]:
        result.add(_NULL)
    return frozenset(result)


def _length_result(arguments: Sequence[_TypeSet]) -> _TypeSet:
    result = {_NULL} if _NULL in arguments[0] else set()
    if arguments[0] - {_NULL}:
        result.add(_INT)
    return frozenset(result)


def _substring_result(arguments: Sequence[_TypeSet]) -> _TypeSet:
    # Out-of-range offsets give null, so any string input may still come out null.
    return _STRING_OR_NULL if _STRING in arguments[0] else frozenset({_NULL})


def _concat_result(arguments: Sequence[_TypeSet]) -> _TypeSet:
    result = set()
    if any(_STRING in argument for argument in arguments):
        result.add(_STRING)
    if all(_NULL in argument for argument in arguments):
        result.add(_NULL)
    return frozenset(result)


def _always(types: _TypeSet) -> Callable[[Sequence[_TypeSet]], _TypeSet]:
    return lambda arguments: types


@dataclass(frozen=True)
class _FunctionSpec:
    name: str
    parameter_types: Tuple[_TypeSet, ...]
    implementations: Mapping[int, Callable[..., Any]]
    """Implementation by argument count; the keys are the accepted arities."""
    result_types: Callable[[Sequence[_TypeSet]], _TypeSet]


_FUNCTIONS: Mapping[str, _FunctionSpec] = {
    spec.name: spec
    for spec in (
        _FunctionSpec("length", (_LENGTH_ARGUMENT,), {1: _length}, _length_result),
        _FunctionSpec("tolower", (_STRING_OR_NULL,), {1: _tolower}, _string_result_like_argument),
        _FunctionSpec("toupper", (_STRING_OR_NULL,), {1: _toupper}, _string_result_like_argument),
        _FunctionSpec("trim", (_STRING_OR_NULL,), {1: _trim}, _string_result_like_argument),
        _FunctionSpec(
            "substring",
            (_STRING_OR_NULL, _INT_OR_NULL, _INT_OR_NULL),
            {2: _substring_from, 3: _substring_range},
            _substring_result,
        ),
        _FunctionSpec(
            "concat", (_STRING_OR_NULL, _STRING_OR_NULL), {2: _concat}, _concat_result
        ),
        _FunctionSpec(
            "startswith",
            (_STRING_OR_NULL, _STRING_OR_NULL),
            {2: _startswith},
            _always(_BOOL_ONLY),
        ),
        _FunctionSpec(
            "endswith", (_STRING_OR_NULL, _STRING_OR_NULL), {2: _endswith}, _always(_BOOL_ONLY)
        ),
        _FunctionSpec(
            "contains", (_STRING_OR_NULL, _STRING_OR_NULL), {2: _contains}, _always(_BOOL_ONLY)
        ),
        _FunctionSpec(
            "indexof",
            (_STRING_OR_NULL, _STRING_OR_NULL),
            {2: _indexof},
            _always(frozenset({_INT})),
        ),
    )
}

_COMPARISON_OPERATORS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_LITERAL_KEYWORDS: Mapping[str, _LiteralValue] = {"true": True, "false": False, "null": None}
