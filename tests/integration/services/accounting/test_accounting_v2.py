"""Accounting methodology v2 against real SQLite and PostgreSQL: flagged emissions stay in the
inventory (pending review), provisional credits earn no points, park-default-2027.1 takes effect
for activities from 2027-01-01 while earlier ones keep 2026.1, and data quality is rolled up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from backend.adapters.database import Database
from backend.domain.accounting.scope3 import parse_period
from backend.services.accounting import scope3
from backend.services.recording import recognition, reviews
from backend.services.recording.activities import Caller, IssuancePolicy, record_activity
from backend.services.reporting import scope3_close, scope3_disclosure

NOV = datetime(2026, 11, 3, 0, 30, tzinfo=UTC)
JAN = datetime(2027, 1, 12, 0, 30, tzinfo=UTC)
CONFIG = scope3.Scope3Config("Asia/Shanghai", min_group_size=1)


def _policy(baseline: str | None = None, screening: bool = False) -> IssuancePolicy:
    return IssuancePolicy(
        points_per_kg=100,
        subject_key=b"k" * 32,
        max_age=timedelta(days=366),
        clock_skew=timedelta(minutes=5),
        baseline=baseline,
        screening=recognition.Screening() if screening else None,
    )


def _cat(doc: dict[str, Any], category: int) -> dict[str, Any]:
    return next(c for c in doc["totals"]["inventory"]["categories"] if c["category"] == category)


def test_a_flagged_trip_stays_in_the_inventory_pending_review_and_its_credit_waits(db: Database) -> None:
    alice = Caller("alice", "acme", "eng")
    # 2026.1, city mix: 60 km × 0.0467 = 2.802 kg avoided, over the 2,000 g a bare self-report may
    # earn without review → flagged; its emissions 60 × 0.0614 = 3.684 kg are Scope 3 category 7
    payload = {"type": "metro", "occurred_at": NOV.isoformat(), "distance_km": "60"}
    row = record_activity(db, alice, "key-flag-0001", payload, NOV, _policy(screening=True), now=NOV).row
    assert (row.status, row.co2e_avoided_g, row.co2e_scope3_g, row.points) == ("flagged", 2802, 3684, 0)
    doc = scope3.summary(db, parse_period("2026-Q4"), CONFIG, now=NOV)
    assert _cat(doc, 7)["co2e_g"] == 3684 and _cat(doc, 7)["pending_review"] == {"records": 1, "co2e_g": 3684}
    assert doc["totals"]["avoided"]["total"]["co2e_g"] == 0  # the credit waits for the review
    assert "Category 5 holds only the office waste employees logged" in doc["boundary"]["category_5_en"]

    reviews.decide(db, "acme", row.id, "approve", "gate log checked", "admin-1", _policy(), NOV)
    doc = scope3.summary(db, parse_period("2026-Q4"), CONFIG, now=NOV)
    assert _cat(doc, 7)["co2e_g"] == 3684 and _cat(doc, 7)["pending_review"] == {"records": 0, "co2e_g": 0}
    assert doc["totals"]["avoided"]["total"]["co2e_g"] == 2802


def test_2026_trips_keep_2026_1_and_2027_trips_take_the_national_default(db: Database) -> None:
    bob = Caller("bob", "acme", "eng")
    old = {"type": "metro", "occurred_at": NOV.isoformat(), "distance_km": "12.4"}
    new = {**old, "occurred_at": JAN.isoformat()}
    first = record_activity(db, bob, "key-v2-00001", old, NOV, _policy(), now=JAN).row
    second = record_activity(db, bob, "key-v2-00002", new, JAN, _policy(), now=JAN).row
    # recorded on the same day, computed with the set in force when each trip happened:
    # 2026.1: 12.4 × 0.0467 = 0.57908 kg → 579 g, 57 points; 12.4 × 0.0614 → 761 g
    assert (first.factor_set, first.co2e_avoided_g, first.co2e_scope3_g, first.points) == (
        "park-default-2026.1",
        579,
        761,
        57,
    )
    # 2027.1: bus 12.4 × 0.10385 = 1.28774; metro 12.4 × 0.08334 = 1.033416 → 1033 g;
    # avoided 1.28774 − 1.033416 = 0.254324 kg → 254 g, 25 points
    assert (second.factor_set, second.co2e_avoided_g, second.co2e_scope3_g, second.points) == (
        "park-default-2027.1",
        254,
        1033,
        25,
    )
    assert second.calculation["claim_notice"]["zh"].startswith("本条减排量已由园区碳账本计入")
    assert "claim_notice" not in first.calculation


def test_a_provisional_city_credit_is_shown_but_earns_no_points(db: Database) -> None:
    carol = Caller("carol", "acme", "eng")
    payload = {"type": "metro", "occurred_at": JAN.isoformat(), "distance_km": "10"}
    row = record_activity(db, carol, "key-bj-00001", payload, JAN, _policy("beijing"), now=JAN).row
    # Beijing (provisional): 10 × 0.21042 = 2.1042 kg → 2104 g avoided, 0 points
    assert (row.co2e_avoided_g, row.points, row.calculation["provisional"]) == (2104, 0, True)
    walk = {"type": "walk", "occurred_at": (JAN + timedelta(hours=9)).isoformat(), "distance_km": "2.5"}
    row = record_activity(
        db,
        carol,
        "key-bj-00002",
        walk,
        JAN + timedelta(hours=9),
        _policy("beijing"),
        now=JAN + timedelta(hours=9),
    ).row
    # walking is not in Beijing's figures: the national default, 2.5 × 0.10385 = 0.259625 → 260 g, 26 points
    assert (row.co2e_avoided_g, row.points, row.calculation["baseline"]) == (260, 26, "national_conservative")


def test_data_quality_is_rolled_up_per_category(db: Database) -> None:
    dan = Caller("dan", "acme", "eng")
    flight = {"type": "flight", "occurred_at": JAN.isoformat(), "distance_km": "1200", "purpose": "business"}
    record_activity(db, dan, "key-dq-00001", flight, JAN, _policy(), now=JAN)
    doc = scope3.summary(db, parse_period("2027-01"), CONFIG, now=JAN)
    # 1,200 km × 0.0842 = 101.04 kg (DEFRA international, to/from non-UK)
    assert _cat(doc, 6)["co2e_g"] == 101040
    (cat6,) = doc["data_quality_factors"]["by_category"]
    # flight.international: technology 2, time 1, geography 3 (a UK publisher's non-UK average),
    # completeness 2, reliability 1; worst 3 → ±30 %: 101,040 ± 30,312 g
    assert cat6["scores"] == {
        "technology": 2.0,
        "time": 1.0,
        "geography": 3.0,
        "completeness": 2.0,
        "reliability": 1.0,
    }
    assert (cat6["share_on_proxies"], cat6["share_on_provisional"]) == (1.0, 0.0)
    assert cat6["uncertainty_g"] == {"low": 70728, "high": 131352}


def test_the_inventory_is_split_by_gas_per_category(db: Database) -> None:
    eve = Caller("eve", "acme", "eng")
    payloads = [
        {"type": "taxi", "distance_km": "10"},
        {"type": "metro", "distance_km": "10"},
        {"type": "flight", "distance_km": "1200", "purpose": "business"},
        {"type": "recycling", "material": "paper", "weight_kg": "2.5", "scope": "office"},
    ]
    for i, payload in enumerate(payloads):
        at = JAN + timedelta(hours=2 * i)
        record_activity(
            db, eve, f"key-gas-{i:05d}", {**payload, "occurred_at": at.isoformat()}, at, _policy(), now=at
        )
    nov = NOV + timedelta(days=1)
    record_activity(
        db,
        eve,
        "key-gas-old01",
        {"type": "metro", "distance_km": "10", "occurred_at": nov.isoformat()},
        nov,
        _policy(),
        now=nov,
    )
    gases = {
        r["category"]: r
        for r in scope3.summary(db, parse_period("2027-01"), CONFIG, now=JAN)["gases_by_category"][
            "by_category"
        ]
    }
    # cat. 7: taxi 10 × (CO2 0.20638, CH4 0.000005, N2O 0.00167) → 2064 + 0 + 17 = 2081 g;
    #   metro 10 × 0.08334 = 0.8334 kg → 833 g, CO2 only; total 2914 = 2897 CO2 + 17 N2O
    assert gases[7] | {"category": 7} == {
        "category": 7,
        "co2e_g": 2914,
        "co2_g": 2897,
        "ch4_g": 0,
        "n2o_g": 17,
        "unsplit_g": 0,
        "rounding_g": 0,
    }
    # cat. 6: 1,200 × (0.08333, 0.00001, 0.00086) → 99,996 + 12 + 1,032 = 101,040 g
    assert (gases[6]["co2_g"], gases[6]["ch4_g"], gases[6]["n2o_g"], gases[6]["co2e_g"]) == (
        99996,
        12,
        1032,
        101040,
    )
    # cat. 5: 0.0025 t × 4.68568 = 0.0117142 kg → 12 g; DEFRA's waste rows give no split
    assert (gases[5]["unsplit_g"], gases[5]["co2_g"], gases[5]["rounding_g"]) == (12, 0, 0)
    # another company's records never show in acme's split, open or closed
    bob = Caller("bob", "globex", "ops")
    at = JAN + timedelta(hours=9)
    record_activity(
        db,
        bob,
        "key-gas-globex",
        {"type": "taxi", "distance_km": "5", "occurred_at": at.isoformat()},
        at,
        _policy(),
        now=at,
    )
    park = scope3.summary(db, parse_period("2027-01"), CONFIG, now=JAN + timedelta(days=1))
    acme = scope3.summary(db, parse_period("2027-01"), CONFIG, company="acme", now=JAN + timedelta(days=1))
    # globex: 5 × 0.20806 = 1.0403 kg → 1040 g
    #   (CO2 5 × 0.20638 = 1.0319 → 1032, N2O 5 × 0.00167 = 0.00835 → 8)
    assert {r["category"]: r["co2e_g"] for r in park["gases_by_category"]["by_category"]}[7] == 2914 + 1040
    assert {r["category"]: r["co2e_g"] for r in acme["gases_by_category"]["by_category"]}[7] == 2914
    (globex,) = [b for b in park["companies"] if b["company"] == "globex"]
    assert globex["gases_by_category"]["by_category"] == [
        {
            "category": 7,
            "co2e_g": 1040,
            "co2_g": 1032,
            "ch4_g": 0,
            "n2o_g": 8,
            "unsplit_g": 0,
            "rounding_g": 0,
        }
    ]
    assert [r["inventory_g"] for r in acme["data_quality_factors"]["by_category"] if r["category"] == 7] == [
        2914
    ]
    # closed, the frozen summary is park-wide; acme's view still shows acme's own split
    after = JAN + timedelta(days=40)
    scope3_close.close_period(
        db, parse_period("2027-01"), CONFIG, "park_manager", "pm-1", b"s" * 32, now=after
    )
    closed = scope3.summary(db, parse_period("2027-01"), CONFIG, company="acme", now=after)
    assert closed["status"] == "closed" and closed["gases_by_category"] == acme["gases_by_category"]
    assert closed["data_quality_factors"] == acme["data_quality_factors"]
    # acme's disclosure (GRI 305-3-b) shows the same split
    html = scope3_disclosure.to_html(scope3_disclosure.build(acme, []))
    assert "<td>7</td><td>2914</td><td>2897</td><td>0</td><td>17</td><td>0</td><td>0</td>" in html
    # a 2026.1 record (no split): November's metro 10 × 0.0614 = 614 g, all unsplit
    november = scope3.summary(db, parse_period("2026-11"), CONFIG, now=JAN)["gases_by_category"]
    (old,) = november["by_category"]
    assert (old["category"], old["co2e_g"], old["unsplit_g"], old["co2_g"]) == (7, 614, 614, 0)
    assert november["gwp_sets"] == ["AR5"] and "AR5: CH4 28, N2O 265" in november["note_en"]
