"""Normalization of low-carbon activities: CO2e avoided against a stated baseline, and the actual
emissions that belong in the company's Scope 3 inventory (GHG Protocol categories 5, 6 and 7).

:func:`normalize` picks the calculator the factor set's methodology names for the activity
(``kind``) among those the activity-type registry (:mod:`backend.domain.accounting.activity_types`) allows
it; the calculators live in :mod:`backend.domain.accounting.travel` and
:mod:`backend.domain.accounting.consumption`, the result type and the one rounding rule in
:mod:`backend.domain.accounting.calculation`.
"""

from __future__ import annotations

from dataclasses import replace

from backend.domain.accounting import activity_types
from backend.domain.accounting.activity_types import Calculator
from backend.domain.accounting.calculation import (
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
from backend.domain.accounting.factors import FactorSet
from backend.domain.errors import ConfigurationError, InvalidInput

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

CALCULATORS: dict[str, Calculator] = activity_types.calculators_of(activity_types.REGISTRY)
"""Every calculator, by the ``kind`` a methodology names (derived from the registry)."""

ACTIVITY_KINDS: dict[str, frozenset[str]] = {
    name: frozenset(t.calculators) for name, t in activity_types.REGISTRY.items()
}
"""Every activity type of the public API and the calculators its methodology may use: a factor
set must cover every type from the type's ``since`` on, so an activity accepted today is
computable under every later set."""

ACTIVITY_TYPES: tuple[str, ...] = tuple(activity_types.REGISTRY)

REQUIRED_OPTIONS: dict[str, tuple[str, frozenset[str]]] = {
    name: t.promised_options for name, t in activity_types.REGISTRY.items() if t.promised_options is not None
}
"""Options the public API promises; a factor set must give each a factor."""


def calculator_for(activity_type: str, kind: str, factor_set: FactorSet) -> Calculator:
    """The calculator ``factor_set``'s methodology picks (``kind``) for ``activity_type``, one the
    registry allows for the type."""
    entry = activity_types.REGISTRY.get(activity_type)
    if entry is None:
        raise InvalidInput(
            "type", f"activity type {activity_type!r} is not supported by {factor_set.version}"
        )
    try:
        return entry.calculators[kind]
    except KeyError:
        raise ConfigurationError(
            f"factor set {factor_set.version} computes {activity_type} with {kind!r}, "
            f"not one of {sorted(entry.calculators)}"
        ) from None


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
    calc = calculator_for(activity_type, str(rules["kind"]), factor_set)(
        activity_type, quantities, factor_set, park_baseline
    )
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
