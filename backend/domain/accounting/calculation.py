"""The result of normalizing one activity, and the one rounding rule.

Arithmetic is exact (:class:`~decimal.Decimal`) and each reported figure is rounded once, to whole
grams, half to even (:data:`ROUNDING`), so a result can be recomputed by hand from the factors and
inputs returned with it. Avoided emissions are never netted off the inventory, and figures a
methodology reports separately (a recycling credit, aviation's radiative forcing) stay out of both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from backend.domain.accounting.factors import GASES, Factor, Parameter
from backend.domain.accounting.units import parse_decimal
from backend.domain.errors import InvalidInput

ROUNDING = ROUND_HALF_EVEN
"""The one rounding rule: exact decimals, rounded once per reported gram figure, half to even."""
ROUNDING_TEXT = "exact decimal arithmetic, rounded once to whole grams, half to even"

GRAMS_PER_KG = Decimal(1000)
KG_PER_T = Decimal(1000)
SCOPE3_WASTE = 5
SCOPE3_BUSINESS_TRAVEL = 6
SCOPE3_COMMUTING = 7

Quantities = Mapping[str, Any]


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
    reported_separately: dict[str, int] = field(default_factory=dict)
    """Whole grams a methodology reports beside, never inside, the two figures above."""
    gas_basis: str = "CO2e"
    scope3_by_gas: dict[str, Any] | None = None
    """Schema 2 sets: the Scope 3 grams per gas (CO2, CH4, N2O, each in CO2e on the named GWP
    set) where the source splits its factor, else ``unsplit_g``; rounded per gas, so the parts
    may differ from ``co2e_scope3_g`` by a gram."""
    provisional: bool | None = None
    """Schema 2 sets: True when a provisional factor or parameter shapes the avoided figure; such
    an activity earns no points until the value is verified (a later set)."""
    claim_notice: dict[str, str] | None = None
    """Schema 2 sets: the double-claiming notice shown with travel credits (English, Chinese)."""

    def public(self) -> dict[str, Any]:
        out = {
            "baseline": self.baseline,
            "inputs": self.inputs,
            "factors": self.factors,
            "formula": self.formula,
            "rounding": ROUNDING_TEXT,
            "credited": self.credited,
            "note": self.note,
            "reported_separately": self.reported_separately,
            "gas_basis": self.gas_basis,
        }
        # Absent for schema-1 sets, so their results keep the bytes they were logged with.
        if self.scope3_by_gas is not None:
            out["scope3_by_gas"] = self.scope3_by_gas
        if self.provisional is not None:
            out["provisional"] = self.provisional
        if self.claim_notice is not None:
            out["claim_notice"] = self.claim_notice
        return out


def to_grams(kg: Decimal) -> int:
    return int((kg * GRAMS_PER_KG).quantize(Decimal(1), rounding=ROUNDING))


def points_for(co2e_avoided_g: int, points_per_kg: int) -> int:
    """Carbon points for an avoided mass, rounded down so points never exceed the verified grams."""
    return int(
        (Decimal(co2e_avoided_g) * points_per_kg / GRAMS_PER_KG).to_integral_value(rounding=ROUND_FLOOR)
    )


def entry(item: Factor | Parameter, role: str) -> dict[str, Any]:
    """One applied factor or parameter as the calculation reports it."""
    return {"role": role, **item.public()}


def gas_basis(items: Sequence[Factor | Parameter]) -> str:
    bases = {item.gas_basis for item in items if isinstance(item, Factor)}
    if bases == {"CO2"}:
        return "CO2"
    if "CO2" in bases:
        return "CO2e (includes CO2-only factors, counted as CO2e)"
    return "CO2e"


CLAIM_NOTICE = {
    "en": "This reduction is credited by your park ledger. Do not also claim the same trip on a city "
    "carbon-inclusion platform (Beijing MaaS 绿动全城, Shenzhen 低碳星球, 碳惠天府 …): one trip, one "
    "credit. Employers must not resell or report it as an offset.",
    "zh": "本条减排量已由园区碳账本计入。同一次出行请勿再在城市碳普惠平台（北京MaaS绿动全城、深圳低碳星球、"
    "碳惠天府等）重复申领：一次出行只计一次。企业不得将其作为抵消量出售或申报。",
}
"""Shown with every travel credit of a schema-2 set (docs/emission-factors.md, double counting)."""


def by_gas(items: Sequence[tuple[Factor, Decimal]], scope3_g: int) -> dict[str, Any]:
    """Scope 3 grams per gas: each factor's per-gas values × its quantity, rounded per gas.

    A CO2-only factor (MEE grid, city figures) is all CO2; a CO2e factor the source does not split
    (DEFRA waste) makes the whole figure ``unsplit_g``."""
    grams: dict[str, Decimal] = {gas: Decimal(0) for gas in GASES}
    gwp = sorted({f.gwp for f, _ in items if f.gwp != "-"})
    for factor, quantity in items:
        if factor.gases is not None:
            for gas, value in factor.gases.items():
                grams[gas] += value * quantity
        elif factor.gas_basis == "CO2":
            grams["CO2"] += factor.value_kg * quantity
        elif factor.value_kg * quantity != 0:
            return {"unsplit_g": scope3_g, "gwp": "/".join(gwp) or "-"}
    return {**{gas: to_grams(kg) for gas, kg in grams.items()}, "gwp": "/".join(gwp) or "-"}


def any_provisional(items: Sequence[Factor | Parameter]) -> bool:
    return any(item.status == "provisional" for item in items)


def rule_decimal(rules: Mapping[str, Any], key: str, default: str) -> Decimal:
    return Decimal(str(rules.get(key, default)))


def read_count(quantities: Quantities, field_name: str, maximum: int, minimum: int = 1) -> int:
    """A whole number of things (items, meals, occupants) within the methodology's bounds."""
    raw = quantities.get(field_name)
    if raw is None:
        raise InvalidInput(field_name, "is required")
    value = parse_decimal(raw, field_name)
    if value != value.to_integral_value():
        raise InvalidInput(field_name, "must be a whole number")
    if not minimum <= value <= maximum:
        raise InvalidInput(field_name, f"must be between {minimum} and {maximum}")
    return int(value)


def choose(
    quantities: Quantities, field_name: str, options: Mapping[str, Any], default: str | None = None
) -> str:
    """One of the methodology's named options (a material, an item, a fuel), or a clear error."""
    raw = quantities.get(field_name, default)
    if raw is None:
        raise InvalidInput(field_name, f"is required: one of {', '.join(sorted(options))}")
    if not isinstance(raw, str) or raw not in options:
        raise InvalidInput(field_name, f"{raw!r} is not one of {', '.join(sorted(options))}")
    return raw


def at_least_zero(kg: Decimal) -> Decimal:
    """Avoided emissions are never negative: a mode worse than its baseline earns nothing."""
    return max(Decimal(0), kg)
