"""The derivation language of derived factors."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from emission_factors.derivation import DerivationError, evaluate

VALUES = {"a": Decimal("0.5"), "rail.metro.cn-beijing": Decimal("0.0614"), "b": Decimal(2)}


def test_arithmetic_with_ids_containing_hyphens() -> None:
    value, names = evaluate("rail.metro.cn-beijing × 10 ÷ b + a", VALUES.__getitem__)
    assert value == Decimal("0.0614") * 10 / 2 + Decimal("0.5")
    assert names == ["rail.metro.cn-beijing", "b", "a"]


def test_precedence_parentheses_subtraction_and_min() -> None:
    assert evaluate("1 + 2 * 3", VALUES.__getitem__)[0] == 7
    assert evaluate("(1 + 2) * 3", VALUES.__getitem__)[0] == 9
    assert evaluate("b - a", VALUES.__getitem__)[0] == Decimal("1.5")
    assert evaluate("b − a", VALUES.__getitem__)[0] == Decimal("1.5")
    assert evaluate("min(b, a, 3)", VALUES.__getitem__)[0] == Decimal("0.5")


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("a +", "expected more"),
        ("unknown * 2", "unknown id 'unknown'"),
        ("a / 0", "division by zero"),
        ("a $ b", "unexpected character '$' at position 3"),
        ("sqrt(a)", "unknown function 'sqrt'"),
        ("a b", "unexpected 'b'"),
        ("", "empty expression"),
        ("(a", "expected )"),
    ],
)
def test_malformed_expressions(expression: str, problem: str) -> None:
    with pytest.raises(DerivationError, match=re.escape(problem)):
        evaluate(expression, VALUES.__getitem__)
