"""Status decisions on recorded activities (accepted / flagged / rejected), the review queue,
per-employee rate limits and aggregates with small groups suppressed."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from backend.adapters.database import Database
from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.domain.accounting.activities import points_for
from backend.domain.recording.recognition import RecognitionRules
from backend.services.recording.activities import Caller, record_activity
from tests.figures import RIDE_OVER_SELF_REPORT_LIMIT as RIDE
from tests.integration.api_harness import Api

NOW = datetime.now(UTC)


def _post(api: Api, headers: dict[str, str], km: float, hours_ago: float, **extra: Any) -> Any:
    body = {
        "type": "metro",
        "occurred_at": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "distance_km": km,
        **extra,
    }
    return api.client.post(
        "/mp/v1/activities", json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
    )


def _count(db: Database, table: type) -> int:
    with db.read_sessions() as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def test_implausible_activities_are_rejected_and_nothing_is_stored(db: Database, tmp_path: Path) -> None:
    api = Api(db, tmp_path)
    employee = api.auth("employee", "emp-1", "acme")
    rejected = _post(api, employee, 60, 3, duration_min=10)  # 360 km/h on the metro
    assert rejected.status_code == 422
    problem = rejected.json()
    assert problem["type"].endswith("/activity-rejected") and problem["rule"] == "mode_speed"
    assert problem["errors"][0]["field"] == "duration_min" and "360.0 km/h" in problem["detail"]
    assert _count(db, ActivityRow) == 0 and _count(db, LogLeafRow) == 0


def test_flagged_activities_wait_for_review_then_are_credited_or_not(db: Database, tmp_path: Path) -> None:
    api = Api(db, tmp_path)
    employee = api.auth("employee", "emp-1", "acme", "rd")
    admin = api.auth("company_admin", "adm-1", "acme")
    # without evidence: over 2 kg avoided
    big = _post(api, employee, RIDE["distance_km"], 3, type=RIDE["type"])
    assert big.status_code == 201 and (big.json()["status"], big.json()["points"]) == ("flagged", 0)
    assert big.json()["co2e_avoided_g"] > RecognitionRules().self_report_auto_max_g
    small = _post(api, employee, 8, 8, evidence_ref="photo:abc")
    assert small.json()["status"] == "accepted" and small.json()["points"] > 0
    flagged_id = big.json()["id"]

    queue = api.client.get("/api/v1/companies/acme/reviews", headers=admin).json()
    assert [i["activity_id"] for i in queue["items"]] == [flagged_id]
    assert queue["items"][0]["findings"][0]["rule"] == "evidence" and queue["items"][0]["evidence"] == "none"
    other_admin = api.auth("company_admin", "adm-9", "globex")
    assert api.client.get("/api/v1/companies/acme/reviews", headers=other_admin).status_code == 403
    wrong_company = api.client.post(
        f"/api/v1/companies/globex/reviews/{flagged_id}",
        json={"decision": "approve", "reason": "x"},
        headers=other_admin,
    )
    assert wrong_company.status_code == 404
    missing_reason = api.client.post(
        f"/api/v1/companies/acme/reviews/{flagged_id}", json={"decision": "approve"}, headers=admin
    )
    assert missing_reason.status_code == 422 and missing_reason.json()["errors"][0]["field"] == "reason"

    decision = {"decision": "approve", "reason": "transit card statement checked"}
    approved = api.client.post(f"/api/v1/companies/acme/reviews/{flagged_id}", json=decision, headers=admin)
    assert approved.status_code == 200, approved.text
    again = api.client.post(f"/api/v1/companies/acme/reviews/{flagged_id}", json=decision, headers=admin)
    assert again.json() == approved.json()  # a retried decision is the same decision
    flip = api.client.post(
        f"/api/v1/companies/acme/reviews/{flagged_id}",
        json={"decision": "reject", "reason": "no"},
        headers=admin,
    )
    assert flip.status_code == 409
    mine = api.client.get(f"/mp/v1/activities/{flagged_id}", headers=employee).json()
    assert mine["status"] == "accepted" and mine["points"] == points_for(mine["co2e_avoided_g"], 100) > 0
    with db.read_sessions() as session:
        leaf = session.get(LogLeafRow, approved.json()["leaf_index"])
    assert leaf is not None and leaf.kind == "review" and leaf.record_id == flagged_id
    logged = json.loads(leaf.leaf)
    assert logged["body"]["decision"] == "approve" and logged["body"]["reason"].startswith("hmac-sha256:")
    assert decision["reason"] not in leaf.leaf.decode()  # only its commitment is logged
    assert b"adm-1" not in leaf.leaf and b"emp-1" not in leaf.leaf  # commitments, not ids

    rejected_one = _post(api, employee, RIDE["distance_km"], 30, type=RIDE["type"])
    refused = api.client.post(
        f"/api/v1/companies/acme/reviews/{rejected_one.json()['id']}",
        json={"decision": "reject", "reason": "no such trip on the card"},
        headers=admin,
    )
    assert refused.status_code == 200
    after = api.client.get(f"/mp/v1/activities/{rejected_one.json()['id']}", headers=employee).json()
    assert (after["status"], after["points"]) == ("rejected", 0)
    decided = api.client.get("/api/v1/companies/acme/reviews?status=rejected", headers=admin).json()
    assert [i["review"]["reason"] for i in decided["items"]] == ["no such trip on the card"]
    not_flagged = api.client.post(
        f"/api/v1/companies/acme/reviews/{small.json()['id']}", json=decision, headers=admin
    )
    assert not_flagged.status_code == 409


def test_a_rejected_activity_no_longer_blocks_its_trip(db: Database, tmp_path: Path) -> None:
    api = Api(db, tmp_path)
    employee = api.auth("employee", "emp-1", "acme")
    admin = api.auth("company_admin", "adm-1", "acme")
    first = _post(api, employee, RIDE["distance_km"], 3, type=RIDE["type"])
    assert first.json()["status"] == "flagged"
    again = _post(api, employee, RIDE["distance_km"], 3, type=RIDE["type"])
    assert again.status_code == 422  # the same trip again: duplicate
    api.client.post(
        f"/api/v1/companies/acme/reviews/{first.json()['id']}",
        json={"decision": "reject", "reason": "typo"},
        headers=admin,
    )
    sourced = _post(api, employee, RIDE["distance_km"], 3, type=RIDE["type"], source_record_id="T-77")
    assert sourced.status_code == 201


def test_quantities_in_other_units_are_screened_like_km(db: Database, tmp_path: Path) -> None:
    api = Api(db, tmp_path)
    employee = api.auth("employee", "emp-1", "acme")
    # Over the 60 km a self-reported metro trip is credited without review, given in metres.
    long_trip = _post(api, employee, 70, 3, evidence_ref="photo:1")
    in_metres = _trip(api, employee, 9, distance=70_000, distance_unit="m", evidence_ref="photo:2")
    assert (long_trip.json()["status"], in_metres.json()["status"]) == ("flagged", "flagged")
    # The same trip reported again in miles is a duplicate, not a second credit.
    _trip(api, employee, 20, distance_km=8.047)
    again = _trip(api, employee, 20, distance=5, distance_unit="mi")
    assert again.status_code == 422 and again.json()["rule"] == "duplicate"
    # An implausible speed given in hours is refused like one given in minutes.
    fast = _trip(api, employee, 30, distance_km=60, duration="0.25", duration_unit="h")
    assert fast.status_code == 422 and fast.json()["rule"] == "mode_speed"


def _trip(api: Api, headers: dict[str, str], hours_ago: float, **quantities: Any) -> Any:
    body = {"type": "metro", "occurred_at": (NOW - timedelta(hours=hours_ago)).isoformat(), **quantities}
    return api.client.post(
        "/mp/v1/activities", json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
    )


def test_employees_are_rate_limited(db: Database, tmp_path: Path) -> None:
    api = Api(db, tmp_path, employee_activities_per_hour=3)
    employee = api.auth("employee", "emp-1", "acme")
    for i in range(3):
        assert _post(api, employee, 5 + 3 * i, 1 + i).status_code == 201
    limited = _post(api, employee, 30, 9)
    assert limited.status_code == 429 and limited.json()["type"].endswith("/rate-limited")
    assert 3500 < int(limited.headers["Retry-After"]) <= 3601
    assert _post(api, api.auth("employee", "emp-2", "acme"), 5, 1).status_code == 201  # per employee


def test_aggregates_never_show_small_groups_or_individuals(db: Database, tmp_path: Path) -> None:
    api = Api(db, tmp_path, min_group_size=5)
    people = {("acme", "rd"): 5, ("acme", "ops"): 2, ("globex", "hq"): 3, ("initech", "hq"): 3}
    for (org, dept), n in people.items():
        for i in range(n):
            payload = {
                "type": "metro",
                "occurred_at": (NOW - timedelta(hours=2)).isoformat(),
                "distance_km": "10",
            }
            caller = Caller(f"{org}-{dept}-{i}", org, dept)
            record_activity(
                db, caller, f"k-{org}-{dept}-{i}", payload, NOW - timedelta(hours=2), api.runtime.issuance
            )
    manager = api.auth("park_manager", "pm-1")
    park = api.client.get("/api/v1/aggregates", headers=manager).json()
    assert [(g["key"], g["people"]) for g in park["groups"]] == [("acme", 7)]
    assert park["other"]["people"] == 6 and park["pooled_groups"] == 2
    assert park["groups"][0]["co2e_avoided_g"] == 7 * park["other"]["co2e_avoided_g"] // 6
    assert "emp" not in json.dumps(park) and "subject" not in json.dumps(park)

    by_dept = api.client.get("/api/v1/aggregates?group_by=department&company=acme", headers=manager).json()
    # ops (2 people) alone would be revealed by "other": rd joins the pool, nothing shown apart.
    assert by_dept["groups"] == [] and by_dept["other"]["people"] == 7
    admin = api.client.get("/api/v1/aggregates", headers=api.auth("company_admin", "adm-1", "acme")).json()
    assert admin["company"] == "acme" and admin["group_by"] == "department"
    denied = api.client.get(
        "/api/v1/aggregates?company=globex", headers=api.auth("company_admin", "adm-1", "acme")
    )
    assert denied.status_code == 403
    assert api.client.get("/api/v1/aggregates", headers=api.auth("employee", "e", "acme")).status_code == 403
    tiny = api.client.get("/api/v1/aggregates?company=globex", headers=manager).json()
    assert tiny["suppressed"] and tiny["groups"] == [] and tiny["other"] is None
