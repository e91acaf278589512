"""Issuance rules on hand-written scenarios: rate and rounding, caps, cool-down, calendars, documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.domain.errors import InvalidInput
from backend.domain.points.points_rules import (
    IssuanceRules,
    TypeRule,
    Usage,
    check_company_bounds,
    day_window,
    decide,
    month_window,
    months_before,
    parse_document,
)

RULES = IssuanceRules(
    points_per_kg=100,
    default_type=TypeRule(daily_count_cap=4, cooldown_s=600),
    types={"metro": TypeRule(points_per_kg=120, daily_points_cap=300)},
    employee_daily_points_cap=500,
    employee_monthly_points_cap=5000,
)


def test_rate_per_type_rounds_down() -> None:
    assert decide("metro", 1256, RULES, Usage()).points == 150  # 1256 g × 120/kg = 150.72 → 150
    assert decide("bus", 1256, RULES, Usage()).points == 125  # the document's rate: 125.6 → 125
    assert decide("bus", 9, RULES, Usage()).points == 0


def test_cooldown_between_identical_actions_earns_nothing() -> None:
    blocked = decide("bus", 1256, RULES, Usage(nearest_identical_s=599))
    assert (blocked.base_points, blocked.points, blocked.limited_by) == (125, 0, ("cooldown",))
    assert decide("bus", 1256, RULES, Usage(nearest_identical_s=600)).points == 125


def test_daily_count_cap_per_type() -> None:
    assert decide("bus", 1256, RULES, Usage(type_count_today=3)).points == 125
    capped = decide("bus", 1256, RULES, Usage(type_count_today=4))
    assert capped.points == 0 and capped.limited_by == ("daily_count_cap",)


def test_points_caps_cut_to_what_remains() -> None:
    type_cap = decide("metro", 1256, RULES, Usage(type_points_today=250))
    assert type_cap.points == 50 and type_cap.limited_by == ("daily_points_cap",)
    day_cap = decide("bus", 1256, RULES, Usage(employee_points_today=480))
    assert day_cap.points == 20 and day_cap.limited_by == ("employee_daily_points_cap",)
    month_cap = decide("bus", 1256, RULES, Usage(employee_points_month=4990))
    assert month_cap.points == 10 and month_cap.limited_by == ("employee_monthly_points_cap",)
    both = decide("metro", 1256, RULES, Usage(type_points_today=280, employee_points_today=495))
    assert both.points == 5 and both.limited_by == ("daily_points_cap", "employee_daily_points_cap")
    spent = decide("bus", 1256, RULES, Usage(employee_points_today=600))
    assert spent.points == 0


def test_company_overrides_rates_but_only_tightens_caps() -> None:
    company = parse_document(
        {
            "points_per_kg": 200,
            "default_type": {"daily_count_cap": 10, "cooldown_s": 60},
            "types": {"metro": {"daily_points_cap": 100}},
            "employee_daily_points_cap": 1000,
            "employee_monthly_points_cap": 800,
        },
        company=True,
    )
    rules = RULES.with_company(company)
    bus = rules.for_type("bus")
    assert bus.points_per_kg == 200  # the company's own rate
    assert bus.daily_count_cap == 4 and bus.cooldown_s == 600  # the park's stricter values stand
    metro = rules.for_type("metro")
    assert metro.points_per_kg == 120 and metro.daily_points_cap == 100
    assert rules.daily_cap == 500 and rules.monthly_cap == 800


def test_park_document_over_settings_defaults() -> None:
    park = parse_document({"expiry_months": 12, "types": {"bike": {"cooldown_s": 0}}}, company=False)
    rules = IssuanceRules(points_per_kg=80, default_type=TypeRule(cooldown_s=300)).with_park(park)
    assert rules.expiry_months == 12 and rules.points_per_kg == 80
    assert rules.for_type("bike").cooldown_s == 0 and rules.for_type("bus").cooldown_s == 300


@pytest.mark.parametrize(
    ("document", "company", "field"),
    [
        ({"expiry_months": 3}, True, "expiry_months"),
        ({"points_per_kg": -1}, False, "points_per_kg"),
        ({"points_per_kg": 1.5}, False, "points_per_kg"),
        ({"types": {"metro": {"cooldown_s": 10**9}}}, False, "types.metro.cooldown_s"),
        ({"types": {"metro": {"bonus": 1}}}, False, "types.metro.bonus"),
        ({"surprise": 1}, False, "surprise"),
        ({"default_type": []}, False, "default_type"),
    ],
)
def test_documents_are_validated_naming_the_field(
    document: dict[str, object], company: bool, field: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_document(document, company=company)
    assert err.value.field == field


def test_days_and_months_are_the_parks_calendar() -> None:
    # 2026-11-30 17:30 UTC is already 1 December 01:30 in the park (UTC+8).
    at = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
    start, end = day_window(at, RULES)
    assert (start, end) == (datetime(2026, 11, 30, 16, tzinfo=UTC), datetime(2026, 12, 1, 16, tzinfo=UTC))
    month_start, month_end = month_window(at, RULES)
    assert month_start == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert month_end == datetime(2026, 12, 31, 16, tzinfo=UTC)


def test_months_before_clamps_to_month_end() -> None:
    assert months_before(datetime(2026, 3, 31, 9, tzinfo=UTC), 1) == datetime(2026, 2, 28, 9, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 12) == datetime(2025, 1, 15, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(2024, 12, 15, tzinfo=UTC)
    assert months_before(datetime(2024, 2, 29, tzinfo=UTC), 12) == datetime(2023, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 5, 1, tzinfo=UTC), 0) == datetime(2026, 5, 1, tzinfo=UTC)
    assert months_before(datetime(2026, 12, 31, tzinfo=UTC), 1) - timedelta(days=30) == datetime(
        2026, 10, 31, tzinfo=UTC
    )


def test_a_company_rate_stays_within_the_parks_bound() -> None:
    park = parse_document({"company_max_points_per_kg": 150}, company=False)
    rules = RULES.with_park(park)
    assert rules.company_max_points_per_kg == 150
    with pytest.raises(InvalidInput) as refused:
        check_company_bounds(parse_document({"types": {"bus": {"points_per_kg": 151}}}, company=True), rules)
    assert refused.value.field == "types.bus.points_per_kg" and "150" in refused.value.reason
    with pytest.raises(InvalidInput) as general:
        check_company_bounds(parse_document({"points_per_kg": 1_000_000}, company=True), rules)
    assert general.value.field == "points_per_kg" and "company_max_points_per_kg" in general.value.reason
    with pytest.raises(InvalidInput, match="is set by the park only"):
        parse_document({"company_max_points_per_kg": 10**6}, company=True)
    # A document stored before the park lowered its bound is clamped when points are issued.
    stored = parse_document({"points_per_kg": 1_000_000}, company=True)
    assert rules.with_company(stored).for_type("bus").points_per_kg == 150
    assert decide("bus", 579, rules.with_company(stored), Usage()).points == 86
    # The built-in bound applies when the park sets none.
    assert IssuanceRules().company_max_points_per_kg == 1000
