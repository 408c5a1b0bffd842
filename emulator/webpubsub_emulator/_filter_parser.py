"""Lexer and recursive-descent parser of the OData filter language: text to a syntax tree."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ._filter_language import (
    _COMPARISON_OPERATORS, _FUNCTIONS, _GROUPS_KEY, _IDENTIFIERS, _INT64_MAX, _INT64_MIN, _KEYWORDS,
    _LITERAL_KEYWORDS, _OPERATORS, MAX_NESTING_DEPTH, FilterError, _FunctionSpec, _IdentifierSpec,
    _LiteralValue,
)

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


def _tokenize(text: str, max_tokens: Optional[int] = None) -> List[_Token]:
    """The tokens and an END marker; past `max_tokens` it stops early (the caller refuses the filter)."""
    tokens: List[_Token] = []
    position = 0
    length = len(text)
    while position < length and (max_tokens is None or len(tokens) <= max_tokens):
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
