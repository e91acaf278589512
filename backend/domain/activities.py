"""Normalization of low-carbon activities: CO2e avoided against a stated baseline, and the actual
emissions that belong in the company's Scope 3 inventory (GHG Protocol categories 5, 6 and 7).

Arithmetic is exact (:class:`~decimal.Decimal`) and each reported figure is rounded once, to whole
grams, half to even (:data:`ROUNDING`), so a result can be recomputed by hand from the factors and
inputs returned with it. Avoided emissions are never netted off the inventory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from backend.domain.errors import InvalidInput
from backend.domain.factors import Factor, FactorSet

ROUNDING = ROUND_HALF_EVEN
"""The one rounding rule: exact decimals, rounded once per reported gram figure, half to even."""

GRAMS_PER_KG = Decimal(1000)
SCOPE3_COMMUTING = 7
SCOPE3_BUSINESS_TRAVEL = 6
SCOPE3_WASTE = 5


@dataclass(frozen=True)
class Calculation:
    co2e_avoided_g: int
    co2e_scope3_g: int
    scope3_category: int | None
    baseline: str | None
    inputs: dict[str, str]
    factors: list[dict[str, Any]]
    formula: str
    credited: bool
    """False when the methodology's eligibility rules deny credit (avoided is then 0)."""
    note: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "inputs": self.inputs,
            "factors": self.factors,
            "formula": self.formula,
            "rounding": "exact decimal arithmetic, rounded once to whole grams, half to even",
            "credited": self.credited,
            "note": self.note,
        }


def to_grams(kg: Decimal) -> int:
    return int((kg * GRAMS_PER_KG).quantize(Decimal(1), rounding=ROUNDING))


def points_for(co2e_avoided_g: int, points_per_kg: int) -> int:
    """Carbon points for an avoided mass, rounded down so points never exceed the verified grams."""
    return int(
        (Decimal(co2e_avoided_g) * points_per_kg / GRAMS_PER_KG).to_integral_value(rounding=ROUND_FLOOR)
    )


def _factor_entry(factor: Factor, role: str) -> dict[str, Any]:
    return {"role": role, **factor.public()}


def _distance_trip(activity_type: str, quantities: Mapping[str, Any], factor_set: FactorSet) -> Calculation:
    rules = factor_set.rules(activity_type)
    distance_km = Decimal(str(quantities["distance_km"]))
    max_km = Decimal(str(rules.get("max_distance_km", "1000")))
    if distance_km <= 0 or distance_km > max_km:
        raise InvalidInput(
            "distance_km", f"must be greater than 0 and at most {max_km} km for {activity_type}"
        )
    baseline_name = str(factor_set.methodology["default_baseline"])
    baseline_rules = factor_set.methodology["baselines"][baseline_name]
    baseline_factor = factor_set.factor(baseline_rules["factor"])
    occupancy = Decimal(str(baseline_rules.get("occupancy", 1)))
    actual_factor = factor_set.factor(rules["actual_factor"])

    baseline_kg = distance_km * baseline_factor.value_kg / occupancy
    actual_kg = distance_km * actual_factor.value_kg
    min_km = Decimal(str(rules.get("min_distance_km", "0")))
    credited = distance_km >= min_km
    avoided_kg = max(Decimal(0), baseline_kg - actual_kg) if credited else Decimal(0)
    purpose = str(quantities.get("purpose") or "commute")
    category = SCOPE3_BUSINESS_TRAVEL if purpose == "business" else int(rules["scope3_category"])
    return Calculation(
        co2e_avoided_g=to_grams(avoided_kg),
        co2e_scope3_g=to_grams(actual_kg),
        scope3_category=category,
        baseline=baseline_name,
        inputs={"distance_km": str(distance_km), "purpose": purpose, "baseline_occupancy": str(occupancy)},
        factors=[_factor_entry(actual_factor, "actual"), _factor_entry(baseline_factor, "baseline")],
        formula=(
            "avoided = distance_km × baseline / occupancy − distance_km × actual; "
            "scope3 = distance_km × actual"
        ),
        credited=credited,
        note="" if credited else f"trips shorter than {min_km} km earn no avoided-emission credit",
    )


CALCULATORS = {"distance": _distance_trip}


def normalize(activity_type: str, quantities: Mapping[str, Any], factor_set: FactorSet) -> Calculation:
    """Computes an activity's avoided and Scope 3 emissions under ``factor_set``."""
    try:
        rules = factor_set.rules(activity_type)
    except LookupError:
        raise InvalidInput(
            "type", f"activity type {activity_type!r} is not supported by {factor_set.version}"
        ) from None
    return CALCULATORS[str(rules["kind"])](activity_type, quantities, factor_set)
