"""verify-log replays every state change: decisions, reversals and points are derived from the log,
and stored figures that differ from the replay are named (real Anvil, in-process API)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from backend.adapters.anvil import AnvilProcess
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow
from backend.adapters.orm_points import PointsAccountRow, PointsTransferRow
from backend.adapters.orm_scope3 import PeriodSignoffRow
from backend.bootstrap.runtime import Runtime
from backend.domain.log import commitments
from backend.entrypoints.cli import audit as audit_cli
from backend.entrypoints.cli.audit_client import Target
from backend.entrypoints.worker.scheduler import anchoring_job
from tests.figures import RIDE_OVER_SELF_REPORT_LIMIT as RIDE
from tests.integration import chainkit

pytestmark = pytest.mark.anvil


def _trip(runtime: Runtime, employee: str, km: float, hours_ago: float, **extra: Any) -> dict[str, Any]:
    client = chainkit.client(runtime)
    body = {
        "type": "metro",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat(),
        "distance_km": km,
        **extra,
    }
    headers = {**chainkit.auth(runtime, "employee", employee, "acme"), "Idempotency-Key": str(uuid.uuid4())}
    answer = client.post("/mp/v1/activities", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _decide(runtime: Runtime, activity_id: str, decision: str) -> None:
    answer = chainkit.client(runtime).post(
        f"/api/v1/companies/acme/reviews/{activity_id}",
        json={"decision": decision, "reason": "checked against the card statement"},
        headers=chainkit.auth(runtime, "company_admin", "adm-1", "acme"),
    )
    assert answer.status_code == 200, answer.text


def _verify_log(runtime: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    anchoring_job(runtime)
    target = Target(
        api="http://testserver", rpc=anvil.rpc_url, profile="anvil", token=chainkit.token(runtime)
    )
    code = audit_cli.check_log(target, quiet=True, client=chainkit.client(runtime))
    return code, capsys.readouterr().out


@pytest.fixture
def runtime(
    anvil: AnvilProcess, ledger_artifact: ContractArtifact, tmp_path: Path, migrated_sqlite_url: str
) -> Iterator[Runtime]:
    settings = chainkit.settings_for(tmp_path / "var", migrated_sqlite_url, anvil.rpc_url, points_per_kg=100)
    runtime = chainkit.runtime_for(settings, ledger_artifact)
    yield runtime
    runtime.db.dispose()


def test_approving_a_flagged_activity_keeps_the_log_valid(
    runtime: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: the decision used to change the stored status with nothing logged that
    verify-log replayed ("status: logged 'flagged', stored 'accepted'")."""
    approved = _trip(runtime, "emp-1", RIDE["distance_km"], 3, type=RIDE["type"])
    rejected = _trip(runtime, "emp-2", RIDE["distance_km"], 30, type=RIDE["type"])
    assert approved["status"] == rejected["status"] == "flagged"
    _trip(runtime, "emp-1", 8, 8, evidence_ref="photo:abc")
    _decide(runtime, approved["id"], "approve")
    _decide(runtime, rejected["id"], "reject")
    code, out = _verify_log(runtime, anvil, capsys)
    assert code == 0, out
    assert out.startswith("valid:")

    # The replay, not the activity's own leaf, decides its status: an edit is still named.
    with runtime.db.write_sessions() as session, session.begin():
        session.execute(update(ActivityRow).where(ActivityRow.id == rejected["id"]).values(status="accepted"))
    code, out = _verify_log(runtime, anvil, capsys)
    assert code == 1
    assert (
        f"activity record {rejected['id']}): stored status 'accepted', the logged records make it 'rejected'"
        in out
    )


