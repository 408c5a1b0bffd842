"""The OData ``filter`` language of the Web PubSub data-plane API, as implemented by the emulator.

``compile_filter`` turns filter text into a predicate over connections. All syntax and type
checking happens up front, so a bad filter is rejected before any message is fanned out and the
returned predicate never raises. The predicate is a tree of small closures built once per filter
text; it runs once per candidate connection, so nothing re-reads the text at evaluation time.

Behaviour follows the REST reference (rest-api-semantics.md section 8). Choices where the documents
leave room, kept deliberately:

* Keywords (``and or not eq ne gt ge lt le in true false null``) and function names are lower-case
  only, as documented; a wrongly-cased one is rejected with a hint. Identifier names (``userId``,
  ``connectionId``, ``groups``, ``protocol``) are case-insensitive.
* Static types are sets drawn from {string, int, bool, null, collection}. An expression is accepted
  only if every type it may have at runtime is acceptable where it is used, which is why
  ``not length(userId)`` (int-or-null) is rejected. When several types are unacceptable the message
  names the first of null, string, int, bool, collection, matching the service's
  "Type 'null', expect 'bool'." for that example.
* The items of an ``in`` list may be any single-valued expression (the restated grammar says
  ``value``), not only literals.
* Comparisons do not chain: ``a eq b eq c`` needs parentheses.
* Integer literals must fit in 64 bits. Lengths and offsets count Python code points.
* Syntax errors quote the whole filter and give a 0-based character position; type errors quote
  the offending sub-expression, as the service does for ``not length(userId)``.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import operator
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Collection,
    FrozenSet,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Union,
)

__all__ = ["FilterError", "FilterPredicate", "FilterTarget", "MAX_NESTING_DEPTH", "compile_filter"]

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

    def describe_arity(self) -> str:
        counts = sorted(self.implementations)
        noun = "argument" if counts == [1] else "arguments"
        return f"{' or '.join(str(count) for count in counts)} {noun}"


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
_OPERATORS = frozenset({"and", "or", "not", "in"}) | _COMPARISON_OPERATORS
_KEYWORDS = _OPERATORS | set(_LITERAL_KEYWORDS)


# --------------------------------------------------------------------------------------------------
# Lexer


class _TokenKind(enum.Enum):
    WORD = "word"
    STRING = "string literal"
    INTEGER = "integer literal"
    LEFT_PAREN = "'('"
    RIGHT_PAREN = "')'"
    COMMA = "','"
    END = "end of filter"


@dataclass(frozen=True)
class _Token:
    kind: _TokenKind
    text: str
    start: int
    value: _LiteralValue = None

    def describe(self) -> str:
        if self.kind is _TokenKind.END:
            return "the end of the filter"
        if self.kind in (_TokenKind.STRING, _TokenKind.INTEGER):
            return f"{self.kind.value} {self.text}"
        return f"'{self.text}'"


_DIGITS = frozenset("0123456789")
_SINGLE_CHARACTER_TOKENS = {
    "(": _TokenKind.LEFT_PAREN,
    ")": _TokenKind.RIGHT_PAREN,
    ",": _TokenKind.COMMA,
}


def _is_word_character(character: str) -> bool:
    return character.isalnum() or character == "_"


def _tokenize(text: str) -> List[_Token]:
    tokens: List[_Token] = []
    position = 0
    length = len(text)
    while position < length:
        character = text[position]
        if character.isspace():
            position += 1
        elif character in _SINGLE_CHARACTER_TOKENS:
            tokens.append(_Token(_SINGLE_CHARACTER_TOKENS[character], character, position))
            position += 1
        elif character == "'":
            token = _read_string(text, position)
            tokens.append(token)
            position += len(token.text)
        elif character in _DIGITS or (
            character in "+-" and position + 1 < length and text[position + 1] in _DIGITS
        ):
            token = _read_integer(text, position)
            tokens.append(token)
            position += len(token.text)
        elif character.isalpha() or character == "_":
            end = position + 1
            while end < length and _is_word_character(text[end]):
                end += 1
            tokens.append(_Token(_TokenKind.WORD, text[position:end], position))
            position = end
        else:
            raise FilterError(text, f"Unexpected character '{character}' at position {position}.")
    tokens.append(_Token(_TokenKind.END, "", length))
    return tokens


def _read_string(text: str, start: int) -> _Token:
    pieces: List[str] = []
    cursor = start + 1
    while True:
        quote = text.find("'", cursor)
        if quote < 0:
            raise FilterError(text, f"Unterminated string literal at position {start}.")
        pieces.append(text[cursor:quote])
        if text.startswith("''", quote):
            pieces.append("'")
            cursor = quote + 2
        else:
            return _Token(_TokenKind.STRING, text[start : quote + 1], start, "".join(pieces))


def _read_integer(text: str, start: int) -> _Token:
    end = start + 1
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    if end < len(text) and _is_word_character(text[end]):
        while end < len(text) and _is_word_character(text[end]):
            end += 1
        raise FilterError(text, f"Invalid number '{text[start:end]}' at position {start}.")
    literal = text[start:end]
    # Checking the digit count first keeps int() away from huge inputs (Python 3.11+ refuses to
    # convert very long digit strings anyway).
    digits = literal.lstrip("+-").lstrip("0")
    value = int(literal) if len(digits) <= 19 else None
    if value is None or not _INT64_MIN <= value <= _INT64_MAX:
        raise FilterError(
            text, f"Integer literal {literal} at position {start} does not fit in 64 bits."
        )
    return _Token(_TokenKind.INTEGER, literal, start, value)


# --------------------------------------------------------------------------------------------------
# Syntax tree. Every node remembers its source span so type errors can quote the sub-expression.


@dataclass(frozen=True)
class _Node:
    start: int
    end: int


@dataclass(frozen=True)
class _Literal(_Node):
    value: _LiteralValue


@dataclass(frozen=True)
class _Identifier(_Node):
    spec: _IdentifierSpec


@dataclass(frozen=True)
class _Call(_Node):
    function: _FunctionSpec
    arguments: Tuple[_Node, ...]


@dataclass(frozen=True)
class _List(_Node):
    items: Tuple[_Node, ...]


@dataclass(frozen=True)
class _Not(_Node):
    operand: _Node


@dataclass(frozen=True)
class _Comparison(_Node):
    operator: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Membership(_Node):
    element: _Node
    container: _Node
    """A ``_List``, or the ``groups`` identifier."""


@dataclass(frozen=True)
class _Logical(_Node):
    operator: str
    operands: Tuple[_Node, ...]
    """Flat, so long ``or``/``and`` chains do not nest (no deep recursion while compiling)."""


def _is_groups(node: _Node) -> bool:
    return isinstance(node, _Identifier) and node.spec.name.lower() == _GROUPS_KEY


def _logical(operator_name: str, operands: List[_Node]) -> _Node:
    if len(operands) == 1:
        return operands[0]
    return _Logical(operands[0].start, operands[-1].end, operator_name, tuple(operands))


# --------------------------------------------------------------------------------------------------
# Parser (recursive descent). Precedence, loosest first: or, and, comparison/in, not, primary.


class _Parser:
    def __init__(self, text: str, tokens: List[_Token]) -> None:
        self._text = text
        self._tokens = tokens
        self._index = 0
        self._depth = 0

    def parse(self) -> _Node:
        tree = self._parse_or()
        token = self._peek()
        if token.kind is not _TokenKind.END:
            if token.kind is _TokenKind.RIGHT_PAREN:
                raise self._error(f"Unbalanced ')' at position {token.start}.")
            raise self._error(self._describe_unexpected_after_value(token, "the end of the filter"))
        return tree

    # -- token helpers

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind is not _TokenKind.END:
            self._index += 1
        return token

    def _at_keyword(self, keyword: str) -> bool:
        token = self._peek()
        return token.kind is _TokenKind.WORD and token.text == keyword

    def _error(self, detail: str) -> FilterError:
        return FilterError(self._text, detail)

    def _enter_nesting(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > MAX_NESTING_DEPTH:
            raise self._error(
                f"Nesting deeper than {MAX_NESTING_DEPTH} levels at position {token.start}."
            )

    def _leave_nesting(self) -> None:
        self._depth -= 1

    def _describe_unexpected_after_value(self, token: _Token, alternative: str) -> str:
        where = f"at position {token.start}"
        lowered = token.text.lower()
        if token.kind is _TokenKind.WORD and lowered != token.text and lowered in _OPERATORS:
            return (
                f"Unknown operator '{token.text}' {where}; operators are lower-case "
                f"('{token.text.lower()}')."
            )
        return f"Unexpected {token.describe()} {where}; expected an operator or {alternative}."

    # -- grammar

    def _parse_or(self) -> _Node:
        or_operands: List[_Node] = []
        while True:
            and_operands = [self._parse_comparison()]
            while self._at_keyword("and"):
                self._advance()
                and_operands.append(self._parse_comparison())
            or_operands.append(_logical("and", and_operands))
            if not self._at_keyword("or"):
                return _logical("or", or_operands)
            self._advance()

    def _parse_comparison(self) -> _Node:
        left = self._parse_unary()
        token = self._peek()
        node: _Node
        if token.kind is _TokenKind.WORD and token.text in _COMPARISON_OPERATORS:
            self._advance()
            right = self._parse_unary()
            node = _Comparison(left.start, right.end, token.text, left, right)
        elif self._at_keyword("in"):
            self._advance()
            container = self._parse_in_container(token)
            node = _Membership(left.start, container.end, left, container)
        else:
            return left
        following = self._peek()
        if following.kind is _TokenKind.WORD and (
            following.text in _COMPARISON_OPERATORS or following.text == "in"
        ):
            raise self._error(
                f"'{following.text}' at position {following.start} cannot follow another "
                f"comparison; add parentheses."
            )
        return node

    def _parse_unary(self) -> _Node:
        token = self._peek()
        if not self._at_keyword("not"):
            return self._parse_primary()
        self._advance()
        self._enter_nesting(token)
        operand = self._parse_unary()
        self._leave_nesting()
        return _Not(token.start, operand.end, operand)

    def _parse_primary(self) -> _Node:
        token = self._advance()
        if token.kind in (_TokenKind.STRING, _TokenKind.INTEGER):
            return _Literal(token.start, token.start + len(token.text), token.value)
        if token.kind is _TokenKind.LEFT_PAREN:
            items, end = self._parse_parenthesised(token, "Empty parentheses")
            if len(items) == 1:
                return dataclasses.replace(items[0], start=token.start, end=end)
            return _List(token.start, end, tuple(items))
        if token.kind is _TokenKind.WORD:
            return self._parse_word(token)
        raise self._error(
            f"Expected a value at position {token.start} but found {token.describe()}."
        )

    def _parse_word(self, token: _Token) -> _Node:
        word = token.text
        end = token.start + len(word)
        if word in _LITERAL_KEYWORDS:
            return _Literal(token.start, end, _LITERAL_KEYWORDS[word])
        if word in _KEYWORDS:
            raise self._error(f"Expected a value at position {token.start} but found '{word}'.")
        if self._peek().kind is _TokenKind.LEFT_PAREN:
            return self._parse_call(token)
        identifier = _IDENTIFIERS.get(word.lower())
        if identifier is not None:
            return _Identifier(token.start, end, identifier)
        if word in _FUNCTIONS:
            raise self._error(
                f"Function '{word}' at position {token.start} must be followed by '('."
            )
        if word.lower() in _KEYWORDS:
            raise self._error(
                f"Unknown identifier '{word}' at position {token.start}; keywords are lower-case "
                f"('{word.lower()}')."
            )
        raise self._error(
            f"Unknown identifier '{word}' at position {token.start}; expected userId, "
            f"connectionId, groups or protocol."
        )

    def _parse_call(self, name: _Token) -> _Node:
        function = _FUNCTIONS.get(name.text)
        if function is None:
            if name.text.lower() in _FUNCTIONS:
                raise self._error(
                    f"Unknown function '{name.text}' at position {name.start}; function names "
                    f"are lower-case ('{name.text.lower()}')."
                )
            raise self._error(f"Unknown function '{name.text}' at position {name.start}.")
        open_paren = self._advance()
        arguments, end = self._parse_parenthesised(open_paren, None)
        if len(arguments) not in function.implementations:
            raise self._error(
                f"Function '{function.name}' at position {name.start} takes "
                f"{function.describe_arity()}, got {len(arguments)}."
            )
        return _Call(name.start, end, function, tuple(arguments))

    def _parse_in_container(self, in_token: _Token) -> _Node:
        token = self._peek()
        if token.kind is _TokenKind.WORD and token.text.lower() == _GROUPS_KEY:
            self._advance()
            end = token.start + len(token.text)
            return _Identifier(token.start, end, _IDENTIFIERS[_GROUPS_KEY])
        if token.kind is not _TokenKind.LEFT_PAREN:
            raise self._error(
                f"The right side of 'in' at position {in_token.start} must be a parenthesised "
                f"list or 'groups', found {token.describe()} at position {token.start}."
            )
        self._advance()
        items, end = self._parse_parenthesised(token, "Empty list after 'in'")
        # Extra parentheses around the whole list or around 'groups' are allowed by the grammar.
        if len(items) == 1 and (isinstance(items[0], _List) or _is_groups(items[0])):
            return dataclasses.replace(items[0], start=token.start, end=end)
        return _List(token.start, end, tuple(items))

    def _parse_parenthesised(
        self, open_paren: _Token, empty_error: Optional[str]
    ) -> Tuple[List[_Node], int]:
        """Parse a comma-separated list up to the matching ')'; return it and the end offset."""
        self._enter_nesting(open_paren)
        items: List[_Node] = []
        if self._peek().kind is _TokenKind.RIGHT_PAREN:
            if empty_error is not None:
                raise self._error(f"{empty_error} at position {open_paren.start}.")
        else:
            items.append(self._parse_or())
            while self._peek().kind is _TokenKind.COMMA:
                self._advance()
                items.append(self._parse_or())
        token = self._advance()
        if token.kind is not _TokenKind.RIGHT_PAREN:
            if token.kind is _TokenKind.END:
                raise self._error(f"Missing ')' for the '(' at position {open_paren.start}.")
            raise self._error(self._describe_unexpected_after_value(token, "',' or ')'"))
        self._leave_nesting()
        return items, token.start + 1


# --------------------------------------------------------------------------------------------------
# Type checker and code generator (one pass over the tree)


@dataclass(frozen=True)
class _Compiled:
    types: _TypeSet
    evaluate: _Evaluator
    is_constant: bool = False
    constant: _LiteralValue = None


def _constant(value: _LiteralValue) -> _Compiled:
    return _Compiled(_literal_type(value), lambda target: value, True, value)


def _values_equal(left: Any, right: Any) -> bool:
    # Booleans are ints in Python, but 1 eq true must be false.
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return bool(left == right)


def _equals_constant(evaluate: _Evaluator, constant: _LiteralValue) -> _Evaluator:
    if constant is None:
        return lambda target: evaluate(target) is None
    if isinstance(constant, bool):
        return lambda target: evaluate(target) is constant
    if isinstance(constant, str):
        return lambda target: evaluate(target) == constant
    return lambda target: _values_equal(evaluate(target), constant)


def _member_of_constants(evaluate: _Evaluator, constants: Sequence[_LiteralValue]) -> _Evaluator:
    if all(isinstance(constant, str) or constant is None for constant in constants):
        # Without ints among the constants, plain set membership cannot confuse true with 1.
        plain = frozenset(constants)
        return lambda target: evaluate(target) in plain
    booleans = frozenset(constant for constant in constants if isinstance(constant, bool))
    others = frozenset(constant for constant in constants if not isinstance(constant, bool))

    def is_member(target: FilterTarget) -> bool:
        value = evaluate(target)
        return value in (booleans if isinstance(value, bool) else others)

    return is_member


_ORDERINGS: Mapping[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


class _Compiler:
    def __init__(self, text: str) -> None:
        self._text = text

    def compile_predicate(self, tree: _Node) -> FilterPredicate:
        compiled = self._compile(tree)
        self._require(tree, compiled.types, _BOOL_ONLY)
        evaluate: FilterPredicate = compiled.evaluate
        return evaluate

    def _require(
        self, where: _Node, types: _TypeSet, allowed: _TypeSet, context: str = ""
    ) -> None:
        unacceptable = types - allowed
        if not unacceptable:
            return
        found = next(name for name in _REPORT_ORDER if name in unacceptable)
        # Null is tolerated where ints or strings are expected, but is never what is asked for.
        expected = " or ".join(
            f"'{name}'" for name in _REPORT_ORDER if name in allowed and name != _NULL
        )
        if allowed == _SINGLE_VALUE:
            expected = "a single value"
        sub_expression = self._text[where.start : where.end]
        raise FilterError(sub_expression, f"Type '{found}', expect {expected}{context}.")

    def _compile(self, node: _Node) -> _Compiled:
        if isinstance(node, _Literal):
            return _constant(node.value)
        if isinstance(node, _Identifier):
            return _Compiled(node.spec.types, node.spec.read)
        if isinstance(node, _Call):
            return self._compile_call(node)
        if isinstance(node, _Not):
            return self._compile_not(node)
        if isinstance(node, _Comparison):
            return self._compile_comparison(node)
        if isinstance(node, _Membership):
            return self._compile_membership(node)
        if isinstance(node, _Logical):
            return self._compile_logical(node)
        if isinstance(node, _List):
            raise FilterError(
                self._text[node.start : node.end],
                "A parenthesised list is only allowed on the right of 'in'.",
            )
        raise AssertionError(f"unhandled syntax node {node!r}")

    def _compile_value(
        self, node: _Node, allowed: _TypeSet, where: _Node, context: str = ""
    ) -> _Compiled:
        compiled = self._compile(node)
        self._require(where, compiled.types, allowed, context)
        return compiled

    def _compile_call(self, node: _Call) -> _Compiled:
        function = node.function
        arguments = [
            self._compile_value(
                argument,
                function.parameter_types[position],
                node,
                f" for argument {position + 1} of '{function.name}'",
            )
            for position, argument in enumerate(node.arguments)
        ]
        result_types = function.result_types([argument.types for argument in arguments])
        implementation = function.implementations[len(arguments)]
        evaluators = [argument.evaluate for argument in arguments]
        evaluate: _Evaluator
        if len(evaluators) == 1:
            (only,) = evaluators
            evaluate = lambda target: implementation(only(target))  # noqa: E731
        elif len(evaluators) == 2:
            first, second = evaluators
            evaluate = lambda target: implementation(first(target), second(target))  # noqa: E731
        else:
            first, second, third = evaluators
            evaluate = lambda target: implementation(  # noqa: E731
                first(target), second(target), third(target)
            )
        return _Compiled(result_types, evaluate)

    def _compile_not(self, node: _Not) -> _Compiled:
        operand = self._compile_value(node.operand, _BOOL_ONLY, node).evaluate
        return _Compiled(_BOOL_ONLY, lambda target: not operand(target))

    def _compile_comparison(self, node: _Comparison) -> _Compiled:
        if node.operator in ("eq", "ne"):
            left = self._compile_value(node.left, _SINGLE_VALUE, node)
            right = self._compile_value(node.right, _SINGLE_VALUE, node)
            equal = self._equality(left, right)
            if node.operator == "eq":
                return _Compiled(_BOOL_ONLY, equal)
            return _Compiled(_BOOL_ONLY, lambda target: not equal(target))
        left = self._compile_value(node.left, _INT_OR_NULL, node)
        right = self._compile_value(node.right, _INT_OR_NULL, node)
        return _Compiled(_BOOL_ONLY, self._ordering(_ORDERINGS[node.operator], left, right))

    @staticmethod
    def _equality(left: _Compiled, right: _Compiled) -> _Evaluator:
        if right.is_constant:
            return _equals_constant(left.evaluate, right.constant)
        if left.is_constant:
            return _equals_constant(right.evaluate, left.constant)
        read_left, read_right = left.evaluate, right.evaluate
        return lambda target: _values_equal(read_left(target), read_right(target))

    @staticmethod
    def _ordering(
        compare: Callable[[Any, Any], bool], left: _Compiled, right: _Compiled
    ) -> _Evaluator:
        read_left, read_right = left.evaluate, right.evaluate
        if (left.is_constant and left.constant is None) or (
            right.is_constant and right.constant is None
        ):
            return lambda target: False
        if right.is_constant:
            limit = right.constant
            return lambda target: (value := read_left(target)) is not None and compare(value, limit)
        return lambda target: (
            (left_value := read_left(target)) is not None
            and (right_value := read_right(target)) is not None
            and compare(left_value, right_value)
        )

    def _compile_membership(self, node: _Membership) -> _Compiled:
        element = self._compile_value(node.element, _SINGLE_VALUE, node)
        read = element.evaluate
        if isinstance(node.container, _List):
            items = [
                self._compile_value(item, _SINGLE_VALUE, node) for item in node.container.items
            ]
            if all(item.is_constant for item in items):
                return _Compiled(
                    _BOOL_ONLY, _member_of_constants(read, [item.constant for item in items])
                )
            readers = [item.evaluate for item in items]

            def is_listed(target: FilterTarget) -> bool:
                value = read(target)
                return any(_values_equal(value, reader(target)) for reader in readers)

            return _Compiled(_BOOL_ONLY, is_listed)
        read_groups = self._compile(node.container).evaluate
        if element.is_constant:
            group = element.constant
            if not isinstance(group, str):
                return _Compiled(_BOOL_ONLY, lambda target: False)
            return _Compiled(_BOOL_ONLY, lambda target: group in read_groups(target))
        return _Compiled(
            _BOOL_ONLY,
            lambda target: isinstance(value := read(target), str) and value in read_groups(target),
        )

    def _compile_logical(self, node: _Logical) -> _Compiled:
        evaluators: List[_Evaluator] = []
        for position, operand in enumerate(node.operands):
            compiled = self._compile(operand)
            # Quote the operator with its neighbour, e.g. 'userId eq 'a' and length(userId)'.
            neighbour = node.operands[position - 1] if position else node.operands[1]
            pair_start = min(neighbour.start, operand.start)
            pair_end = max(neighbour.end, operand.end)
            self._require(_Node(pair_start, pair_end), compiled.types, _BOOL_ONLY)
            evaluators.append(compiled.evaluate)
        readers = tuple(evaluators)
        if node.operator == "and":
            if len(readers) == 2:
                first, second = readers
                return _Compiled(_BOOL_ONLY, lambda target: first(target) and second(target))

            def all_true(target: FilterTarget) -> bool:
                for reader in readers:
                    if not reader(target):
                        return False
                return True

            return _Compiled(_BOOL_ONLY, all_true)
        if len(readers) == 2:
            first, second = readers
            return _Compiled(_BOOL_ONLY, lambda target: first(target) or second(target))

        def any_true(target: FilterTarget) -> bool:
            for reader in readers:
                if reader(target):
                    return True
            return False

        return _Compiled(_BOOL_ONLY, any_true)

