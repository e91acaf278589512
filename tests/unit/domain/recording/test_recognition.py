"""Recognition rules, one test per rule: mode plausibility, route, duplicates, evidence, rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from backend.domain.recording.recognition import (
    DEFAULT_BANDS,
    Footprint,
    ModeBand,
    RateLimit,
    RecognitionRules,
    assess,
    footprint,
    is_duplicate,
    retry_after,
    straight_line_km,
)

RULES = RecognitionRules()
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _assess(
    mode: str,
    avoided_g: int = 500,
    source: str = "self_reported",
    nearby: tuple[Footprint, ...] = (),
    today: int = 0,
    straight_km: Decimal | None = None,
    rules: RecognitionRules = RULES,
    **quantities: Any,
) -> tuple[str, list[str]]:
    mine = footprint("new", mode, T0, quantities, source)
    result = assess(mode, quantities, mine, avoided_g, nearby, today, rules, straight_km)
    return result.status, [f.rule for f in result.findings]


def test_a_30_km_walk_in_20_minutes_is_rejected_as_a_walk() -> None:
    assert _assess("walk", distance_km="30", duration_min="20") == (
        "rejected",
        ["mode_distance", "mode_speed"],
    )


def test_an_ordinary_walk_is_accepted() -> None:
    assert _assess("walk", distance_km="4", duration_min="50") == ("accepted", [])


def test_brisk_but_possible_speeds_go_to_review() -> None:
    assert _assess("walk", distance_km="5", duration_min="30") == ("flagged", ["mode_speed"])  # 10 km/h
    assert _assess("metro", distance_km="10", duration_min="300") == ("flagged", ["mode_speed"])  # 2 km/h


def test_a_metro_trip_faster_than_any_train_is_rejected() -> None:
    status, rules = _assess("metro", distance_km="60", duration_min="10")  # 360 km/h
    assert status == "rejected" and rules == ["mode_speed"]


def test_distance_bands_reject_beyond_the_mode_and_review_long_self_reports() -> None:
    assert _assess("bike", distance_km="200")[0] == "rejected"
    assert _assess("bike", distance_km="40") == ("flagged", ["mode_distance"])
    # A source-delivered long ride is evidence enough for the distance.
    assert _assess("bike", source="integration:bikes", distance_km="40") == ("accepted", [])


def test_bands_are_configurable_per_mode() -> None:
    lenient = RULES.with_overrides({"walk": {"max_kmh": 100, "max_km": 50}})
    assert _assess("walk", rules=lenient, distance_km="30", duration_min="20")[0] == "flagged"
    assert lenient.bands["metro"] == DEFAULT_BANDS["metro"]
    with pytest.raises(ValueError, match="inconsistent"):
        RULES.with_overrides({"walk": {"review_kmh": 50}})  # above max_kmh


def test_mode_band_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="inconsistent"):
        ModeBand(Decimal(10), Decimal(5), Decimal(20), Decimal(1), Decimal(2))


def test_route_shorter_than_the_straight_line_is_rejected_and_detours_reviewed() -> None:
    assert _assess("metro", straight_km=Decimal(20), distance_km="12") == ("rejected", ["route"])
    assert _assess("metro", straight_km=Decimal(3), distance_km="15") == ("flagged", ["route"])
    assert _assess("metro", straight_km=Decimal(10), distance_km="12.4") == ("accepted", [])


def test_straight_line_distance_of_one_degree_of_latitude() -> None:
    assert straight_line_km((39.0, 116.0), (40.0, 116.0)) == Decimal("111.195")
    assert straight_line_km((39.9, 116.4), (39.9, 116.4)) == 0


def _fp(
    mode: str, minutes: int, km: str | None, duration: int | None = None, source: str = "self_reported"
) -> Footprint:
    quantities: dict[str, Any] = {"distance_km": km} if km is not None else {}
    if duration is not None:
        quantities["duration_min"] = duration
    return footprint(f"a{minutes}", mode, T0 + timedelta(minutes=minutes), quantities, source)


def test_the_same_trip_from_two_sources_is_a_duplicate() -> None:
    manual = _fp("metro", 0, "12.4")
    gate = _fp("metro", 12, "11.8", source="integration:gates")
    assert is_duplicate(manual, gate) and is_duplicate(gate, manual)
    status, rules = _assess("metro", nearby=(gate,), distance_km="12.4")
    assert (status, rules) == ("rejected", ["duplicate"])


def test_a_source_record_supersedes_the_self_report_of_the_same_trip() -> None:
    # primary data takes precedence: the gate record is accepted and names the report it replaces
    manual = _fp("metro", 0, "12.4")
    status, rules = _assess("metro", source="integration:gates", nearby=(manual,), distance_km="11.8")
    assert (status, rules) == ("accepted", ["supersedes"])
    mine = footprint("new", "metro", T0, {"distance_km": "11.8"}, "integration:gates")
    assert (
        assess("metro", {"distance_km": "11.8"}, mine, 500, (manual,), 0, RULES).supersedes
        == manual.activity_id
    )
    # two sources of primary data for one trip: still a duplicate
    gate = _fp("metro", 5, "12.4", source="integration:other-gates")
    assert _assess("metro", source="integration:gates", nearby=(gate,), distance_km="12")[0] == "rejected"
    # metro and rail are different families: never matched
    assert not is_duplicate(_fp("metro", 0, "30"), _fp("rail", 0, "30"))


def test_a_manual_bike_ride_and_a_shared_bike_order_are_one_trip() -> None:
    assert is_duplicate(_fp("bike", 0, "3"), _fp("bike_shared", 5, "3.3"))


@pytest.mark.parametrize(
    ("other", "why"),
    [
        (_fp("metro", 45, "12.4"), "start times too far apart"),
        (_fp("metro", 5, "20"), "distances too different"),
        (_fp("bus", 5, "12.4"), "same family (transit): this one IS a duplicate"),
        (_fp("bike", 5, "12.4"), "another mode family"),
    ],
)
def test_trips_that_differ_are_not_duplicates(other: Footprint, why: str) -> None:
    assert is_duplicate(_fp("metro", 0, "12.4"), other) == (why.startswith("same family")), why


def test_overlapping_intervals_count_when_both_durations_are_known() -> None:
    assert is_duplicate(_fp("metro", 0, "30", duration=50), _fp("metro", 40, "30", duration=30))
    assert not is_duplicate(_fp("metro", 0, "12", duration=20), _fp("metro", 25, "12", duration=20))


def test_non_trip_activities_match_on_magnitude_within_two_hours() -> None:
    a = footprint("x", "recycling", T0, {"weight_kg": "2.0"}, "self_reported")
    b = footprint("y", "recycling", T0 + timedelta(minutes=90), {"weight_kg": "2.1"}, "integration:bins")
    c = footprint("z", "recycling", T0 + timedelta(minutes=90), {"weight_kg": "5"}, "integration:bins")
    assert is_duplicate(a, b) and not is_duplicate(a, c)


def test_evidence_requirements() -> None:
    assert _assess("metro", avoided_g=2500, distance_km="25") == ("flagged", ["evidence"])
    assert _assess("metro", avoided_g=2500, distance_km="25", evidence_ref="photo:1") == ("accepted", [])
    assert _assess("metro", avoided_g=2500, distance_km="25", source_record_id="T-9") == ("accepted", [])
    assert _assess("metro", avoided_g=12_000, distance_km="25", evidence_ref="photo:1")[0] == "flagged"
    assert _assess("metro", avoided_g=12_000, source="integration:gates", distance_km="25")[0] == "accepted"


def test_many_bare_self_reports_in_a_day_go_to_review() -> None:
    assert _assess("metro", today=3, distance_km="5") == ("accepted", [])
    assert _assess("metro", today=4, distance_km="5") == ("flagged", ["daily_self_reports"])
    assert _assess("metro", today=9, distance_km="5", evidence_ref="r")[0] == "accepted"


def test_rate_limit_retry_after() -> None:
    limit = RateLimit(3, timedelta(minutes=10))
    now = T0 + timedelta(minutes=10)
    recent = [now - timedelta(minutes=m) for m in (1, 4, 8)]  # newest first
    assert retry_after(limit, recent[:2], now) is None
    assert retry_after(limit, recent, now) == timedelta(minutes=2)  # when the 8-minute-old one leaves
    assert retry_after(limit, recent, now, adding=2) == timedelta(minutes=6)
    assert retry_after(limit, [], now, adding=4) == limit.window
    old = [now - timedelta(minutes=m) for m in (11, 12, 13)]
    assert retry_after(limit, old, now) is None