def test_a_transfer_edited_with_both_account_totals_is_named(
    runtime: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    trip = _trip(runtime, "emp-1", 8, 8, evidence_ref="photo:abc")
    assert trip["points"] > 0
    code, out = _verify_log(runtime, anvil, capsys)
    assert code == 0, out
    with runtime.db.write_sessions() as session, session.begin():
        transfer = session.execute(
            select(PointsTransferRow).where(PointsTransferRow.activity_id == trip["id"])
        ).scalar_one()
        transfer_id, grown = transfer.id, int(transfer.amount) + 100_000
        transfer.amount = grown
        for account in session.execute(
            select(PointsAccountRow).where(
                PointsAccountRow.id.in_([transfer.debit_account_id, transfer.credit_account_id])
            )
        ).scalars():
            if account.id == transfer.debit_account_id:
                account.debits_posted += 100_000
            else:
                account.credits_posted += 100_000
    ledger_view = chainkit.client(runtime).get(
        "/api/v1/points/ledger", headers=chainkit.auth(runtime, "operator", "ops-1")
    )
    code, out = _verify_log(runtime, anvil, capsys)
    assert code == 1, out
    named = f"(points_transfer record {transfer_id}): stored record differs from the logged one"
    assert f"{named}: amount: logged {trip['points']}, stored {grown}" in out
    assert "points account park:issuance: stored debits" in out
    assert "points account employee:0x" in out and f"balance {grown})" in out
    # The ledger check reads the database, where the edit adds up; verify-log (above) names it.
    assert ledger_view.status_code == 200, ledger_view.text
    assert ledger_view.json()["consistent"] is True


def test_activity_points_edited_are_named(
    runtime: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    trip = _trip(runtime, "emp-1", 8, 8, evidence_ref="photo:abc")
    with runtime.db.write_sessions() as session, session.begin():
        session.execute(update(ActivityRow).where(ActivityRow.id == trip["id"]).values(points=9_999))
    code, out = _verify_log(runtime, anvil, capsys)
    assert code == 1
    assert f"stored points 9999, the logged issuance transfers add up to {trip['points']}" in out


def test_a_restatement_and_an_auditors_signoff_are_logged_and_verified(
    runtime: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    client = chainkit.client(runtime)
    operator = chainkit.auth(runtime, "operator", "ops-1")
    auditor = chainkit.auth(runtime, "auditor", "auditor-7")
    period = chainkit.WHEN.strftime("%Y-%m")
    chainkit.record(runtime, 8)  # enough employees that the park's figures are not withheld
    closed = client.post(f"/api/v1/scope3/periods/{period}/close", headers=operator)
    assert closed.status_code == 201, closed.text
    chainkit.record(runtime, 1, start=8)  # late data for the closed month
    restated = client.post(
        f"/api/v1/scope3/periods/{period}/restatements", json={"reason": "late gate data"}, headers=operator
    )
    assert restated.status_code == 201, restated.text
    restatement = restated.json()
    with runtime.db.read_sessions() as session:
        leaf = SqlLogStore(session).leaf(restatement["leaf_index"])
    assert leaf is not None
    body = json.loads(leaf.leaf)["body"]
    assert body["kind"] == "restatement" and body["supersedes"] == closed.json()["id"]
    park_7 = next(c for c in body["changes"] if c["company"] is None and c["category"] == 7)
    assert park_7["before"]["records"] == 8 and park_7["after"]["records"] == 9
    assert park_7["after"]["co2e_g"] > park_7["before"]["co2e_g"]

    signoff = {"opinion": "unqualified", "statement": "Figures agree with the log."}
    refused = client.post(f"/api/v1/scope3/periods/{period}/signoffs", json=signoff, headers=operator)
    assert refused.status_code == 403
    signed = client.post(f"/api/v1/scope3/periods/{period}/signoffs", json=signoff, headers=auditor)
    assert signed.status_code == 201, signed.text
    public = signed.json()
    assert (public["revision"], public["close_id"]) == (1, restatement["id"])
    again = client.post(f"/api/v1/scope3/periods/{period}/signoffs", json=signoff, headers=auditor)
    assert again.status_code == 200 and again.json() == public
    other = client.post(
        f"/api/v1/scope3/periods/{period}/signoffs", json={"opinion": "qualified"}, headers=auditor
    )
    assert other.status_code == 409
    with runtime.db.read_sessions() as session:
        logged = SqlLogStore(session).leaf(public["leaf_index"])
    assert logged is not None and logged.kind == "period_signoff"
    assert b"Figures agree" not in logged.leaf and b"auditor-7" not in logged.leaf
    # the statement is a salted commitment under the auditor's key, not a guessable plain hash
    committed = json.loads(logged.leaf)["body"]["statement"]
    assert commitments.is_commitment(committed)
    assert hashlib.sha256(b"Figures agree with the log.").hexdigest() not in committed
    cli = Target(api="http://testserver", token=chainkit.token(runtime, "auditor", "auditor-8"))
    assert audit_cli.sign_off(cli, period, "qualified", 0, None, client=client) == 0
    assert f"signed off {period} revision 0: qualified" in capsys.readouterr().out
    assert audit_cli.sign_off(cli, period, "fine", None, None, client=client) == 2
    assert (
        f"not signed off: POST /api/v1/scope3/periods/{period}/signoffs answered 422"
        in capsys.readouterr().out
    )
    listed = client.get(f"/api/v1/scope3/periods/{period}/signoffs", headers=auditor).json()
    assert [s["revision"] for s in listed["signoffs"]] == [1, 0] and listed["signoffs"][0]["id"] == public[
        "id"
    ]
    code, out = _verify_log(runtime, anvil, capsys)
    assert code == 0, out

    with runtime.db.write_sessions() as session, session.begin():
        session.execute(
            update(PeriodSignoffRow).where(PeriodSignoffRow.id == public["id"]).values(opinion="adverse")
        )
    code, out = _verify_log(runtime, anvil, capsys)
    assert code == 1
    assert (
        f"(period_signoff record {public['id']}): stored record differs from the logged one: opinion" in out
    )
