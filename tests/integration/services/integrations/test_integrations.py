"""Data-source webhooks end to end: signed batches, bad signatures, replays, idempotent
re-deliveries, attribution only through consented bindings, duplicates, per-source rates."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from backend.adapters.database import Database
from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.adapters.orm_identity import BindingRow
from backend.services.identity import enrollment
from backend.services.integrations import integrations
from tests.figures import figures
from tests.integration.api_harness import Api

CARD = "3104-8870-1122-9"
NOW = datetime.now(UTC)


class Park:
    def __init__(self, db: Database, tmp_path: Path, **settings: Any) -> None:
        self.api = Api(db, tmp_path, **settings)
        self.db = db
        enrollment.create_company(db, "acme", "Acme", NOW)
        enrolled = enrollment.enroll_employee(db, "acme", "E1", None, None, timedelta(days=1), "adm", NOW)
        self.employee_id = enrolled.employee.id
        login = self.api.client.post(
            "/mp/v1/auth/login", json={"code": "dev:wx-1", "invitation_code": enrolled.invitation_code}
        )
        self.employee = {"Authorization": f"Bearer {login.json()['access_token']}"}
        operator = self.api.auth("operator", "op-1")
        source = self.api.client.post(
            "/api/v1/integrations/sources",
            json={
                "id": "metro-gates",
                "name": "Metro gates",
                "kind": "transit_gate",
                "activity_types": ["metro"],
                "max_records_per_min": 50,
            },
            headers=operator,
        )
        assert source.status_code == 201, source.text
        self.secret = source.json()["secret"]

    def code_for(self, account: str = CARD, source: str = "metro-gates", secret: str | None = None) -> Any:
        """The source asks for a binding code for one of its accounts, signed like a delivery."""
        body = json.dumps({"account": account, "nonce": uuid.uuid4().hex}).encode()
        timestamp, signature = integrations.signature_header(secret or self.secret, body)
        headers = {"X-Carbon-Timestamp": timestamp, "X-Carbon-Signature": signature}
        return self.api.client.post(f"/integrations/v1/{source}/binding-codes", content=body, headers=headers)

    def bind(self, identifier: str = CARD, days_ago: int = 2, code: str | None = None) -> Any:
        """Binds the card with a code its source issued (a fresh one unless given); ``days_ago``
        backdates the consent so earlier trips are covered."""
        if code is None:
            issued = self.code_for(identifier)
            assert issued.status_code == 201, issued.text
            code = issued.json()["code"]
        body = {"kind": "transit_card", "identifier": identifier, "label": "my card", "consent": True}
        response = self.api.client.post("/mp/v1/bindings", json={**body, "code": code}, headers=self.employee)
        if response.status_code == 201 and days_ago:
            with self.db.write_sessions() as session, session.begin():
                row = session.get(BindingRow, response.json()["id"])
                assert row is not None
                row.consented_at = NOW - timedelta(days=days_ago)
        return response

    def send(
        self,
        records: list[dict[str, Any]],
        secret: str | None = None,
        stamp: int | None = None,
        raw: bytes | None = None,
    ) -> Any:
        body = raw if raw is not None else json.dumps({"records": records}).encode()
        timestamp, signature = integrations.signature_header(secret or self.secret, body, stamp)
        headers = {
            "X-Carbon-Timestamp": timestamp,
            "X-Carbon-Signature": signature,
            "Content-Type": "application/json",
        }
        return self.api.client.post("/integrations/v1/metro-gates/records", content=body, headers=headers)


def trip(
    record_id: str, minutes_from_now: int = 1, km: float = 12.4, account: str = CARD, **extra: Any
) -> dict[str, Any]:
    when = datetime.now(UTC) + timedelta(minutes=minutes_from_now)  # the clock now: consent is "now" too
    return {
        "record_id": record_id,
        "account": account,
        "type": "metro",
        "occurred_at": when.isoformat(),
        "distance_km": km,
        "duration_min": 30,
        **extra,
    }


@pytest.fixture
def park(db: Database, tmp_path: Path) -> Park:
    return Park(db, tmp_path)


def _count(db: Database, table: type) -> int:
    with db.read_sessions() as session:
        return len(list(session.execute(select(table)).scalars()))


def test_signed_batch_is_matched_only_through_consented_bindings(park: Park, db: Database) -> None:
    assert park.bind().status_code == 201
    assert park.bind().status_code == 200  # binding again is idempotent
    response = park.send(
        [trip("T-1"), trip("T-2", account="9999-0000"), trip("T-3", km=-4), {"record_id": "T-4"}]
    )
    assert response.status_code == 200, response.text
    results = {r["record_id"]: r for r in response.json()["results"]}
    assert results["T-1"]["outcome"] == "accepted" and results["T-1"]["activity_id"]
    assert results["T-2"]["outcome"] == "unmatched" and results["T-2"]["field"] == "account"
    assert results["T-3"]["outcome"] == "rejected" and results["T-3"]["field"] == "distance_km"
    assert results["T-4"]["outcome"] == "rejected"
    nameless = park.send([{"account": CARD}, "not an object"]).json()["results"]
    assert [(r["record_id"], r["field"]) for r in nameless] == [("#0", "record_id"), ("#1", "record_id")]
    mine = park.api.client.get("/mp/v1/activities", headers=park.employee).json()["items"]
    assert [a["id"] for a in mine] == [results["T-1"]["activity_id"]]
    with db.read_sessions() as session:
        row = session.get(ActivityRow, results["T-1"]["activity_id"])
        assert row is not None and row.source == "integration:metro-gates"
        # 57 under park-default-2026.1; from 2027-01-01 the set then in force decides
        avoided, _, _ = figures(trip("T-1"), row.occurred_at, (579, 761, 7))
        assert (row.co2e_avoided_g, row.points) == (avoided, avoided // 10)
        leaves = b"".join(leaf.leaf for leaf in session.execute(select(LogLeafRow)).scalars())
        stored = session.execute(text("SELECT * FROM bindings")).all()
    # 12.4 km of metro avoids 579 g under the built-in factor set
    # (tests/unit/domain/accounting/test_worked_examples.py):
    # 57 points at the default 100 points/kg, credited at once (a signed source needs no review).
    # The card number is never stored or logged raw.
    assert CARD.encode() not in leaves and all(CARD not in str(r) for r in stored)


def test_bad_signatures_stale_timestamps_and_replays_are_refused(park: Park, db: Database) -> None:
    park.bind()
    records = [trip("T-1")]
    assert park.send(records, secret="not-the-secret").status_code == 401
    stale = park.send(records, stamp=int(time.time()) - 3600)
    assert stale.status_code == 401 and "timestamp" in stale.json()["detail"]
    body = json.dumps({"records": records}).encode()
    stamp, signature = integrations.signature_header(park.secret, body)
    headers = {"X-Carbon-Timestamp": stamp, "X-Carbon-Signature": signature}
    tampered = park.api.client.post(
        "/integrations/v1/metro-gates/records", content=body.replace(b"12.4", b"42.4"), headers=headers
    )
    assert tampered.status_code == 401
    unsigned = park.api.client.post("/integrations/v1/metro-gates/records", content=body)
    assert unsigned.status_code == 401 and unsigned.json()["type"].endswith("/signature-invalid")
    assert _count(db, ActivityRow) == 0
    first = park.api.client.post("/integrations/v1/metro-gates/records", content=body, headers=headers)
    assert first.status_code == 200
    replay = park.api.client.post("/integrations/v1/metro-gates/records", content=body, headers=headers)
    assert replay.status_code == 409 and replay.json()["type"].endswith("/replay")
    assert _count(db, ActivityRow) == 1


def test_redelivery_is_idempotent_by_the_sources_record_id(park: Park, db: Database) -> None:
    park.bind()
    record = trip("T-1")
    first = park.send([record]).json()["results"][0]
    again = park.send([record, trip("T-2", minutes_from_now=-120)]).json()["results"]
    assert again[0] == {**first, "replayed": True}
    assert again[1]["outcome"] == "accepted"
    changed = park.send([{**record, "distance_km": 20}]).json()["results"][0]
    assert changed["outcome"] == "conflict"
    assert _count(db, ActivityRow) == 2


def test_a_trip_reported_by_hand_and_by_the_gates_is_credited_once(park: Park, db: Database) -> None:
    park.bind()
    gate = park.send([trip("T-1", minutes_from_now=-60)]).json()["results"][0]
    assert gate["outcome"] == "accepted"
    manual = {
        "type": "metro",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=50)).isoformat(),
        "distance_km": 12.0,
    }
    headers = {**park.employee, "Idempotency-Key": str(uuid.uuid4())}
    refused = park.api.client.post("/mp/v1/activities", json=manual, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["rule"] == "duplicate" and gate["activity_id"] in refused.json()["detail"]
    # The other way round: reported by hand first, then delivered by the source. The primary record
    # supersedes the self-report (a logged correction takes it, and its points, back): one credit.
    manual["occurred_at"] = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
    first = park.api.client.post(
        "/mp/v1/activities", json=manual, headers={**park.employee, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert first.status_code == 201 and first.json()["points"] > 0
    balance = park.api.client.get("/mp/v1/points", headers=park.employee).json()["balance"]
    late = park.send([trip("T-2", minutes_from_now=-300 + 8)]).json()["results"][0]
    assert late["outcome"] == "accepted", late
    assert _count(db, ActivityRow) == 3
    with db.read_sessions() as session:
        replaced = session.get(ActivityRow, first.json()["id"])
        gate_row = session.get(ActivityRow, late["activity_id"])
        assert replaced is not None and gate_row is not None
        assert replaced.status == "reversed" and gate_row.status == "accepted"
        correction = session.execute(select(LogLeafRow).where(LogLeafRow.kind == "correction")).scalar_one()
        body = json.loads(correction.leaf)["body"]
    assert body["reason_code"] == "superseded_by_primary" and body["superseded_by"] == late["activity_id"]
    after = park.api.client.get("/mp/v1/points", headers=park.employee).json()["balance"]
    assert after == balance - first.json()["points"] + gate_row.points


def test_a_delivery_is_decided_as_if_its_records_came_one_by_one(db: Database, tmp_path: Path) -> None:
    """One employee's trips in one delivery, another's (the same trips) one delivery each: the
    same outcomes and points — duplicates within the batch, caps and cool-downs across it."""
    park = Park(db, tmp_path, points_daily_count_cap=2, points_cooldown_s=3 * 3600)
    park.bind()
    other = enrollment.enroll_employee(db, "acme", "E2", None, None, timedelta(days=1), "adm", NOW).employee
    integrations.add_binding(
        db,
        other.id,
        "transit_card",
        "OTHER-CARD",
        None,
        park.api.runtime.subject_key,
        NOW - timedelta(days=2),
        code=park.code_for("OTHER-CARD").json()["code"],
    )
    shape = [(-240, 12.4), (-232, 12.0), (-170, 10.0), (-110, 11.0), (-50, 9.0), (-49, 9.2)]

    def records(prefix: str, account: str) -> list[dict[str, Any]]:
        return [trip(f"{prefix}-{i}", at, km, account=account) for i, (at, km) in enumerate(shape)]

    together = park.send(records("A", CARD)).json()["results"]
    apart = [park.send([record]).json()["results"][0] for record in records("B", "OTHER-CARD")]

    def decided(results: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
        with db.read_sessions() as session:
            rows = {r.id: r for r in session.execute(select(ActivityRow)).scalars()}
        return [(r["outcome"], rows[r["activity_id"]].points if r["activity_id"] else None) for r in results]

    assert decided(together) == decided(apart)
    outcomes = [outcome for outcome, _ in decided(together)]
    assert outcomes.count("duplicate") == 2 and outcomes[1] == outcomes[5] == "duplicate"
    points = [p for _, p in decided(together) if p is not None]
    assert points.count(0) >= 1  # the cool-down (or the daily count cap) held inside the batch


def test_consent_is_not_retroactive_and_can_be_withdrawn(park: Park, db: Database) -> None:
    binding = park.bind(days_ago=0).json()
    before = park.send([trip("T-0", minutes_from_now=-90)]).json()["results"][0]
    assert before["outcome"] == "unmatched"  # the trip predates the consent
    withdrawn = park.api.client.delete(f"/mp/v1/bindings/{binding['id']}", headers=park.employee)
    assert withdrawn.status_code == 200 and withdrawn.json()["revoked_at"]
    assert park.send([trip("T-1")]).json()["results"][0]["outcome"] == "unmatched"
    assert park.bind(days_ago=0).status_code == 201
    # An unmatched record is not final: delivered again after binding, it is processed.
    assert park.send([trip("T-1", minutes_from_now=2)]).json()["results"][0]["outcome"] == "accepted"


def test_someone_elses_card_cannot_be_bound(park: Park, db: Database) -> None:
    park.bind()
    other = enrollment.enroll_employee(db, "acme", "E2", None, None, timedelta(days=1), "adm", NOW)
    login = park.api.client.post(
        "/mp/v1/auth/login", json={"code": "dev:wx-2", "invitation_code": other.invitation_code}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    code = park.code_for(CARD).json()["code"]  # even with a valid code for the card
    taken = park.api.client.post(
        "/mp/v1/bindings",
        json={"kind": "transit_card", "identifier": CARD, "consent": True, "code": code},
        headers=headers,
    )
    assert taken.status_code == 409
    no_consent = park.api.client.post(
        "/mp/v1/bindings", json={"kind": "transit_card", "identifier": "x", "consent": False}, headers=headers
    )
    assert no_consent.status_code == 422 and no_consent.json()["errors"][0]["field"] == "consent"


def test_route_coordinates_and_types_are_checked(park: Park) -> None:
    park.bind()
    tiananmen, sanyuanqiao = {"lat": 39.9087, "lon": 116.3975}, {"lat": 39.9610, "lon": 116.4560}
    short = trip("T-1", km=2.0, start=tiananmen, end=sanyuanqiao)  # ~7.6 km apart as the crow flies
    fine = trip("T-2", minutes_from_now=-200, km=9.5, start=tiananmen, end=sanyuanqiao)
    bus = {**trip("T-3", minutes_from_now=-400), "type": "bus"}
    results = {r["record_id"]: r for r in park.send([short, fine, bus]).json()["results"]}
    assert results["T-1"]["outcome"] == "rejected" and "straight line" in results["T-1"]["reason"]
    assert results["T-2"]["outcome"] == "accepted"
    assert results["T-3"]["outcome"] == "rejected"


def test_per_source_rate_limit_and_batch_bounds(park: Park) -> None:
    park.bind()
    batch = [trip(f"R-{i}", minutes_from_now=-60 * i) for i in range(1, 31)]
    assert park.send(batch).status_code == 200
    limited = park.send([trip(f"S-{i}", minutes_from_now=-60 * i - 30) for i in range(1, 25)])
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    too_many = park.send([{"record_id": f"X-{i}"} for i in range(integrations.MAX_BATCH_RECORDS + 1)])
    assert too_many.status_code == 422
    assert park.send([], raw=b"not json").status_code == 422
    assert park.send([], raw=b'{"records": 5}').status_code == 422


def test_secret_rotation_keeps_the_old_secret_for_a_grace_period(park: Park) -> None:
    park.bind()
    operator = park.api.auth("operator", "op-1")
    rotated = park.api.client.post("/api/v1/integrations/sources/metro-gates/rotate-secret", headers=operator)
    assert rotated.status_code == 200 and rotated.json()["previous_secret_valid_until"]
    assert park.send([trip("T-1")]).status_code == 200  # old secret, within the grace period
    assert park.send([trip("T-2", minutes_from_now=-100)], secret=rotated.json()["secret"]).status_code == 200
    disabled = park.api.client.patch(
        "/api/v1/integrations/sources/metro-gates", json={"enabled": False}, headers=operator
    )
    assert disabled.status_code == 200 and disabled.json()["disabled_at"]
    assert park.send([trip("T-3", minutes_from_now=-200)], secret=rotated.json()["secret"]).status_code == 401


def test_a_waste_contractor_delivers_the_company_s_office_waste_without_points(
    park: Park, db: Database
) -> None:
    operator = park.api.auth("operator", "op-1")
    created = park.api.client.post(
        "/api/v1/integrations/sources",
        json={
            "id": "waste-co",
            "name": "Acme's waste contractor",
            "kind": "waste_contractor",
            "activity_types": ["recycling"],
            "max_records_per_min": 50,
        },
        headers=operator,
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    code = park.code_for("CONTRACT-77", source=created.json()["id"], secret=secret).json()["code"]
    body = {"kind": "waste_contract", "identifier": "CONTRACT-77", "consent": True, "code": code}
    assert park.api.client.post("/mp/v1/bindings", json=body, headers=park.employee).status_code == 201
    when = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    weighing = {"account": "CONTRACT-77", "type": "recycling", "occurred_at": when, "material": "paper"}
    records = [
        {**weighing, "record_id": "W-1", "weight_kg": 120},
        {**weighing, "record_id": "W-2", "weight_kg": 40, "scope": "home"},
        {
            "record_id": "W-3",
            "account": "CONTRACT-77",
            "type": "metro",
            "occurred_at": when,
            "distance_km": 5,
        },
    ]
    raw = json.dumps({"records": records}).encode()
    stamp, signature = integrations.signature_header(secret, raw)
    response = park.api.client.post(
        "/integrations/v1/waste-co/records",
        content=raw,
        headers={
            "X-Carbon-Timestamp": stamp,
            "X-Carbon-Signature": signature,
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 200, response.text
    results = {r["record_id"]: r for r in response.json()["results"]}
    assert [results[k]["outcome"] for k in ("W-1", "W-2", "W-3")] == ["accepted", "rejected", "rejected"]
    assert (results["W-2"]["field"], results["W-3"]["field"]) == ("scope", "type")
    with db.read_sessions() as session:
        row = session.get(ActivityRow, results["W-1"]["activity_id"])
        assert row is not None
        # office waste, Scope 3 category 5, counted for the company and earning no points
        assert (row.scope3_category, row.points, row.quantities["scope"]) == (5, 0, "office")
        assert row.co2e_scope3_g > 0


def test_binding_needs_a_one_time_code_from_the_cards_source(park: Park, db: Database) -> None:
    body = {"kind": "transit_card", "identifier": CARD, "consent": True}
    old_client = park.api.client.post("/mp/v1/bindings", json=body, headers=park.employee)
    assert old_client.status_code == 422, old_client.text
    problem = old_client.json()
    assert problem["errors"][0]["field"] == "code" and "binding code" in problem["detail"]
    assert "绑定码" in problem["detail"]
    unsigned = park.api.client.post("/integrations/v1/metro-gates/binding-codes", json={"account": CARD})
    assert unsigned.status_code == 401
    forged = park.code_for(CARD, secret="not-the-secret")
    assert forged.status_code == 401
    issued = park.code_for(CARD)
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    assert issued.json()["kind"] == "transit_card" and len(code) == 9
    other_card = park.code_for("5555-0000").json()["code"]
    wrong_card = park.bind(code=other_card)  # a code proves only the account it was issued for
    assert wrong_card.status_code == 422 and wrong_card.json()["errors"][0]["field"] == "code"
    for _ in range(integrations.binding_codes.MAX_ATTEMPTS - 1):
        assert park.bind(code="AAAA-AAAA").status_code == 422
    exhausted = park.bind(code=code)  # five wrong codes: even the right one no longer works
    assert exhausted.status_code == 422 and "new one" in exhausted.json()["detail"]
    fresh = park.code_for(CARD).json()["code"]
    assert park.bind(code=fresh.lower().replace("-", "")).status_code == 201  # typed loosely
    assert park.bind(code=fresh).status_code == 200  # already mine: idempotent
    with db.read_sessions() as session:
        (stored,) = session.execute(select(BindingRow)).scalars()
    assert CARD not in stored.identifier_hash


def test_a_used_or_expired_binding_code_is_refused(park: Park, db: Database) -> None:
    code = park.code_for(CARD).json()["code"]
    with db.write_sessions() as session, session.begin():
        session.execute(text("UPDATE binding_codes SET expires_at = :t"), {"t": NOW - timedelta(seconds=1)})
    expired = park.bind(code=code)
    assert expired.status_code == 422 and "expired or was used" in expired.json()["detail"]
    code = park.code_for(CARD).json()["code"]
    binding = park.bind(code=code).json()
    park.api.client.delete(f"/mp/v1/bindings/{binding['id']}", headers=park.employee)
    assert park.bind(code=code).status_code == 422  # single use
