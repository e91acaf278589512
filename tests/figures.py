"""Figures of activities recorded at "now" in tests: the built-in set in force then decides them.

Tests that record at the real current time cannot know which built-in factor set will compute
their activities (park-default-2026.1 until 2027-01-01, park-default-2027.1 after). They state the
2026.1 figures they were written with (hand-checked in tests/unit/domain/accounting/test_worked_examples.py)
and
take the later set's from the domain calculation, itself hand-checked in
tests/unit/domain/accounting/test_worked_examples_2027.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.domain.accounting.activities import normalize
from backend.domain.accounting.calculation import points_for
from backend.services.accounting.factor_sets import set_in_force

FIRST = "park-default-2026.1"

RIDE_OVER_SELF_REPORT_LIMIT: dict[str, Any] = {"type": "bike", "distance_km": 25}
"""A bare self-report flagged for review in every built-in set by RecognitionRules' 2 kg limit on
unevidenced credit alone (no other rule): 25 km by bike avoids 2,702 g under 2026.1 and 2,596 g
under 2027.1, within the bike's 30 km review distance (so do rides up to 4 km longer). A metro
trip no longer serves: 2027.1 credits about 20.5 g per metro km, so no metro self-report reaches
2 kg within the metro's 60 km review distance. tests/unit/test_figures_helpers.py checks the ride
against every built-in set."""


def in_force(at: datetime) -> str:
    return set_in_force(at).version


def figures(
    body: dict[str, Any],
    at: datetime,
    written_for_2026_1: tuple[int, int, int | None],
    baseline: str | None = None,
) -> tuple[int, int, int | None]:
    """(avoided g, Scope 3 g, category) of ``body`` recorded at ``at``."""
    factor_set = set_in_force(at)
    if factor_set.version == FIRST:
        return written_for_2026_1
    quantities = {k: v for k, v in body.items() if k not in ("type", "occurred_at")}
    calc = normalize(str(body["type"]), quantities, factor_set, baseline=baseline)
    return calc.co2e_avoided_g, calc.co2e_scope3_g, calc.scope3_category


def points(body: dict[str, Any], at: datetime, avoided_g: int, points_per_kg: int = 100) -> int:
    """Points before caps: none where a provisional value shapes the credit (2027.1 on)."""
    factor_set = set_in_force(at)
    if factor_set.version != FIRST:
        quantities = {k: v for k, v in body.items() if k not in ("type", "occurred_at")}
        if normalize(str(body["type"]), quantities, factor_set).provisional:
            return 0
    return points_for(avoided_g, points_per_kg)
