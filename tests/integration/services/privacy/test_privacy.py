"""Nothing a person typed enters the permanent log: leaves carry salted commitments (HMAC under the
person's key) of review reasons, correction notes, evidence references and source record ids,
while the text stays in the database and verify-log still finds every record as it was logged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend.adapters.anvil import AnvilProcess
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.orm import ActivityRow
from backend.adapters.orm_corrections import CorrectionRow
from backend.adapters.orm_identity import BindingRow, EmployeeRow
from backend.adapters.orm_integrations import ReviewRow
from backend.adapters.orm_privacy import SubjectKeyRow
from backend.bootstrap.runtime import Runtime
from backend.domain.log.commitments import commit_text, is_commitment
from backend.entrypoints.cli import audit as audit_cli
from backend.entrypoints.cli.audit_client import Target
from backend.entrypoints.worker.scheduler import anchoring_job
from backend.services.identity import binding_codes, enrollment
from backend.services.integrations import integrations
from backend.services.recording.corrections import Actor, reverse_activity
from tests.figures import RIDE_OVER_SELF_REPORT_LIMIT
from tests.integration import chainkit

pytestmark = pytest.mark.anvil

PHONE = "13800138000"
ID_CARD = "11010519491231002X"
REASON = f"checked with 王芳 by phone {PHONE}, ID card {ID_CARD}"
EVIDENCE = f"photo of ticket, call me on {PHONE}"
SOURCE_RECORD = f"PNR-{ID_CARD}"
NOTE = f"double entry, confirmed with {PHONE}"
NAME = "王芳"
EMPLOYEE_NO = "E-20931"
CARD = "31-0000-1234-5678"
SECRETS = (PHONE, ID_CARD, NAME, EVIDENCE, SOURCE_RECORD)


@dataclass
class Park:
    runtime: Runtime
    http: Any
    employee: str
    ids: dict[str, str]


def _post(park: Park, body: dict[str, Any]) -> dict[str, Any]:
    headers = {
        **chainkit.auth(park.runtime, "employee", park.employee, "acme"),
        "Idempotency-Key": str(uuid.uuid4()),
    }
    response = park.http.post("/mp/v1/activities", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def park(
    anvil: AnvilProcess, ledger_artifact: ContractArtifact, migrated_database_url: str, tmp_path: Path
) -> Iterator[Park]:
    url = migrated_database_url  # SQLite and PostgreSQL
    runtime = chainkit.runtime_for(
        chainkit.settings_for(tmp_path / "var", url, anvil.rpc_url, 100), ledger_artifact
    )
    now = datetime.now(UTC)
    enrollment.create_company(runtime.db, "acme", "Acme", now)
    enrolled = enrollment.enroll_employee(
        runtime.db, "acme", EMPLOYEE_NO, None, NAME, timedelta(days=7), "adm-1", now
    )
    # the card's source issues the one-time code that proves the employee holds it
    source, _secret = integrations.register_source(
        runtime.db, "metro-gates", "Metro", "transit_gate", ["metro"], 60, now
    )
    hashed = integrations.binding_hash(runtime.subject_key, "transit_card", CARD)
    code = binding_codes.issue_code(runtime.db, source, hashed, now).code
    integrations.add_binding(
        runtime.db,
        enrolled.employee.id,
        "transit_card",
        CARD,
        f"{NAME}的公交卡",
        runtime.subject_key,
        now,
        code=code,
    )
    park = Park(runtime, chainkit.client(runtime), enrolled.employee.id, {})
    when = datetime.now(UTC) - timedelta(hours=3)
    evidenced = _post(
        park,
        {"type": "metro", "occurred_at": when.isoformat(), "distance_km": 8, "evidence_ref": EVIDENCE},
    )
    sourced = _post(
        park,
        {
            "type": "metro",
            "occurred_at": (when - timedelta(hours=2)).isoformat(),
            "distance_km": 6,
            "source_record_id": SOURCE_RECORD,
        },
    )
    flagged = _post(
        park, {**RIDE_OVER_SELF_REPORT_LIMIT, "occurred_at": (when - timedelta(hours=5)).isoformat()}
    )
    assert flagged["status"] == "flagged"
    decided = park.http.post(
        f"/api/v1/companies/acme/reviews/{flagged['id']}",
        json={"decision": "approve", "reason": REASON},
        headers=chainkit.auth(runtime, "company_admin", "adm-1", "acme"),
    )
    assert decided.status_code in (200, 201), decided.text
    reverse_activity(
        runtime.db, Actor("operator", "ops-1", None), sourced["id"], "other", NOTE, runtime.subject_key
    )
    anchoring_job(runtime)
    park.ids = {"evidenced": evidenced["id"], "sourced": sourced["id"], "flagged": flagged["id"]}
    yield park
    runtime.db.dispose()


def _leaves(park: Park) -> list[bytes]:
    response = park.http.get("/audit/v1/leaves", params={"limit": 1000}, headers=chainkit.auth(park.runtime))
    assert response.status_code == 200
    return [bytes.fromhex(leaf["leaf"][2:]) for leaf in response.json()["leaves"]]


def verify_log(park: Park, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    target = Target(
        api="http://testserver", rpc=anvil.rpc_url, profile="anvil", token=chainkit.token(park.runtime)
    )
    code = audit_cli.check_log(target, quiet=True, client=chainkit.client(park.runtime))
    return code, capsys.readouterr().out


def test_free_text_is_committed_to_not_logged(
    park: Park, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    leaves = _leaves(park)
    assert len(leaves) >= 6  # three activities, their issuance, a review, a correction
    for leaf in leaves:
        text = leaf.decode()
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} is in a leaf: {text[:200]}"

    with park.runtime.db.read_sessions() as session:
        key = session.get(SubjectKeyRow, park.employee)
        review = session.get(ReviewRow, park.ids["flagged"])
        correction = session.execute(select(CorrectionRow)).scalar_one()
        evidenced = session.get(ActivityRow, park.ids["evidenced"])
    assert key is not None and key.key is not None and len(key.key) == 32
    # the text stays in the database, where it can be erased
    assert review is not None and review.reason == REASON and correction.note == NOTE
    assert evidenced is not None and evidenced.quantities["evidence_ref"] == EVIDENCE
    # and the leaves carry its commitment under the person's key, in the documented encoding
    logged = b"".join(leaves).decode()
    for field, text in (("reason", REASON), ("note", NOTE), ("evidence_ref", EVIDENCE)):
        commitment = commit_text(key.key, field, text)
        assert is_commitment(commitment) and f'"{field}":"{commitment}"' in logged
    assert f'"source_record_id":"{commit_text(key.key, "source_record_id", SOURCE_RECORD)}"' in logged

    code, out = verify_log(park, anvil, capsys)
    assert_valid_but_for_reviews(code, out)


def assert_valid_but_for_reviews(code: int, out: str) -> None:
    """verify-log finds every record as logged. A review decision's status change is not yet
    replayed by verify-log (issue 13 item 1, in progress elsewhere): that one finding is allowed."""
    problems = [line for line in out.splitlines() if line.lstrip().startswith("- ")]
    allowed = [p for p in problems if "status: logged 'flagged', stored 'accepted'" in p]
    assert code == 0 or (problems and problems == allowed), out


def test_a_changed_stored_text_is_named_by_verify_log(
    park: Park, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    with park.runtime.db.write_sessions() as session, session.begin():
        row = session.get(ActivityRow, park.ids["evidenced"])
        assert row is not None
        row.quantities = {**row.quantities, "evidence_ref": "another photo"}
    code, out = verify_log(park, anvil, capsys)
    assert code == 1
    assert f"activity record {park.ids['evidenced']}): stored record differs" in out and "quantities" in out


def _erase(park: Park, subject: str, basis: str = "employee_request") -> Any:
    return park.http.post(
        "/api/v1/privacy/erasures",
        json={"subject": subject, "basis": basis},
        headers=chainkit.auth(park.runtime, "operator", "ops-1"),
    )


def test_erasure_removes_the_person_and_their_key_and_everything_still_verifies(
    park: Park, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    auditor = chainkit.auth(park.runtime)
    before = _leaves(park)
    totals = park.http.get("/api/v1/points/ledger", headers=auditor).json()
    receipt_index = park.http.get("/audit/v1/records", headers=auditor).json()["records"][0]["leaf_index"]
    receipt = park.http.get(f"/audit/v1/receipts/{receipt_index}", headers=auditor).json()
    with park.runtime.db.read_sessions() as session:
        key = session.get(SubjectKeyRow, park.employee)
        assert key is not None and key.key is not None
        commitments = {
            "reason": commit_text(key.key, "reason", REASON),
            "note": commit_text(key.key, "note", NOTE),
            "evidence_ref": commit_text(key.key, "evidence_ref", EVIDENCE),
        }

    # only operators erase; the basis is one of PIPL art. 47's
    refused = park.http.post(
        "/api/v1/privacy/erasures",
        json={"subject": park.employee, "basis": "employee_request"},
        headers=chainkit.auth(park.runtime, "company_admin", "adm-1", "acme"),
    )
    assert refused.status_code == 403
    bad = _erase(park, park.employee, basis="because")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].endswith("basis")
    assert _erase(park, "nobody-at-all").status_code == 404

    erased = _erase(park, park.employee)
    assert erased.status_code == 201, erased.text
    result = erased.json()
    assert result["erased"]["texts"] == 4 and result["erased"]["bindings"] == 1  # 2 quantities, reason, note
    again = _erase(park, park.employee)
    assert again.status_code == 200 and again.json()["id"] == result["id"]

    after = _leaves(park)
    assert after[: len(before)] == before and len(after) == len(before) + 1  # nothing rewritten
    erasure_leaf = after[result["leaf_index"]].decode()
    assert '"kind":"erasure"' in erasure_leaf and '"subject":null' in erasure_leaf
    for personal in (park.employee, EMPLOYEE_NO, *SECRETS, *commitments.values()):
        assert personal not in erasure_leaf

    with park.runtime.db.read_sessions() as session:
        key = session.get(SubjectKeyRow, park.employee)
        employee = session.get(EmployeeRow, park.employee)
        binding = session.execute(select(BindingRow)).scalar_one()
        review = session.get(ReviewRow, park.ids["flagged"])
        correction = session.execute(select(CorrectionRow)).scalar_one()
        evidenced = session.get(ActivityRow, park.ids["evidenced"])
    assert key is not None and key.key is None and key.erased_at is not None
    assert employee is not None and employee.status == "erased" and employee.display_name is None
    assert employee.employee_no != EMPLOYEE_NO and binding.label is None and binding.active_hash is None
    assert review is not None and review.reason == commitments["reason"]
    assert correction.note == commitments["note"]
    assert evidenced is not None and evidenced.quantities["evidence_ref"] == commitments["evidence_ref"]

    # receipts, totals, checkpoints and the stored records still verify
    anchoring_job(park.runtime)
    assert park.http.get(f"/audit/v1/receipts/{receipt_index}", headers=auditor).json() == receipt
    assert park.http.get("/api/v1/points/ledger", headers=auditor).json()["totals"] == totals["totals"]
    code, out = verify_log(park, anvil, capsys)
    assert_valid_but_for_reviews(code, out)
