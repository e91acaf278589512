"""Derivations as data: a tiny arithmetic language over factor and parameter ids.

A derived factor states its value *and* the expression that gives it, e.g.
``rail.underground.london × grid.cn.national.2023 / grid.uk.2025``; the loader evaluates the
expression with exact decimals and refuses the set when the stated value is not the result rounded
to the stated decimals. So a reader sees the number, an auditor sees where it came from, and a typo
in either is caught on load.

Grammar: ``+ - * / × ÷ −``, parentheses, decimal numbers, ids, and ``min(…)`` / ``max(…)``.
Ids may contain ``-`` (``rail.metro.cn-beijing``), so subtraction is written with spaces around
the operator.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, DivisionByZero, InvalidOperation

MAX_EXPRESSION_LENGTH = 500
"""Derivations are one-line formulas; anything longer is a data error, not a methodology."""

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_.]*(?:-[A-Za-z0-9_.]+)*)"
    r"|(?P<op>[-+*/×÷−(),]))"
)
_OPS = {"×": "*", "÷": "/", "−": "-"}
_FUNCTIONS: dict[str, Callable[[list[Decimal]], Decimal]] = {"min": min, "max": max}


class DerivationError(ValueError):
    """The expression is malformed or names something unknown."""


def tokenize(expression: str) -> list[tuple[str, str]]:
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise DerivationError(f"longer than {MAX_EXPRESSION_LENGTH} characters")
    tokens: list[tuple[str, str]] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            at = len(text) - len(text[position:].lstrip())
            raise DerivationError(f"unexpected character {text[at]!r} at position {at + 1}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        tokens.append((kind, _OPS.get(value, value)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], resolve: Callable[[str], Decimal]) -> None:
        self.tokens = tokens
        self.position = 0
        self.resolve = resolve
        self.names: list[str] = []

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (expected is not None and token[1] != expected):
            raise DerivationError(f"expected {expected or 'more'} at token {self.position + 1}")
        self.position += 1
        return token

    def expression(self) -> Decimal:
        value = self.term()
        while (token := self.peek()) is not None and token[1] in "+-":
            self.take()
            value = value + self.term() if token[1] == "+" else value - self.term()
        return value

    def term(self) -> Decimal:
        value = self.atom()
        while (token := self.peek()) is not None and token[1] in "*/":
            self.take()
            operand = self.atom()
            try:
                value = value * operand if token[1] == "*" else value / operand
            except (DivisionByZero, InvalidOperation):
                raise DerivationError("division by zero") from None
        return value

    def atom(self) -> Decimal:
        kind, value = self.take()
        if kind == "number":
            return Decimal(value)
        if value == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind == "name":
            following = self.peek()
            if following is not None and following[1] == "(":
                return self.call(value)
            self.names.append(value)
            try:
                return self.resolve(value)
            except KeyError:
                raise DerivationError(f"unknown id {value!r}") from None
        raise DerivationError(f"unexpected {value!r}")

    def call(self, name: str) -> Decimal:
        function = _FUNCTIONS.get(name)
        if function is None:
            raise DerivationError(f"unknown function {name!r} (known: {', '.join(_FUNCTIONS)})")
        self.take("(")
        arguments = [self.expression()]
        while (token := self.peek()) is not None and token[1] == ",":
            self.take()
            arguments.append(self.expression())
        self.take(")")
        return function(arguments)


def evaluate(expression: str, resolve: Callable[[str], Decimal]) -> tuple[Decimal, list[str]]:
    """The exact value of ``expression`` and the ids it refers to; ``resolve`` raises KeyError."""
    parser = _Parser(tokenize(expression), resolve)
    if not parser.tokens:
        raise DerivationError("empty expression")
    value = parser.expression()
    leftover = parser.peek()
    if leftover is not None:
        raise DerivationError(f"unexpected {leftover[1]!r} after a complete expression")
    return value, parser.names
