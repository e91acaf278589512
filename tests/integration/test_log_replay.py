"""verify-log replays every state change: decisions, reversals and points are derived from the log,
and stored figures that differ from the replay are named (real Anvil, in-process API)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from backend.adapters.orm import ActivityRow
from backend.adapters.orm_points import PointsAccountRow, PointsTransferRow
from backend.entrypoints.cli import audit as audit_cli
from backend.entrypoints.cli.audit_client import Target
from backend.runtime import Runtime
from backend.scheduler import anchoring_job
from deploy.anvil import AnvilProcess
from deploy.compile import ContractArtifact
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
def runtime(anvil: AnvilProcess, ledger_artifact: ContractArtifact, tmp_path: Path) -> Runtime:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    settings = chainkit.settings_for(tmp_path / "var", url, anvil.rpc_url, points_per_kg=100)
    runtime = chainkit.runtime_for(settings, ledger_artifact)
    yield runtime
    runtime.db.dispose()


def test_approving_a_flagged_activity_keeps_the_log_valid(
    runtime: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: the decision used to change the stored status with nothing logged that
    verify-log replayed ("status: logged 'flagged', stored 'accepted'")."""
    approved = _trip(runtime, "emp-1", 50, 3)
    rejected = _trip(runtime, "emp-2", 55, 30)
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
    assert ledger_view.status_code in (200, 403)  # the read model is what verify-log checks


def test_activity_points_edited_are_named(
    runtime: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    trip = _trip(runtime, "emp-1", 8, 8, evidence_ref="photo:abc")
    with runtime.db.write_sessions() as session, session.begin():
        session.execute(update(ActivityRow).where(ActivityRow.id == trip["id"]).values(points=9_999))
    code, out = _verify_log(runtime, anvil, capsys)
    assert code == 1
    assert f"stored points 9999, the logged issuance transfers add up to {trip['points']}" in out
