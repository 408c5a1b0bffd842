"""Type checker and code generator of the OData filter language: syntax tree to a predicate."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Sequence

from ._filter_language import (
    _BOOL_ONLY, _COLLECTION, _INT_OR_NULL, _NULL, _REPORT_ORDER, _SINGLE_VALUE, FilterError, FilterPredicate,
    FilterTarget, _Evaluator, _literal_type, _LiteralValue, _TypeSet,
)
from ._filter_parser import (
    _Call, _Comparison, _Identifier, _List, _Literal, _Logical, _Membership, _Node, _Not,
)

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
        container = self._compile(node.container)
        self._require(node, container.types, frozenset({_COLLECTION}))
        read_groups = container.evaluate
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
