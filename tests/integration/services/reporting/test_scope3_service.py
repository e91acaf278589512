"""Scope 3 summaries, closes, restatements and explanations against real SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.orm import LogLeafRow
from backend.adapters.orm_scope3 import FeedDeliveryRow, PeriodCloseRow
from backend.domain.accounting.scope3 import parse_period
from backend.domain.canonical import canonical_json, sha256_hex
from backend.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.domain.log import tiles
from backend.domain.log.record_kinds import decode
from backend.services.accounting import scope3
from backend.services.audit import audit_records
from backend.services.audit.record_audit import record_differences
from backend.services.recording.activities import Caller, IssuancePolicy, record_activity
from backend.services.reporting import scope3_close, scope3_explain

POLICY = IssuancePolicy(
    # no points: one leaf per activity keeps the log sizes in these tests easy to state
    points_per_kg=0,
    baseline="petrol_car_solo",  # avoided figures below are computed against the solo petrol car
    subject_key=b"k" * 32,
    max_age=timedelta(days=366),
    clock_skew=timedelta(minutes=5),
)
CONFIG = scope3.Scope3Config("Asia/Shanghai", min_group_size=5, baseline="petrol_car_solo")
NOW = datetime(2026, 11, 24, 8, tzinfo=UTC)
OCT = datetime(2026, 10, 15, 0, 30, tzinfo=UTC)
NOV = datetime(2026, 11, 3, 0, 30, tzinfo=UTC)
METRO_10KM_G = 614  # 10 km × 0.0614 kg/pkm
METRO_10KM_AVOIDED_G = 1013  # 10 × 0.16272 − 0.614 = 1.0132 kg


def _trip(db: Database, who: Caller, when: datetime, key: str, purpose: str = "commute") -> None:
    payload = {"type": "metro", "occurred_at": when.isoformat(), "distance_km": "10", "purpose": purpose}
    record_activity(db, who, key, payload, when, POLICY, now=NOW)


def _seed(db: Database) -> None:
    """acme: 6 in eng, 2 in ops (too few to show); globex: 5 in sales, one via an integration."""
    for i in range(6):
        _trip(db, Caller(f"acme-eng-{i}", "acme", "eng"), OCT, f"k-ae-{i:04d}")
    _trip(db, Caller("acme-eng-0", "acme", "eng"), NOV, "k-ae-business", purpose="business")
    for i in range(2):
        _trip(db, Caller(f"acme-ops-{i}", "acme", "ops"), NOV, f"k-ao-{i:04d}")
    for i in range(5):
        source = "integration:transit-card" if i == 0 else "self_reported"
        _trip(db, Caller(f"globex-{i}", "globex", "sales", source=source), OCT, f"k-gs-{i:04d}")


def _cat(block: dict, category: int) -> dict:
    return next(c for c in block["inventory"]["categories"] if c["category"] == category)


def test_summary_totals_per_park_company_department_and_month(db: Database) -> None:
    _seed(db)
    scope3.set_headcount(db, "acme", 10, "operator", now=NOW)
    doc = scope3.summary(db, parse_period("2026-Q4"), CONFIG, now=NOW)
    park = doc["totals"]
    assert doc["status"] == "open" and doc["as_of_tree_size"] == 14
    assert _cat(park, 7)["co2e_g"] == 13 * METRO_10KM_G and _cat(park, 7)["records"] == 13
    assert _cat(park, 6)["co2e_g"] == METRO_10KM_G and _cat(park, 5)["co2e_g"] == 0
    assert park["inventory"]["total"]["co2e_g"] == 14 * METRO_10KM_G
    assert park["inventory"]["total"]["co2e_kg"] == 14 * METRO_10KM_G / 1000
    assert park["avoided"]["total"]["co2e_g"] == 14 * METRO_10KM_AVOIDED_G  # beside, not subtracted
    # November has 3 reporting employees (< 5): withheld, and October with it (the quarter's total
    # minus October would be November); December has no one and shows its zeros
    assert [m.get("withheld", False) for m in park["months"]] == [True, True, False]
    assert park["months"][2]["inventory"]["total"]["co2e_g"] == 0
    acme, globex = doc["companies"]
    assert acme["data_quality"]["employees_reporting"] == 8 and acme["data_quality"]["reporting_share"] == 0.8
    # ops (2 < 5) alone would be acme minus eng: the two are shown only combined
    assert [(d["department"], d["employees_reporting"]) for d in acme["departments"]] == [(None, 8)]
    assert acme["privacy"]["departments_not_shown"] == 0
    assert globex["data_quality"]["primary_data_share_records"] == 0.2
    assert globex["data_quality"]["reporting_share"] is None  # no headcount configured
    assert _cat(park, 7)["explain_url"] == "/api/v1/scope3/explain?period=2026-Q4&category=7"
    factor_ids = {f["id"] for f in doc["methodology"]["factors"]}
    assert factor_ids == {"rail.metro.cn-beijing", "car.petrol.avg"}
    assert doc["methodology"]["factor_sets"][0]["version"] == "park-default-2026.1"


def test_company_and_category_views(db: Database) -> None:
    _seed(db)
    doc = scope3.summary(db, parse_period("2026-Q4"), CONFIG, company="acme", category=6, now=NOW)
    assert doc["scope"] == {"level": "company", "company": "acme", "category": 6}
    assert [b["company"] for b in doc["companies"]] == ["acme"]
    assert doc["totals"]["inventory"]["total"]["co2e_g"] == METRO_10KM_G
    assert [c["category"] for c in doc["totals"]["inventory"]["categories"]] == [6]
    with pytest.raises(NotFound):
        scope3.summary(db, parse_period("2026-Q4"), CONFIG, company="nobody", now=NOW)
    month = scope3.summary(db, parse_period("2026-11"), CONFIG, company="acme", now=NOW)
    assert month["totals"]["withheld"] is True  # 3 reporting employees in November, fewer than 5


def test_company_admins_see_only_their_company() -> None:
    assert scope3.authorize_company("company_admin", "acme", None) == "acme"
    assert scope3.authorize_company("park_manager", None, None) is None
    with pytest.raises(PermissionDenied):
        scope3.authorize_company("company_admin", "acme", "globex")
    with pytest.raises(PermissionDenied):
        scope3.authorize_company("company_admin", None, None)


def test_extrapolation_is_separate(db: Database) -> None:
    _seed(db)
    scope3.set_headcount(db, "acme", 20, "company_admin", now=NOW)
    doc = scope3.summary(db, parse_period("2026-Q4"), CONFIG, extrapolate=True, now=NOW)
    acme = doc["companies"][0]
    measured = _cat(acme, 7)["co2e_g"]
    assert acme["extrapolation"]["estimate"]["co2e_g"] == round(measured * 12 / 8)
    assert acme["inventory"]["total"]["co2e_g"] == measured + METRO_10KM_G  # estimate not added
    assert not doc["companies"][1]["extrapolation"]["available"]


def test_headcount_validation(db: Database) -> None:
    with pytest.raises(InvalidInput):
        scope3.set_headcount(db, "acme", 0, "operator")
    scope3.set_headcount(db, "acme", 5, "operator", now=NOW)
    scope3.set_headcount(db, "acme", 7, "operator", now=NOW)
    assert scope3.list_headcounts(db) == [
        {"company": "acme", "headcount": 7, "updated_at": NOW.isoformat(), "updated_by_role": "operator"}
    ]


def test_close_freezes_logs_and_queues_the_push(db: Database) -> None:
    _seed(db)
    october = parse_period("2026-10")
    with pytest.raises(InvalidInput):
        scope3_close.close_period(
            db, parse_period("2026-11"), CONFIG, "park_manager", "pm-1", b"s" * 32, now=NOW
        )
    close = scope3_close.close_period(db, october, CONFIG, "park_manager", "pm-1", b"s" * 32, now=NOW)
    assert close["revision"] == 0 and close["cutoff_tree_size"] == 14 and close["leaf_index"] == 14
    with db.read_sessions() as session:
        leaf = session.get(LogLeafRow, close["leaf_index"])
        assert leaf is not None and leaf.kind == "period_close"
        body = json.loads(leaf.leaf)["body"]
        assert body["summary"]["park"]["inventory"]["total"]["co2e_g"] == 11 * METRO_10KM_G
        assert b"pm-1" not in leaf.leaf
        (delivery,) = session.execute(select(FeedDeliveryRow)).scalars()
        assert delivery.event == "period_close" and delivery.status == "pending"
        assert json.loads(delivery.body)["data"]["summary_sha256"] == close["summary_sha256"]
    with pytest.raises(Conflict):
        scope3_close.close_period(db, october, CONFIG, "park_manager", "pm-1", b"s" * 32, now=NOW)

    # A late October record does not change the frozen totals; it shows as a change since the close.
    _trip(db, Caller("acme-eng-5", "acme", "eng"), OCT + timedelta(days=1), "k-late-0001")
    frozen = scope3.summary(db, october, CONFIG, now=NOW)
    assert frozen["status"] == "closed" and frozen["close"]["revision"] == 0
    assert frozen["totals"]["inventory"]["total"]["co2e_g"] == 11 * METRO_10KM_G
    assert frozen["changes_since_close"] == [
        {"company": "acme", "category": 7, "records": 1, "co2e_g": 614, "co2e_kg": 0.614, "co2e_t": 0.001}
    ]
    with pytest.raises(InvalidInput):
        scope3_close.restate_period(db, october, CONFIG, "  ", "park_manager", "pm-1", b"s" * 32, now=NOW)
    restated = scope3_close.restate_period(
        db, october, CONFIG, "late transit-card upload", "park_manager", "pm-1", b"s" * 32, now=NOW
    )
    assert restated["revision"] == 1 and restated["kind"] == "restatement"
    after = scope3.summary(db, october, CONFIG, now=NOW)
    assert after["totals"]["inventory"]["total"]["co2e_g"] == 12 * METRO_10KM_G
    assert after["changes_since_close"] == []
    assert [c["revision"] for c in scope3_close.list_closes(db)] == [1, 0]
    with db.read_sessions() as session:
        assert len(list(session.execute(select(FeedDeliveryRow)).scalars())) == 2
    with pytest.raises(Conflict):
        scope3_close.restate_period(
            db, parse_period("2026-09"), CONFIG, "x", "park_manager", "p", b"s" * 32, now=NOW
        )


def test_explain_lists_factors_and_protects_small_departments(db: Database) -> None:
    _seed(db)
    period = parse_period("2026-Q4")
    result = scope3_explain.explain(db, period, CONFIG, company="acme", category=7)
    assert result["figure"]["inventory"]["co2e_g"] == 8 * METRO_10KM_G and result["figure"]["records"] == 8
    assert {(f["role"], f["id"], f["records"]) for f in result["factors"]} == {
        ("actual", "rail.metro.cn-beijing", 8),
        ("baseline", "car.petrol.avg", 8),
    }
    assert result["method"]["method_en"] == "Distance-based method"
    assert result["sources"] == {"self_reported": 8}
    # ops (2 < 5) is withheld, and eng with it (acme minus eng would be ops), as in the summary
    for department in ("eng", "ops"):
        hidden = scope3_explain.explain(db, period, CONFIG, company="acme", department=department)
        assert hidden["withheld"] is True and "figure" not in hidden
    globex = scope3_explain.explain(db, period, CONFIG, company="globex", department="sales")
    assert globex["figure"]["records"] == 5
    with pytest.raises(InvalidInput):
        scope3_explain.explain(db, period, CONFIG, department="eng")


def test_a_close_too_large_for_a_tile_entry_logs_the_summary_by_its_hash(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A park with many companies has a summary longer than a C2SP tile entry allows (a 16-bit
    length): the leaf then carries ``summary`` null and the hash, the stored record the summary."""
    _seed(db)
    october = parse_period("2026-10")
    with db.read_sessions() as session:
        small = scope3.compute(session, october, CONFIG, 14, NOW, extrapolate=True)
    limit = len(json.dumps(small)) // 2  # the whole summary no longer fits; the rest of the leaf does
    monkeypatch.setattr(tiles, "MAX_ENTRY_BYTES", limit)
    close = scope3_close.close_period(db, october, CONFIG, "park_manager", "pm-1", b"s" * 32, now=NOW)
    with db.read_sessions() as session:
        leaf = session.get(LogLeafRow, close["leaf_index"])
        assert leaf is not None and len(leaf.leaf) <= limit
        record = json.loads(leaf.leaf)
        stored = audit_records.close_record(session.get(PeriodCloseRow, close["id"]))
    assert record["body"]["summary"] is None and record["body"]["summary_sha256"] == close["summary_sha256"]
    assert decode(leaf.leaf).body.summary is None  # a valid version-2 record
    assert record_differences(record, stored) == []
    assert sha256_hex(canonical_json(stored["summary"])) == close["summary_sha256"]
    # an edited stored summary is named; a stored record without one cannot stand in for the leaf
    assert record_differences(record, {**stored, "summary": {"edited": True}}) == [
        "summary: the stored summary does not hash to the logged summary_sha256"
    ]
    assert record_differences(record, {**stored, "summary": None}) == [
        "summary: the leaf leaves it out for its size and nothing stored holds it"
    ]
    # a restatement whose changes alone overflow an entry is refused, in both languages, and writes nothing
    _trip(db, Caller("acme-eng-5", "acme", "eng"), OCT + timedelta(days=1), "k-late-0001")
    monkeypatch.setattr(tiles, "MAX_ENTRY_BYTES", 600)
    with pytest.raises(Conflict, match=r"too many for one log entry.*按季度或月份"):
        scope3_close.restate_period(
            db, october, CONFIG, "late data", "park_manager", "pm-1", b"s" * 32, now=NOW
        )
    assert [c["revision"] for c in scope3_close.list_closes(db)] == [0]
