"""Lexer and parser of the OData filter language: text to a syntax tree, with the service's syntax errors.

The service parses filters with the OData .NET URI parser (``ExpressionLexer`` and
``UriQueryExpressionParser``), so its syntax errors are that library's texts, positions included. This
module follows the same structure so the same input fails at the same place (no code of it is used: the
rules below are reconstructed from its documented behaviour and resource strings, and only the recorded
``invalid filter`` case is confirmed against the service):

* Tokens are read lazily, one ahead: the first token when parsing starts, the next one whenever the
  parser moves on, and one token of look-ahead at the start of every primary expression. So a bad
  character or an unterminated string is only reported if parsing gets that far.
* Syntax errors and their positions (0-based character offsets):

  - a token left over after a complete expression: ``Syntax error at position P``, P = the offset just
    *after* that token (``invalid filter`` -> 14);
  - nothing usable where a value must start: ``Expression expected at position P``, P = start of the
    token found (the length of the text at the end);
  - a parenthesised expression not closed: ``')' or operator expected``; a function's argument list not
    closed: ``')' or ',' expected``, both at the start of the token found;
  - ``'`` never closed: ``There is an unterminated string literal at position P`` with P = the length of
    the text; a character no token starts with (``"``, ``+``, ``!``, ``;``, ``]``...):
    ``Syntax error: character 'c' is not valid at position P``; ``1.`` or ``1e``:
    ``A digit was expected at position P``; nesting deeper than MAX_NESTING_DEPTH:
    ``Recursion depth exceeded allowed limit.``

* Like OData: keywords, operators and function names are case-sensitive (``EQ`` is an unknown word, so
  ``userId EQ 'a'`` is a syntax error at the end of ``EQ``); a word is a function call only when ``(``
  follows it directly; comparisons chain left to right (``1 eq 1 eq true``); ``in`` binds tighter than
  the comparisons; ``- 1`` is the number -1. Words OData knows but the service does not support
  (``add``, ``has``, decimals such as ``1.5``, unknown names) parse, then fail once the whole text has
  parsed, with Microsoft's emulator's ``Token '<token>' is not supported.`` (wrong argument counts:
  ``Invalid token '<name>'.``), quoting the offending sub-expression. Identifier names stay
  case-insensitive (``UserId``), as the service documents.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import FrozenSet, List, Optional, Tuple

from ._filter_language import (
    _COMPARISON_OPERATORS, _FUNCTIONS, _GROUPS_KEY, _IDENTIFIERS, _INT64_MAX, _INT64_MIN, _LITERAL_KEYWORDS,
    MAX_NESTING_DEPTH, FilterError, _FunctionSpec, _IdentifierSpec, _LiteralValue,
)

# The OData library's resource strings (ExpressionLexer_*, UriQueryExpressionParser_*).
SYNTAX_ERROR = "Syntax error at position {position} in '{text}'."
INVALID_CHARACTER = "Syntax error: character '{character}' is not valid at position {position} in '{text}'."
UNTERMINATED_STRING = "There is an unterminated string literal at position {position} in '{text}'."
DIGIT_EXPECTED = "A digit was expected at position {position} in '{text}'."
EXPRESSION_EXPECTED = "Expression expected at position {position} in '{text}'."
CLOSE_PAREN_OR_COMMA_EXPECTED = "')' or ',' expected at position {position} in '{text}'."
CLOSE_PAREN_OR_OPERATOR_EXPECTED = "')' or operator expected at position {position} in '{text}'."
TOO_DEEP = "Recursion depth exceeded allowed limit."
# Microsoft's emulator's texts for what parses but cannot be evaluated.
NOT_SUPPORTED = "Token '{token}' is not supported."
INVALID_TOKEN = "Invalid token '{token}'."

_AND = frozenset({"and"})
_OR = frozenset({"or"})
_NOT = frozenset({"not"})
_IN_HAS = frozenset({"in", "has"})
# OData's additive and multiplicative operators: parsed (at one level, since none of them runs) and refused.
_ARITHMETIC_OPERATORS = frozenset({"add", "sub", "mul", "div", "divby", "mod"})

# --------------------------------------------------------------------------------------------------
# Lexer


class _TokenKind(enum.Enum):
    WORD = "word"
    STRING = "string literal"
    INTEGER = "integer literal"
    NUMBER = "other number"  # decimals, doubles, integers beyond 64 bits: lexed, not supported
    LEFT_PAREN = "'('"
    RIGHT_PAREN = "')'"
    COMMA = "','"
    MINUS = "'-'"
    PUNCTUATION = "punctuation"  # = / ? . * : { [ : OData tokens the filter language has no use for
    END = "end of filter"


@dataclass(frozen=True)
class _Token:
    kind: _TokenKind
    text: str
    start: int
    value: _LiteralValue = None

    @property
    def end(self) -> int:
        return self.start + len(self.text)


_DIGITS = frozenset("0123456789")
_SINGLE_CHARACTER_TOKENS = {
    "(": _TokenKind.LEFT_PAREN,
    ")": _TokenKind.RIGHT_PAREN,
    ",": _TokenKind.COMMA,
    **{character: _TokenKind.PUNCTUATION for character in "=/?.*:{["},
}


def _starts_word(character: str) -> bool:
    return character.isalpha() or character in "_$"


def _continues_word(character: str) -> bool:
    return character.isalnum() or character in "_$"


class _Lexer:
    """OData's ExpressionLexer, reduced to the tokens a filter can hold. ``current`` is the token being
    looked at; ``position`` is the offset just after it (OData's ``textPos``)."""

    def __init__(self, text: str, max_tokens: Optional[int] = None) -> None:
        self.text = text
        self.position = 0
        self.tokens_read = 0
        self._max_tokens = max_tokens
        self.current = self._read()

    def advance(self) -> _Token:
        token = self.current
        if token.kind is not _TokenKind.END:
            self.tokens_read += 1
            if self._max_tokens is not None and self.tokens_read > self._max_tokens:
                raise TooManyTokens(self._max_tokens)  # before reading on: the work stays bounded
            self.current = self._read()
        return token

    def peek(self) -> _Token:
        saved = self.position
        try:
            return self._read()
        finally:
            self.position = saved

    def _error(self, template: str, position: int, **values: str) -> FilterError:
        return FilterError(self.text, template.format(position=position, text=self.text, **values))

    def _read(self) -> _Token:
        text, position = self.text, self.position
        while position < len(text) and text[position].isspace():
            position += 1
        start = position
        if position >= len(text):
            self.position = position
            return _Token(_TokenKind.END, "", start)
        character = text[position]
        kind = _SINGLE_CHARACTER_TOKENS.get(character)
        if kind is not None:
            position += 1
        elif character == "'":
            position = self._string_end(start)
            kind = _TokenKind.STRING
        elif character in _DIGITS or (character == "-" and text[position + 1: position + 2] in _DIGITS):
            return self._number(start)
        elif character == "-":
            position += 1
            kind = _TokenKind.MINUS
        elif _starts_word(character):
            position += 1
            while position < len(text) and _continues_word(text[position]):
                position += 1
            kind = _TokenKind.WORD
        else:
            raise self._error(INVALID_CHARACTER, start, character=character)
        self.position = position
        token_text = text[start:position]
        value: _LiteralValue = None
        if kind is _TokenKind.STRING:
            value = token_text[1:-1].replace("''", "'")
        return _Token(kind, token_text, start, value)

    def _string_end(self, start: int) -> int:
        """After the closing quote; a doubled quote is part of the string."""
        text = self.text
        cursor = start
        while True:
            cursor = text.find("'", cursor + 1)
            if cursor < 0:
                raise self._error(UNTERMINATED_STRING, len(text))
            if not text.startswith("''", cursor):
                return cursor + 1
            cursor += 1

    def _number(self, start: int) -> _Token:
        text = self.text
        position = start + 1
        position = self._digits(position)
        kind = _TokenKind.INTEGER
        if text.startswith(".", position):
            kind = _TokenKind.NUMBER
            position = self._digits(self._require_digit(position + 1))
        if text[position: position + 1] in ("e", "E"):
            kind = _TokenKind.NUMBER
            position += 1
            if text[position: position + 1] in ("+", "-"):
                position += 1
            position = self._digits(self._require_digit(position))
        digits_end = position
        suffix = text[position: position + 1]
        if suffix and suffix in "lL" and kind is _TokenKind.INTEGER:
            position += 1  # an Int64 literal: still an integer
        elif suffix and suffix in "mMdDfF":
            kind = _TokenKind.NUMBER
            position += 1
        self.position = position
        value: _LiteralValue = None
        if kind is _TokenKind.INTEGER:
            literal = text[start:digits_end]
            # Checking the digit count first keeps int() away from huge inputs.
            value = int(literal) if len(literal.lstrip("-").lstrip("0")) <= 19 else None
            if value is None or not _INT64_MIN <= value <= _INT64_MAX:
                kind, value = _TokenKind.NUMBER, None  # OData reads it as a decimal or a double
        return _Token(kind, text[start:position], start, value)

    def _digits(self, position: int) -> int:
        while position < len(self.text) and self.text[position] in _DIGITS:
            position += 1
        return position

    def _require_digit(self, position: int) -> int:
        if self.text[position: position + 1] not in _DIGITS:
            raise self._error(DIGIT_EXPECTED, position)
        return position


def _tokenize(text: str, max_tokens: Optional[int] = None) -> _Lexer:
    """The lexer for `text`, positioned on its first token (OData reads it when parsing starts)."""
    return _Lexer(text, max_tokens)


class TooManyTokens(Exception):
    """The filter holds more tokens than the lexer was allowed to read."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


# --------------------------------------------------------------------------------------------------

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
# Parser (recursive descent, the levels of OData's UriQueryExpressionParser, loosest first):
# or, and, comparison, arithmetic, unary (not, -), in/has, primary. Few frames per nesting level, so
# MAX_NESTING_DEPTH levels stay well inside Python's recursion limit.


class _Parser:
    def __init__(self, text: str, lexer: _Lexer) -> None:
        self._text = text
        self._lexer = lexer
        self._depth = 0
        self._unsupported: Optional[FilterError] = None  # the first thing that parsed but cannot run

    def parse(self) -> _Node:
        tree = self._parse_or()
        if self._lexer.current.kind is not _TokenKind.END:
            raise self._syntax_error(SYNTAX_ERROR, self._lexer.position)
        if self._unsupported is not None:
            raise self._unsupported
        return tree

    # -- helpers

    @property
    def _current(self) -> _Token:
        return self._lexer.current

    def _at_word(self, words: FrozenSet[str]) -> bool:
        token = self._lexer.current
        return token.kind is _TokenKind.WORD and token.text in words

    def _syntax_error(self, template: str, position: int) -> FilterError:
        return FilterError(self._text, template.format(position=position, text=self._text))

    def _not_supported(self, start: int, end: int, detail: str) -> _Node:
        """Remember the first construct that cannot be evaluated; it is reported once parsing succeeded."""
        if self._unsupported is None:
            self._unsupported = FilterError(self._text[start:end], detail)
        return _Literal(start, end, None)

    def _enter_nesting(self) -> None:
        self._depth += 1
        if self._depth > MAX_NESTING_DEPTH:
            raise FilterError(self._text, TOO_DEEP)

    def _leave_nesting(self) -> None:
        self._depth -= 1

    # -- grammar

    def _parse_or(self) -> _Node:
        or_operands: List[_Node] = []
        while True:
            and_operands = [self._parse_comparison()]
            while self._at_word(_AND):
                self._lexer.advance()
                and_operands.append(self._parse_comparison())
            or_operands.append(_logical("and", and_operands))
            if not self._at_word(_OR):
                return _logical("or", or_operands)
            self._lexer.advance()

    def _parse_comparison(self) -> _Node:
        left = self._parse_arithmetic()
        while self._at_word(_COMPARISON_OPERATORS):
            operator = self._lexer.advance().text
            right = self._parse_arithmetic()
            left = _Comparison(left.start, right.end, operator, left, right)
        return left

    def _parse_arithmetic(self) -> _Node:
        left = self._parse_unary()
        while self._at_word(_ARITHMETIC_OPERATORS):
            name = self._lexer.advance().text
            right = self._parse_unary()
            left = self._not_supported(left.start, right.end, NOT_SUPPORTED.format(token=name))
        return left

    def _parse_unary(self) -> _Node:
        token = self._current
        is_not = self._at_word(_NOT)
        if not is_not and token.kind is not _TokenKind.MINUS:
            return self._parse_in_has()
        self._lexer.advance()
        number = self._current
        if not is_not and number.kind in (_TokenKind.INTEGER, _TokenKind.NUMBER):
            # OData joins '-' and a number that follows after spaces into one negative literal.
            return self._parse_in_has(negate=token)
        self._enter_nesting()
        operand = self._parse_unary()
        self._leave_nesting()
        if is_not:
            return _Not(token.start, operand.end, operand)
        return self._not_supported(token.start, operand.end, NOT_SUPPORTED.format(token="-"))

    def _parse_in_has(self, negate: Optional[_Token] = None) -> _Node:
        left = self._parse_primary(negate)
        while self._at_word(_IN_HAS):
            operator = self._lexer.advance().text
            if operator == "has":
                right = self._parse_primary()
                left = self._not_supported(left.start, right.end, NOT_SUPPORTED.format(token="has"))
                continue
            container = self._parse_in_container()
            left = _Membership(left.start, container.end, left, container)
        return left

    def _parse_in_container(self) -> _Node:
        """`(v1, v2, ...)`, `groups`, or either in extra parentheses, as the restated grammar allows."""
        token = self._current
        if token.kind is not _TokenKind.LEFT_PAREN:
            return self._parse_primary()
        self._lexer.advance()
        self._enter_nesting()
        items: List[_Node] = []
        while items or self._current.kind is not _TokenKind.RIGHT_PAREN:  # after a ',' a value must follow
            if self._current.kind is _TokenKind.LEFT_PAREN:
                item = self._parse_in_container()
                if isinstance(item, _List) and len(item.items) == 1:
                    item = dataclasses.replace(item.items[0], start=item.start, end=item.end)
            else:
                item = self._parse_or()
            items.append(item)
            if self._current.kind is not _TokenKind.COMMA:
                break
            self._lexer.advance()
        end = self._close(CLOSE_PAREN_OR_COMMA_EXPECTED)
        self._leave_nesting()
        if len(items) == 1 and (isinstance(items[0], _List) or _is_groups(items[0])):
            return dataclasses.replace(items[0], start=token.start, end=end)
        return _List(token.start, end, tuple(items))

    def _close(self, error: str) -> int:
        """Consume the ')' that must come now; return the offset after it."""
        token = self._current
        if token.kind is not _TokenKind.RIGHT_PAREN:
            raise self._syntax_error(error, token.start)
        self._lexer.advance()
        return token.end

    def _parse_primary(self, negate: Optional[_Token] = None) -> _Node:
        token = self._current
        self._lexer.peek()  # OData looks one token ahead here (for '/' paths): its errors surface now
        if negate is not None:
            self._lexer.advance()
            return self._number(negate.start, token, -1)
        if token.kind is _TokenKind.WORD:
            if token.text in _LITERAL_KEYWORDS:
                self._lexer.advance()
                return _Literal(token.start, token.end, _LITERAL_KEYWORDS[token.text])
            if self._text.startswith("(", token.end):  # OData: a call only when '(' follows directly
                return self._parse_call(token)
            self._lexer.advance()
            identifier = _IDENTIFIERS.get(token.text.lower())
            if identifier is None:
                return self._not_supported(token.start, token.end, NOT_SUPPORTED.format(token=token.text))
            return _Identifier(token.start, token.end, identifier)
        if token.kind in (_TokenKind.STRING, _TokenKind.INTEGER, _TokenKind.NUMBER):
            self._lexer.advance()
            if token.kind is _TokenKind.STRING:
                return _Literal(token.start, token.end, token.value)
            return self._number(token.start, token, 1)
        if token.kind is _TokenKind.LEFT_PAREN:
            self._lexer.advance()
            self._enter_nesting()
            inner = self._parse_or()
            end = self._close(CLOSE_PAREN_OR_OPERATOR_EXPECTED)
            self._leave_nesting()
            return dataclasses.replace(inner, start=token.start, end=end)
        raise self._syntax_error(EXPRESSION_EXPECTED, token.start)

    def _number(self, start: int, token: _Token, sign: int) -> _Node:
        value = sign * token.value if isinstance(token.value, int) else None
        if token.kind is _TokenKind.NUMBER or value is None or not _INT64_MIN <= value <= _INT64_MAX:
            return self._not_supported(start, token.end, NOT_SUPPORTED.format(token=self._text[start:token.end]))
        return _Literal(start, token.end, value)

    def _parse_call(self, name: _Token) -> _Node:
        self._lexer.advance()
        self._lexer.advance()  # the '('
        self._enter_nesting()
        arguments: List[_Node] = []
        while arguments or self._current.kind is not _TokenKind.RIGHT_PAREN:  # after a ',' a value must follow
            arguments.append(self._parse_or())
            if self._current.kind is not _TokenKind.COMMA:
                break
            self._lexer.advance()
        end = self._close(CLOSE_PAREN_OR_COMMA_EXPECTED)
        self._leave_nesting()
        function: Optional[_FunctionSpec] = _FUNCTIONS.get(name.text)
        if function is None:
            return self._not_supported(name.start, end, NOT_SUPPORTED.format(token=name.text))
        if len(arguments) not in function.implementations:
            return self._not_supported(name.start, end, INVALID_TOKEN.format(token=name.text))
        return _Call(name.start, end, function, tuple(arguments))
