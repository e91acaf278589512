"""Scope 3 reporting rules without I/O: periods, units, shares, privacy pooling, extrapolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from backend.domain.accounting import scope3
from backend.domain.accounting.scope3 import Group, Period, Policy, Reporters
from backend.domain.errors import InvalidInput

CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("text", "label", "months"),
    [("2026", "2026", 12), ("2026-Q4", "2026-Q4", 3), ("2026-11", "2026-11", 1), (" 2026-Q1 ", "2026-Q1", 3)],
)
def test_parse_period(text: str, label: str, months: int) -> None:
    period = scope3.parse_period(text)
    assert period.label == label and len(period.months()) == months


@pytest.mark.parametrize("text", ["2026-Q5", "2026-13", "2026-1", "26", "1999", "2026-Q4x", "", "2026/11"])
def test_parse_period_rejects(text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        scope3.parse_period(text)
    assert err.value.field == "period"


def test_bounds_follow_the_park_calendar() -> None:
    start, end = scope3.parse_period("2026-Q4").bounds(CST)
    assert (start, end) == (datetime(2026, 10, 1, tzinfo=CST), datetime(2027, 1, 1, tzinfo=CST))
    assert start.astimezone(UTC) == datetime(2026, 9, 30, 16, tzinfo=UTC)
    start, end = scope3.parse_period("2026-12").bounds(CST)
    assert end == datetime(2027, 1, 1, tzinfo=CST)
    assert [m.label for m in scope3.parse_period("2026-Q2").months()] == ["2026-04", "2026-05", "2026-06"]


def test_following_periods() -> None:
    assert scope3.parse_period("2026-12").following().label == "2027-01"
    assert scope3.parse_period("2026-Q4").following().label == "2027-Q1"
    assert scope3.parse_period("2026-Q2").following().label == "2026-Q3"
    assert scope3.parse_period("2026").following().label == "2027"


def test_period_containing() -> None:
    moment = datetime(2026, 11, 24, 1, tzinfo=CST)
    assert scope3.period_containing(moment, "quarter").label == "2026-Q4"
    assert scope3.period_containing(moment, "month").label == "2026-11"
    assert scope3.period_containing(moment, "year").label == "2026"


def test_units_and_rounding() -> None:
    assert scope3.figure(1_234_567) == {"co2e_g": 1_234_567, "co2e_kg": 1234.567, "co2e_t": 1.235}
    assert scope3.grams_to_t(2_500) == Decimal("0.002")  # half to even
    assert scope3.grams_to_t(3_500) == Decimal("0.004")
    assert scope3.grams_to_kg(7) == Decimal("0.007")
    assert scope3.share(1, 3) == 0.3333 and scope3.share(1, None) is None and scope3.share(0, 0) is None


def test_parse_category() -> None:
    assert scope3.parse_category(7) == 7 and scope3.parse_category(None) is None
    with pytest.raises(InvalidInput):
        scope3.parse_category(3)


def test_extrapolation_is_an_estimate_apart() -> None:
    result = scope3.extrapolate_commuting(measured_g=1000, reporting=3, headcount=10)
    assert result["available"] and result["employees_not_reporting"] == 7
    assert result["estimate"]["co2e_g"] == 2333  # 1000 × 7 / 3 = 2333.33…
    assert not scope3.extrapolate_commuting(1000, 3, None)["available"]
    assert not scope3.extrapolate_commuting(0, 0, 10)["available"]
    assert scope3.extrapolate_commuting(1000, 12, 10)["employees_not_reporting"] == 0


def _g(
    org: str,
    dept: str,
    cat: int | None,
    month: int = 0,
    g: int = 100,
    avoided: int = 50,
    primary: bool = False,
) -> Group:
    return Group(org, dept, cat, "metro", "fs-1", primary, month, 1, g, avoided)


def test_summarize_keeps_avoided_apart_and_pools_small_departments() -> None:
    groups = [
        _g("acme", "eng", 7, g=600, avoided=1000),
        _g("acme", "eng", 6, month=1, g=400, avoided=200, primary=True),
        _g("acme", "ops", 7, g=50, avoided=70),
        _g("acme", "hr", 7, g=30, avoided=10),
        _g("beta", "", None, g=0, avoided=5),
        _g("gamma", "", None, g=0, avoided=0),
    ]
    reporters = Reporters(
        total=17,
        per_org={"acme": 12, "beta": 1, "gamma": 4},
        per_dept={
            ("acme", "eng"): 6,
            ("acme", "ops"): 3,
            ("acme", "hr"): 3,
            ("beta", ""): 1,
            ("gamma", ""): 4,
        },
        per_org_month={("acme", 0): 12, ("acme", 1): 6, ("beta", 0): 1, ("gamma", 0): 4},
        per_month={0: 17, 1: 6},
    )
    doc = scope3.summarize(scope3.parse_period("2026-Q4"), groups, reporters, {"acme": 20}, Policy(5, True))
    park = doc["park"]
    assert park["inventory"]["total"]["co2e_g"] == 1080
    assert {c["category"]: c["co2e_g"] for c in park["inventory"]["categories"]} == {5: 0, 6: 400, 7: 680}
    assert park["avoided"]["total"]["co2e_g"] == 1285
    # beta and gamma have no headcount: the park's share is over acme's 20 (12 reporting).
    quality = park["data_quality"]
    assert quality["headcount"] == 20 and quality["reporting_share"] == 0.6
    assert quality["employees_reporting"] == 17 and quality["employees_reporting_counted"] == 12
    assert quality["companies_without_headcount"] == ["beta", "gamma"]
    assert park["data_quality"]["primary_data_share_mass"] == round(400 / 1080, 4)
    assert [m["inventory"]["total"]["co2e_g"] for m in park["months"]] == [680, 400, 0]
    acme, beta, gamma = doc["companies"]
    # beta (1 < 5) is withheld, and gamma (4) with it: together 5 people, so neither can be found
    # by subtracting acme from the park
    assert beta == scope3.withheld_block({"company": "beta"}, ("company",), 5) and gamma["withheld"]
    assert acme["data_quality"]["reporting_share"] == 0.6
    names = [d["department"] for d in acme["departments"]]
    assert names == ["eng", None]  # ops and hr (3 each) pooled into a group of 6
    assert acme["departments"][1]["inventory"]["total"]["co2e_g"] == 80
    assert acme["extrapolation"]["estimate"]["co2e_g"] == round(680 * 8 / 12)
    assert park["extrapolation"]["estimate"]["co2e_g"] == acme["extrapolation"]["estimate"]["co2e_g"]


def test_no_headcount_anywhere_leaves_the_share_unknown() -> None:
    reporters = Reporters(total=1, per_org={"beta": 1}, per_dept={}, per_org_month={}, per_month={})
    doc = scope3.summarize(scope3.parse_period("2026"), [_g("beta", "", 7)], reporters, {}, Policy(1, False))
    quality = doc["park"]["data_quality"]
    assert quality["headcount"] is None and quality["reporting_share"] is None
    assert quality["companies_without_headcount"] == ["beta"]


def test_a_pool_still_too_small_is_not_shown() -> None:
    groups = [_g("acme", "eng", 7), _g("acme", "ops", 7)]
    reporters = Reporters(4, {"acme": 4}, {("acme", "eng"): 3, ("acme", "ops"): 1}, {("acme", 0): 4}, {0: 4})
    doc = scope3.summarize(scope3.parse_period("2026-10"), groups, reporters, {}, Policy(5))
    # four people in all: nothing is shown, not even the park's total
    assert doc["park"]["withheld"] and doc["companies"][0]["withheld"]
    assert "inventory" not in doc["park"] and "departments" not in doc["companies"][0]


def test_factor_ids_referenced_walks_nested_rules() -> None:
    rules = {"kind": "mass", "factors": {"paper": "waste.paper", "glass": ["waste.glass", "nope"]}, "x": 1}
    assert scope3.factor_ids_referenced(rules, {"waste.paper", "waste.glass", "other"}) == {
        "waste.paper",
        "waste.glass",
    }


def test_period_ordering_is_by_year_first() -> None:
    assert Period(2025, "month", 12) < Period(2026, "month", 1)
