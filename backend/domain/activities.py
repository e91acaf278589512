"""Normalization of low-carbon activities: CO2e avoided against a stated baseline, and the actual
emissions that belong in the company's Scope 3 inventory (GHG Protocol categories 5, 6 and 7).

:func:`normalize` picks the calculator the factor set's methodology names for the activity
(``kind``); the calculators live in :mod:`backend.domain.travel` and
:mod:`backend.domain.consumption`, the result type and the one rounding rule in
:mod:`backend.domain.calculation`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from backend.domain import consumption, travel
from backend.domain.calculation import (
    GRAMS_PER_KG,
    ROUNDING,
    SCOPE3_BUSINESS_TRAVEL,
    SCOPE3_COMMUTING,
    SCOPE3_WASTE,
    Calculation,
    Quantities,
    points_for,
    to_grams,
)
from backend.domain.errors import ConfigurationError, InvalidInput
from backend.domain.factors import FactorSet

__all__ = [
    "ACTIVITY_KINDS",
    "ACTIVITY_TYPES",
    "GRAMS_PER_KG",
    "REQUIRED_OPTIONS",
    "ROUNDING",
    "SCOPE3_BUSINESS_TRAVEL",
    "SCOPE3_COMMUTING",
    "SCOPE3_WASTE",
    "Calculation",
    "normalize",
    "points_for",
    "to_grams",
]

Calculator = Callable[[str, Quantities, FactorSet, str], Calculation]

CALCULATORS: dict[str, Calculator] = {
    "distance": travel.distance_trip,
    "electric_distance": travel.electric_trip,
    "flight": travel.flight,
    "recycling": consumption.recycling,
    "reuse": consumption.reuse,
    "per_item": consumption.per_item,
    "per_meal": consumption.per_meal,
    "energy": consumption.energy,
}

_TRAVEL = frozenset({"distance", "electric_distance"})
_TRAVEL_TYPES = ("metro", "bus", "bus_electric", "rail", "walk", "bike", "bike_shared", "ebike", "ev", "taxi")
ACTIVITY_KINDS: dict[str, frozenset[str]] = {
    **dict.fromkeys(_TRAVEL_TYPES, _TRAVEL),
    "carpool": frozenset({"distance"}),
    "flight": frozenset({"flight"}),
    "recycling": frozenset({"recycling"}),
    "second_hand": frozenset({"reuse"}),
    "no_disposables": frozenset({"per_item"}),
    "clean_plate": frozenset({"per_meal"}),
    "energy_saving": frozenset({"energy"}),
}
"""Every activity type of the public API and the calculators its methodology may use: a factor
set must cover them all, so an activity accepted today is computable under every later set."""

ACTIVITY_TYPES: tuple[str, ...] = tuple(ACTIVITY_KINDS)

REQUIRED_OPTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "recycling": ("materials", frozenset({"paper", "plastic", "glass", "metal", "electronics", "textile"})),
    "no_disposables": ("items", frozenset({"cup", "cutlery", "bag"})),
}
"""Options the public API promises; a factor set must give each a factor."""


def normalize(
    activity_type: str, quantities: Quantities, factor_set: FactorSet, *, baseline: str | None = None
) -> Calculation:
    """Computes an activity's avoided and Scope 3 emissions under ``factor_set``.

    ``baseline`` is the park's choice (``CARBON_BASELINE``); ``None`` takes the set's default.
    A methodology may fix another baseline for an activity whose plausible substitute differs.
    """
    try:
        rules = factor_set.rules(activity_type)
    except LookupError:
        raise InvalidInput(
            "type", f"activity type {activity_type!r} is not supported by {factor_set.version}"
        ) from None
    park_baseline = choose_baseline(baseline, factor_set)
    calc = CALCULATORS[str(rules["kind"])](activity_type, quantities, factor_set, park_baseline)
    if factor_set.schema >= 2:
        calc = _schema2_defaults(calc)
    return calc


def choose_baseline(setting: str | None, factor_set: FactorSet) -> str:
    """The park's baseline under ``factor_set``: the first of ``CARBON_BASELINE``'s comma-separated
    choices the set defines (``shenzhen,city_mode_mix``: Shenzhen's methodology from the set that
    ships it, the 2026.1 mix before), or the set's default when the setting is empty."""
    choices = [c.strip() for c in (setting or "").split(",") if c.strip()]
    if not choices:
        return factor_set.default_baseline
    for choice in choices:
        if choice in factor_set.baseline_names:
            return choice
    raise ConfigurationError(
        f"CARBON_BASELINE {setting!r}: none of these baselines is defined by factor set {factor_set.version} "
        f"(it defines {', '.join(factor_set.baseline_names)}); list one it defines, e.g. "
        f"{setting},{factor_set.default_baseline}"
    )


SEPARATE_ROLES = frozenset({"displaced_primary", "closed_loop_source", "radiative_forcing"})
"""Roles of figures reported separately: they shape neither avoided emissions nor points."""


def _schema2_defaults(calc: Calculation) -> Calculation:
    """Schema 2 results always say whether a provisional value shapes them (no points then) and
    split Scope 3 by gas; calculators that do not fill these in get them here."""
    provisional = calc.provisional
    if provisional is None:
        provisional = any(
            f["status"] == "provisional" for f in calc.factors if f["role"] not in SEPARATE_ROLES
        )
    by_gas = calc.scope3_by_gas
    if by_gas is None and calc.co2e_scope3_g == 0:
        by_gas = {"CO2": 0, "CH4": 0, "N2O": 0, "gwp": "-"}
    return replace(calc, provisional=provisional, scope3_by_gas=by_gas)
