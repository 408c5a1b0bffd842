"""Table-driven tests of the emulator's OData filter engine (rest-api-semantics.md section 8)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Collection, List, Optional, Tuple

import pytest
from webpubsub_emulator._filter import MAX_NESTING_DEPTH, FilterError, compile_filter


@dataclass(frozen=True)
class Connection:
    connection_id: str
    user_id: Optional[str]
    groups: Collection[str] = frozenset()
    protocol: Optional[str] = None


# The sample hub state of section 8.7.
C1 = Connection("c1", "alice", frozenset({"room1"}))
C2 = Connection("c2", "alice")
C3 = Connection("c3", "bob", frozenset({"room1", "room2"}))
C4 = Connection("c4", None, frozenset({"room2"}))
C5 = Connection("c5", "USER-ab-de")
SAMPLE_HUB = (C1, C2, C3, C4, C5)

O_BRIEN = Connection("c6", "o'brien", ["vip"], "json.webpubsub.azure.v1")


def matching_ids(text: Optional[str]) -> str:
    predicate = compile_filter(text)
    return " ".join(connection.connection_id for connection in SAMPLE_HUB if predicate(connection))


def evaluate(text: str, connection: Connection = C1) -> bool:
    return compile_filter(text)(connection)


def nested(prefix: str, core: str, suffix: str, depth: int) -> str:
    return prefix * depth + core + suffix * depth


def short_id(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)} chars)"


# --------------------------------------------------------------------------------------------------
# Section 8.7 worked examples, row by row

WORKED_EXAMPLES: List[Tuple[str, str]] = [
    ("userId eq 'alice'", "c1 c2"),
    ("userId ne 'alice'", "c3 c4 c5"),
    ("userId eq null", "c4"),
    ("'room1' in groups", "c1 c3"),
    ("'room1' in groups or 'room2' in groups", "c1 c3 c4"),
    ("userId in ('alice', 'bob') and 'room2' in groups", "c3"),
    ("userId eq 'alice' and connectionId ne 'c1'", "c2"),
    ("userId eq 'alice' and (not ('room1' in groups))", "c2"),
    ("not ('room1' in groups)", "c2 c4 c5"),
    ("length(groups) gt 1", "c3"),
    ("length(userId) gt 5", "c5"),
    ("startswith(tolower(userId), 'user-')", "c5"),
    ("substring(userId, 5, 2) eq 'ab'", "c5"),
    ("indexof(userId, '-ab-') ge 0", "c5"),
    ("tolower(userId) eq 'user-ab-de'", "c5"),
    ("userId eq 'user-ab-de'", ""),
    ("userId eq 'o''brien'", ""),
    ("true", "c1 c2 c3 c4 c5"),
    ("false", ""),
]


@pytest.mark.parametrize(("text", "expected"), WORKED_EXAMPLES)
def test_worked_example_matches_documented_connections(text: str, expected: str) -> None:
    assert matching_ids(text) == expected


WORKED_EXAMPLE_ERRORS: List[Tuple[str, str]] = [
    (
        "not length(userId) gt 5",
        "Invalid syntax for 'not length(userId)': Type 'null', expect 'bool'. (Parameter 'filter')",
    ),
    (
        "userId gt 'a'",
        "Invalid syntax for 'userId gt 'a'': Type 'string', expect 'int'. (Parameter 'filter')",
    ),
    ("foo eq 'x'", "Invalid syntax for 'foo': Token 'foo' is not supported. (Parameter 'filter')"),
]


@pytest.mark.parametrize(("text", "message"), WORKED_EXAMPLE_ERRORS)
def test_worked_example_rejected_with_service_message(text: str, message: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter(text)
    assert str(caught.value) == message


# --------------------------------------------------------------------------------------------------
# Absent filters

@pytest.mark.parametrize("text", [None, "", "   ", "\t\r\n "])
def test_absent_or_blank_filter_matches_everything(text: Optional[str]) -> None:
    assert matching_ids(text) == "c1 c2 c3 c4 c5"


# --------------------------------------------------------------------------------------------------
# Literals, escaping and value equality

LITERAL_CASES: List[Tuple[str, Connection, bool]] = [
    ("userId eq 'o''brien'", O_BRIEN, True),
    ("userId eq 'o'''", O_BRIEN, False),
    ("length('''') eq 1", C1, True),
    ("length('a''''b') eq 4", C1, True),
    ("length('') eq 0", C1, True),
    ("'it''s' eq concat('it''', 's')", C1, True),
    ("'a and (b, c)' eq 'a and (b, c)'", C1, True),
    ("userId eq 'ALICE'", C1, False),
    ("-1 eq -1", C1, True),
    ("-0 eq 0", C1, True),
    ("9223372036854775807 gt -9223372036854775808", C1, True),
    ("true eq true", C1, True),
    ("true ne false", C1, True),
    ("null eq null", C1, True),
    ("null eq 'a'", C1, False),
    ("null ne 'a'", C1, True),
    ("1 eq true", C1, False),
    ("0 eq false", C1, False),
    ("'1' eq 1", C1, False),
    ("'true' eq true", C1, False),
    ("userId eq connectionId", C1, False),
    ("userId ne connectionId", C4, True),
    ("  userId\teq\n'alice'  ", C1, True),
    ("length( userId )eq 5", C1, True),
]


@pytest.mark.parametrize(("text", "connection", "expected"), LITERAL_CASES)
def test_literal_and_equality(text: str, connection: Connection, expected: bool) -> None:
    assert evaluate(text, connection) is expected


# --------------------------------------------------------------------------------------------------
# Precedence: not > comparison/in > and > or; parentheses override

PRECEDENCE_CASES: List[Tuple[str, bool]] = [
    ("true or false and false", True),
    ("false and true or true", True),
    ("false and false or true and true", True),
    ("true and false or false and true", False),
    ("not false and false", False),
    ("not true or true", True),
    ("not not true", True),
    ("not (true and false)", True),
    ("1 eq 1 and 2 eq 2", True),
    ("1 eq 2 or 2 eq 2", True),
    ("(true or false) and false", False),
    ("(((true)))", True),
    ("not (false)", True),
    ("(1) eq (1)", True),
    ("length(('abc')) eq 3", True),
    ("(not false) eq true", True),
]


@pytest.mark.parametrize(("text", "expected"), PRECEDENCE_CASES)
def test_precedence_and_parentheses(text: str, expected: bool) -> None:
    assert evaluate(text) is expected


HUB_CASES: List[Tuple[str, str]] = [
    # a and b or c and d == (a and b) or (c and d)
    (
        "userId eq 'alice' and connectionId eq 'c2' or userId eq 'bob' and 'room2' in groups",
        "c2 c3",
    ),
    ("userId eq 'alice' and (connectionId eq 'c2' or userId eq 'bob') and 'room2' in groups", ""),
    ("((userId)) eq 'alice'", "c1 c2"),
    ("( userId eq 'bob' )", "c3"),
    ("(length(userId)) gt (5)", "c5"),
    ("not (length(userId) gt 5)", "c1 c2 c3 c4"),
    ("length(userId) lt 100", "c1 c2 c3 c5"),
    # in lists
    ("userId in ('alice')", "c1 c2"),
    ("userId in ('bob', null)", "c3 c4"),
    ("connectionId in ('c1', 'c5', 'zz')", "c1 c5"),
    ("userId in (('alice', 'bob'))", "c1 c2 c3"),
    ("length(userId) in (3, 10)", "c3 c5"),
    ("userId in (connectionId, 'bob')", "c3"),
    ("tolower(userId) in ('user-ab-de')", "c5"),
    ("not (userId in ('alice'))", "c3 c4 c5"),
    ("'room2' in (groups)", "c3 c4"),
    ("'room2' in ((groups))", "c3 c4"),
    ("concat('room', '1') in groups", "c1 c3"),
    ("userId in groups", ""),
    ("null in groups", ""),
    ("'ROOM1' in groups", ""),
    # identifier names are case-insensitive, values are not
    ("UserId eq 'alice'", "c1 c2"),
    ("USERID eq 'bob'", "c3"),
    ("connectionid eq 'c3'", "c3"),
    ("ConnectionID eq 'c3'", "c3"),
    ("'room2' in GROUPS", "c3 c4"),
    ("length(Groups) gt 1", "c3"),
    ("PROTOCOL eq null", "c1 c2 c3 c4 c5"),
]


@pytest.mark.parametrize(("text", "expected"), HUB_CASES)
def test_filter_over_sample_hub(text: str, expected: str) -> None:
    assert matching_ids(text) == expected


CONSTANT_MEMBERSHIP_CASES: List[Tuple[str, bool]] = [
    ("true in (true, 1)", True),
    ("1 in (true)", False),
    ("1 in (1, 'a')", True),
    ("false in (0, null)", False),
    ("null in (null)", True),
    ("5 in ('5')", False),
    ("'a' in ('b', 'c')", False),
]


@pytest.mark.parametrize(("text", "expected"), CONSTANT_MEMBERSHIP_CASES)
def test_membership_uses_typed_equality(text: str, expected: bool) -> None:
    assert evaluate(text) is expected


PROTOCOL_CASES: List[Tuple[str, Connection, bool]] = [
    ("protocol eq 'json.webpubsub.azure.v1'", O_BRIEN, True),
    ("protocol eq null", O_BRIEN, False),
    ("protocol eq null", C1, True),
    ("startswith(protocol, 'json.')", O_BRIEN, True),
    ("startswith(protocol, 'json.')", C1, False),
    ("'vip' in groups", O_BRIEN, True),
]


@pytest.mark.parametrize(("text", "connection", "expected"), PROTOCOL_CASES)
def test_protocol_extension_and_other_collection_types(
    text: str, connection: Connection, expected: bool
) -> None:
    assert evaluate(text, connection) is expected


# --------------------------------------------------------------------------------------------------
# Functions, including null handling (C4 has no user) and out-of-range substring

FUNCTION_CASES: List[Tuple[str, Connection, bool]] = [
    ("length('abc') eq 3", C1, True),
    ("length(groups) eq 2", C3, True),
    ("length(groups) eq 0", C2, True),
    ("length(userId) eq null", C4, True),
    ("length(null) eq null", C1, True),
    ("tolower('AbC') eq 'abc'", C1, True),
    ("toupper('AbC') eq 'ABC'", C1, True),
    ("trim('  a b \t') eq 'a b'", C1, True),
    ("tolower(null) eq null", C1, True),
    ("toupper(userId) eq null", C4, True),
    ("trim(userId) eq null", C4, True),
    ("substring('hello', 1) eq 'ello'", C1, True),
    ("substring('hello', 5) eq ''", C1, True),
    ("substring('hello', 6) eq null", C1, True),
    ("substring('hello', -1) eq null", C1, True),
    ("substring('hello', 1, 3) eq 'ell'", C1, True),
    ("substring('hello', 0, 5) eq 'hello'", C1, True),
    ("substring('hello', 2, 0) eq ''", C1, True),
    ("substring('hello', 3, 3) eq null", C1, True),
    ("substring('hello', 1, -1) eq null", C1, True),
    ("substring('hello', 9, 1) eq null", C1, True),
    ("substring(null, 0) eq null", C1, True),
    ("substring('hello', null) eq null", C1, True),
    ("substring('hello', 0, null) eq null", C1, True),
    ("substring(userId, 0, 1) eq null", C4, True),
    ("concat('a', 'b') eq 'ab'", C1, True),
    ("concat(null, 'b') eq 'b'", C1, True),
    ("concat('a', null) eq 'a'", C1, True),
    ("concat(null, null) eq null", C1, True),
    ("concat(userId, '!') eq '!'", C4, True),
    ("concat(concat('a', 'b'), 'c') eq 'abc'", C1, True),
    ("startswith('hello', 'he')", C1, True),
    ("startswith('hello', 'lo')", C1, False),
    ("startswith('Hello', 'he')", C1, False),
    ("startswith('hello', '')", C1, True),
    ("startswith(null, 'a')", C1, False),
    ("startswith('a', null)", C1, False),
    ("startswith(userId, '')", C4, False),
    ("endswith('hello', 'lo')", C1, True),
    ("endswith('hello', 'he')", C1, False),
    ("endswith(null, null)", C1, False),
    ("contains('hello', 'ell')", C1, True),
    ("contains('hello', 'xyz')", C1, False),
    ("contains(null, 'a')", C1, False),
    ("contains('hello', null)", C1, False),
    ("contains(userId, 'li')", C1, True),
    ("indexof('hello', 'l') eq 2", C1, True),
    ("indexof('hello', 'z') eq -1", C1, True),
    ("indexof('hello', '') eq 0", C1, True),
    ("indexof(null, 'a') eq -1", C1, True),
    ("indexof('a', null) eq -1", C1, True),
    ("indexof(userId, 'a') eq -1", C4, True),
]


@pytest.mark.parametrize(("text", "connection", "expected"), FUNCTION_CASES)
def test_function(text: str, connection: Connection, expected: bool) -> None:
    assert evaluate(text, connection) is expected


ORDERING_CASES: List[Tuple[str, Connection, bool]] = [
    ("length('abc') gt 2", C1, True),
    ("length('abc') gt 3", C1, False),
    ("length('abc') ge 3", C1, True),
    ("length('abc') lt 3", C1, False),
    ("length('abc') le 3", C1, True),
    ("-1 lt 0", C1, True),
    ("2 gt length(userId)", C1, False),
    ("length(userId) ge length(connectionId)", C1, True),
    ("null gt 1", C1, False),
    ("null lt 1", C1, False),
    ("1 le null", C1, False),
    ("length(userId) lt 100", C4, False),
    ("length(userId) ge length(userId)", C4, False),
]


@pytest.mark.parametrize(("text", "connection", "expected"), ORDERING_CASES)
def test_ordering_compares_ints_and_is_false_on_null(
    text: str, connection: Connection, expected: bool
) -> None:
    assert evaluate(text, connection) is expected


# --------------------------------------------------------------------------------------------------
# Syntax errors: the OData parser's texts and positions, quoting the whole filter.
# (filter, detail); the message is "Invalid syntax for '<filter>': <detail> (Parameter 'filter')".

SYNTAX_ERRORS: List[Tuple[str, str]] = [
    # the recorded case: a token left over ends the expression; the position is just after that token
    ("invalid filter", "Syntax error at position 14 in 'invalid filter'."),
    ("userId eq 'a')", "Syntax error at position 14 in 'userId eq 'a')'."),
    ("(true))", "Syntax error at position 7 in '(true))'."),
    ("true not", "Syntax error at position 8 in 'true not'."),
    ("or true", "Syntax error at position 7 in 'or true'."),
    ("true and or false", "Syntax error at position 17 in 'true and or false'."),
    ("eq 'a'", "Syntax error at position 6 in 'eq 'a''."),
    ("userId 'a'", "Syntax error at position 10 in 'userId 'a''."),
    ("userId eq 'o'brien'", "Syntax error at position 18 in 'userId eq 'o'brien''."),
    ("12ab eq 1", "Syntax error at position 4 in '12ab eq 1'."),
    ("userId == 'a'", "Syntax error at position 8 in 'userId == 'a''."),
    ("userId EQ 'a'", "Syntax error at position 9 in 'userId EQ 'a''."),
    ("true AND true", "Syntax error at position 8 in 'true AND true'."),
    ("length (userId) eq 5", "Syntax error at position 8 in 'length (userId) eq 5'."),
    ("userId eq 'a'   x  ", "Syntax error at position 17 in 'userId eq 'a'   x  '."),
    # nothing usable where a value starts: the position is where the token found starts
    (")", "Expression expected at position 0 in ')'."),
    ("userId eq", "Expression expected at position 9 in 'userId eq'."),
    ("userId eq 'a' and", "Expression expected at position 17 in 'userId eq 'a' and'."),
    ("not", "Expression expected at position 3 in 'not'."),
    ("userId in", "Expression expected at position 9 in 'userId in'."),
    ("tolower(userId,) eq 'a'", "Expression expected at position 15 in 'tolower(userId,) eq 'a''."),
    ("() eq 1", "Expression expected at position 1 in '() eq 1'."),
    ("userId eq ,", "Expression expected at position 10 in 'userId eq ,'."),
    # unclosed parentheses
    ("(userId eq 'a'", "')' or operator expected at position 14 in '(userId eq 'a''."),
    ("((true)", "')' or operator expected at position 7 in '((true)'."),
    ("(true true)", "')' or operator expected at position 6 in '(true true)'."),
    ("('a', 'b') eq 'a'", "')' or operator expected at position 4 in '('a', 'b') eq 'a''."),
    ("tolower(userId eq 'a'", "')' or ',' expected at position 21 in 'tolower(userId eq 'a''."),
    ("length(userId ge 1", "')' or ',' expected at position 18 in 'length(userId ge 1'."),
    ("userId in ('alice', 'bob'", "')' or ',' expected at position 25 in 'userId in ('alice', 'bob''."),
    # the lexer: strings, characters, numbers
    ("'abc", "There is an unterminated string literal at position 4 in ''abc'."),
    ("userId eq 'it''s", "There is an unterminated string literal at position 16 in 'userId eq 'it''s'."),
    ('userId eq "alice"', "Syntax error: character '\"' is not valid at position 10 in 'userId eq \"alice\"'."),
    ("+5 eq 5", "Syntax error: character '+' is not valid at position 0 in '+5 eq 5'."),
    ("userId eq 'a' ; true", "Syntax error: character ';' is not valid at position 14 in 'userId eq 'a' ; true'."),
    ("1. eq 1", "A digit was expected at position 2 in '1. eq 1'."),
    ("1e+ eq 1", "A digit was expected at position 3 in '1e+ eq 1'."),
    # lazily read, as OData: a later bad character is not reached when an earlier token already fails
    ("userId 'a' \"", "Syntax error at position 10 in 'userId 'a' \"'."),
]


@pytest.mark.parametrize(("text", "detail"), SYNTAX_ERRORS, ids=short_id)
def test_syntax_error_has_the_odata_text_and_position(text: str, detail: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter(text)
    assert str(caught.value) == f"Invalid syntax for '{text}': {detail} (Parameter 'filter')"


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH + 1, 1000])
@pytest.mark.parametrize(("prefix", "suffix"), [("(", ")"), ("not ", ""), ("tolower(", ")")])
def test_nesting_past_the_limit_exceeds_the_recursion_depth(prefix: str, suffix: str, depth: int) -> None:
    text = nested(prefix, "userId", suffix, depth) + " eq 'a'"
    with pytest.raises(FilterError) as caught:
        compile_filter(text)
    assert str(caught.value) == (f"Invalid syntax for '{text}': Recursion depth exceeded allowed limit. "
                                 "(Parameter 'filter')")


# --------------------------------------------------------------------------------------------------
# What parses but cannot be evaluated: (filter, quoted sub-expression, detail)

SEMANTIC_ERRORS: List[Tuple[str, str, str]] = [
    # unknown names (identifier names are case-insensitive; keywords and functions are not)
    ("foo eq 'x'", "foo", "Token 'foo' is not supported."),
    ("user_id eq 'x'", "user_id", "Token 'user_id' is not supported."),
    ("True", "True", "Token 'True' is not supported."),
    ("length eq 1", "length", "Token 'length' is not supported."),
    ("foo(userId)", "foo(userId)", "Token 'foo' is not supported."),
    ("userId(1) eq 'a'", "userId(1)", "Token 'userId' is not supported."),
    ("ToLower(userId) eq 'a'", "ToLower(userId)", "Token 'ToLower' is not supported."),
    ("true and zzz eq 1 and yyy", "zzz", "Token 'zzz' is not supported."),
    # OData constructs the service does not support
    ("1.5 eq 1", "1.5", "Token '1.5' is not supported."),
    ("2d eq 1", "2d", "Token '2d' is not supported."),
    ("99999999999999999999 eq 1", "99999999999999999999", "Token '99999999999999999999' is not supported."),
    ("9223372036854775808 eq 1", "9223372036854775808", "Token '9223372036854775808' is not supported."),
    ("length(userId) add 1 eq 2", "length(userId) add 1", "Token 'add' is not supported."),
    ("length(userId) mod 2 eq 0", "length(userId) mod 2", "Token 'mod' is not supported."),
    ("-length(userId) eq 1", "-length(userId)", "Token '-' is not supported."),
    ("'a' has groups", "'a' has groups", "Token 'has' is not supported."),
    # wrong number of arguments
    ("length() eq 0", "length()", "Invalid token 'length'."),
    ("tolower('a', 'b') eq 'a'", "tolower('a', 'b')", "Invalid token 'tolower'."),
    ("substring(userId) eq 'a'", "substring(userId)", "Invalid token 'substring'."),
    ("substring('a', 1, 1, 1) eq 'a'", "substring('a', 1, 1, 1)", "Invalid token 'substring'."),
    ("concat('a') eq 'a'", "concat('a')", "Invalid token 'concat'."),
    # type errors quote the offending sub-expression
    ("userId", "userId", "Type 'null', expect 'bool'."),
    ("length(groups)", "length(groups)", "Type 'int', expect 'bool'."),
    ("'abc'", "'abc'", "Type 'string', expect 'bool'."),
    ("null", "null", "Type 'null', expect 'bool'."),
    ("not userId", "not userId", "Type 'null', expect 'bool'."),
    ("not 'x' eq 'x'", "not 'x'", "Type 'string', expect 'bool'."),
    ("userId and true", "userId and true", "Type 'null', expect 'bool'."),
    ("true or 'x'", "true or 'x'", "Type 'string', expect 'bool'."),
    ("true and true and 5", "true and 5", "Type 'int', expect 'bool'."),
    ("true and null", "true and null", "Type 'null', expect 'bool'."),
    ("true lt 1", "true lt 1", "Type 'bool', expect 'int'."),
    ("1 eq 1 gt 0", "1 eq 1 gt 0", "Type 'bool', expect 'int'."),
    ("connectionId ge 1", "connectionId ge 1", "Type 'string', expect 'int'."),
    ("tolower(5) eq 'a'", "tolower(5)", "Type 'int', expect 'string' for argument 1 of 'tolower'."),
    ("tolower(groups) eq 'a'", "tolower(groups)",
     "Type 'collection', expect 'string' for argument 1 of 'tolower'."),
    ("substring('abc', '1') eq 'a'", "substring('abc', '1')",
     "Type 'string', expect 'int' for argument 2 of 'substring'."),
    ("length(5) eq 1", "length(5)", "Type 'int', expect 'string' or 'collection' for argument 1 of 'length'."),
    ("groups eq 'a'", "groups eq 'a'", "Type 'collection', expect a single value."),
    ("groups in ('a')", "groups in ('a')", "Type 'collection', expect a single value."),
    ("'a' in (groups, 'b')", "'a' in (groups, 'b')", "Type 'collection', expect a single value."),
    ("userId in 'alice'", "userId in 'alice'", "Type 'string', expect 'collection'."),
    ("userId in userId", "userId in userId", "Type 'null', expect 'collection'."),
]


@pytest.mark.parametrize(("text", "sub_expression", "detail"), SEMANTIC_ERRORS, ids=short_id)
def test_filter_that_parses_but_cannot_run_quotes_the_offending_part(
    text: str, sub_expression: str, detail: str
) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter(text)
    error = caught.value
    assert (error.sub_expression, error.detail) == (sub_expression, detail)
    assert str(error) == f"Invalid syntax for '{sub_expression}': {detail} (Parameter 'filter')"


def test_a_syntax_error_wins_over_an_earlier_unknown_name() -> None:
    # OData parses the whole text before anything is resolved.
    with pytest.raises(FilterError) as caught:
        compile_filter("foo eq 'x' )")
    assert caught.value.detail == "Syntax error at position 12 in 'foo eq 'x' )'."


ODATA_FORMS: List[Tuple[str, bool]] = [
    ("- 1 eq -1", True),  # '-' and a number after spaces are one negative literal
    ("5L eq 5", True),  # an Int64 literal is an integer
    ("1 eq 1 eq true", True),  # comparisons chain from the left
    ("userId in ('alice') eq true", True),  # 'in' binds tighter than 'eq'
    ("not 'room2' in groups", True),  # ... and 'not' applies to the membership
    ("userId in ()", False),
    ("not(false)", True),
]


@pytest.mark.parametrize(("text", "expected"), ODATA_FORMS)
def test_forms_the_odata_parser_accepts(text: str, expected: bool) -> None:
    assert evaluate(text) is expected


def test_filter_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        compile_filter("userId eq")


# --------------------------------------------------------------------------------------------------
# Limits

MANY_NAMES_THEN_BOB = [f"u{n}" for n in range(999)] + ["bob"]
WITHIN_LIMITS: List[Tuple[str, str]] = [
    ("100 nested parentheses", nested("(", "userId eq 'bob'", ")", MAX_NESTING_DEPTH)),
    ("100 nested nots", nested("not ", "true", "", MAX_NESTING_DEPTH) + " and userId eq 'bob'"),
    ("100 nested calls", nested("trim(", "userId", ")", MAX_NESTING_DEPTH) + " eq 'bob'"),
    ("1000 or clauses", " or ".join(f"userId eq '{name}'" for name in MANY_NAMES_THEN_BOB)),
    ("1000 and clauses", " and ".join(["true"] * 999) + " and userId eq 'bob'"),
    ("1000-item in list", f"userId in ({', '.join(repr(name) for name in MANY_NAMES_THEN_BOB)})"),
]


@pytest.mark.parametrize(
    ("text",), [(text,) for _, text in WITHIN_LIMITS], ids=[name for name, _ in WITHIN_LIMITS]
)
def test_large_filters_within_limits_work(text: str) -> None:
    assert matching_ids(text) == "c3"


def test_exhausted_call_stack_gives_filter_error_not_recursion_error() -> None:
    # A caller already deep in its own stack must still get a 400, never a RecursionError.
    text = nested("(", "userId eq 'deep-stack'", ")", MAX_NESTING_DEPTH)
    previous_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)
    try:
        with pytest.raises(FilterError) as caught:
            compile_filter(text)
    finally:
        sys.setrecursionlimit(previous_limit)
    assert caught.value.detail == "The filter is nested too deeply."
