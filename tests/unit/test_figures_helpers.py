"""The test helpers' fixed activities keep the meaning their docstrings give them in every built-in set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.domain.accounting.activities import normalize
from backend.domain.recording.recognition import RecognitionRules, assess, footprint
from emission_factors.loader import builtin_versions, load_builtin_set
from tests.figures import RIDE_OVER_SELF_REPORT_LIMIT


@pytest.mark.parametrize("longer_km", [0, 4])
@pytest.mark.parametrize("version", builtin_versions())
def test_the_ride_over_the_self_report_limit_is_flagged_by_that_limit_alone(
    version: str, longer_km: int
) -> None:
    factor_set = load_builtin_set(version)
    kind = str(RIDE_OVER_SELF_REPORT_LIMIT["type"])
    quantities = {"distance_km": RIDE_OVER_SELF_REPORT_LIMIT["distance_km"] + longer_km}
    calc = normalize(kind, quantities, factor_set)
    rules = RecognitionRules()
    assert calc.co2e_avoided_g > rules.self_report_auto_max_g
    assert not calc.provisional  # an approved ride earns points
    mine = footprint("a-1", kind, datetime(2027, 3, 1, tzinfo=UTC), quantities, "self_reported")
    verdict = assess(kind, quantities, mine, calc.co2e_avoided_g, [], 0, rules)
    assert verdict.status == "flagged"
    assert [f.rule for f in verdict.findings] == ["evidence"]
