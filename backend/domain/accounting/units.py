"""Explicit unit conversion: every quantity is converted to one base unit per dimension, by exact
decimal ratios, and an unknown unit is refused rather than guessed.

A quantity arrives either in its base field (``distance_km``, ``weight_kg``, ``duration_min``,
``kwh``) or as a value plus unit (``distance`` + ``distance_unit``); giving both, or a unit without
a value, is an error naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from backend.domain.errors import InvalidInput


@dataclass(frozen=True)
class Dimension:
    name: str
    base_unit: str
    ratios: Mapping[str, tuple[Decimal, Decimal]]
    """unit → (numerator, denominator): one unit is numerator/denominator base units, exactly."""

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(self.ratios)

    def _ratio(self, unit: str, field: str) -> tuple[Decimal, Decimal]:
        try:
            return self.ratios[unit]
        except (KeyError, TypeError):
            raise InvalidInput(
                field, f"unknown {self.name} unit {unit!r}; use one of {', '.join(self.units)}"
            ) from None

    def to_base(self, value: Decimal, unit: str, field: str = "unit") -> Decimal:
        numerator, denominator = self._ratio(unit, field)
        return value * numerator / denominator

    def from_base(self, value: Decimal, unit: str, field: str = "unit") -> Decimal:
        numerator, denominator = self._ratio(unit, field)
        return value * denominator / numerator


def _ratios(**units: tuple[str, str]) -> dict[str, tuple[Decimal, Decimal]]:
    return {unit: (Decimal(n), Decimal(d)) for unit, (n, d) in units.items()}


DISTANCE = Dimension("distance", "km", _ratios(km=("1", "1"), m=("1", "1000"), mi=("1.609344", "1")))
"""The international mile is exactly 1.609344 km."""
WEIGHT = Dimension("weight", "kg", _ratios(kg=("1", "1"), g=("1", "1000"), t=("1000", "1")))
DURATION = Dimension("duration", "min", _ratios(min=("1", "1"), h=("60", "1"), s=("1", "60")))
ENERGY = Dimension("energy", "kWh", _ratios(kWh=("1", "1"), Wh=("1", "1000"), MWh=("1000", "1")))


@dataclass(frozen=True)
class Measured:
    value: Decimal
    """In the dimension's base unit."""
    field: str
    """The field the caller used, so errors about the value name what they sent."""
    given: str
    """What was sent, e.g. ``5 mi``, recorded with the calculation's inputs."""


def parse_decimal(raw: Any, field: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (int, str, Decimal, float)):
        raise InvalidInput(field, "must be a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise InvalidInput(field, f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise InvalidInput(field, "must be a finite number")
    return value


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``12.4``, ``10``, ``0.01``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def read_quantity(
    quantities: Mapping[str, Any],
    dimension: Dimension,
    base_field: str,
    generic_field: str,
    *,
    required: bool = True,
) -> Measured | None:
    """Reads a positive quantity from ``base_field`` or ``generic_field`` + ``<generic>_unit``."""
    unit_field = f"{generic_field}_unit"
    base = quantities.get(base_field)
    generic = quantities.get(generic_field)
    unit = quantities.get(unit_field)
    if base is not None and (generic is not None or unit is not None):
        raise InvalidInput(
            generic_field if generic is not None else unit_field,
            f"give either {base_field} or {generic_field} with {unit_field}, not both",
        )
    if base is not None:
        value = parse_decimal(base, base_field)
        measured = Measured(value, base_field, f"{plain(value)} {dimension.base_unit}")
    elif generic is not None:
        if unit is None:
            raise InvalidInput(
                unit_field, f"is required with {generic_field}: one of {', '.join(dimension.units)}"
            )
        raw = parse_decimal(generic, generic_field)
        converted = dimension.to_base(raw, unit, unit_field)
        measured = Measured(converted, generic_field, f"{plain(raw)} {unit}")
    elif unit is not None:
        raise InvalidInput(generic_field, f"is required with {unit_field}")
    elif required:
        raise InvalidInput(base_field, f"is required (or {generic_field} with {unit_field})")
    else:
        return None
    if measured.value <= 0:
        raise InvalidInput(measured.field, "must be greater than 0")
    return measured
