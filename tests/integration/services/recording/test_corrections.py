"""Reversals: a new logged record referencing the corrected one; the original leaf stays as it was."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.adapters.orm_points import PointsTransferRow
from backend.adapters.orm_privacy import SubjectKeyRow
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.startup import build_runtime
from backend.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.domain.log import merkle
from backend.domain.log.commitments import commit_text
from backend.domain.points import points as ledger
from backend.services.anchoring.anchoring import checkpoint_meta
from backend.services.points import points
from backend.services.points.issuance import issuance_transfer_id
from backend.services.recording.corrections import Actor, points_take_back, reverse_activity
from tests.integration import chainkit

OPERATOR = Actor("operator", "ops-1", None)


@pytest.fixture
def runtime(migrated_database_url: str, tmp_path: Path) -> Runtime:
    settings = chainkit.settings_for(
        tmp_path / "var", migrated_database_url, "http://127.0.0.1:1", points_per_kg=100
    )
    built = build_runtime(settings, with_chain=False)
    yield built
    built.db.dispose()


def _leaf(db: Database, index: int) -> LogLeafRow:
    with db.read_sessions() as session:
        leaf = SqlLogStore(session).leaf(index)
    assert leaf is not None
    return leaf


def test_reversal_is_logged_and_the_original_is_untouched(runtime: Runtime) -> None:
    db = runtime.db
    first, second = chainkit.record(runtime, 2)
    size = chainkit.log_size(runtime)  # the activities and their points transfers
    original = _leaf(db, 0)
    result = reverse_activity(db, OPERATOR, first, "duplicate", "  same trip twice ", runtime.subject_key)
    assert result.created and result.activity.status == "reversed" and result.row.note == "same trip twice"
    assert result.row.leaf_index == size
    again = _leaf(db, 0)
    assert (again.leaf, again.leaf_hash) == (original.leaf, original.leaf_hash)

    record = json.loads(_leaf(db, size).leaf)
    assert record["kind"] == "correction" and record["id"] == result.row.id
    body = record["body"]
    assert body["corrects"] == {
        "kind": "activity",
        "id": first,
        "leaf_index": 0,
        "leaf_hash": "0x" + original.leaf_hash.hex(),
    }
    assert body["reversed"]["co2e_avoided_g"] == -result.activity.co2e_avoided_g < 0
    with db.read_sessions() as session:
        key = session.get(SubjectKeyRow, result.activity.subject_id)
    assert key is not None and key.key is not None
    assert body["note"] == commit_text(key.key, "note", "same trip twice")  # the owner's key, not the text
    assert "same trip twice" not in _leaf(db, size).leaf.decode()  # the note itself is not logged
    assert record["subject"] == json.loads(original.leaf)["subject"]
    assert body["reversed"]["points"] == -result.activity.points < 0
    assert merkle.leaf_hash(_leaf(db, size).leaf) == _leaf(db, size).leaf_hash

    with db.read_sessions() as session:
        rows = {r.id: r for r in session.execute(select(ActivityRow)).scalars()}
        after = json.loads(checkpoint_meta(session, size + 1))["totals"]
        before = json.loads(checkpoint_meta(session, size))["totals"]
    assert rows[first].status == "reversed" and rows[second].status == "accepted"
    assert before["activities"] == 2 and before["reversals"] == 0
    assert after == {
        "activities": 1,
        "co2e_avoided_g": rows[second].co2e_avoided_g,
        "co2e_scope3_g": rows[second].co2e_scope3_g,
        "points_issued": rows[second].points,
        "reversals": 1,
    }


def test_retries_replay_and_a_second_reversal_conflicts(runtime: Runtime) -> None:
    db = runtime.db
    (activity,) = chainkit.record(runtime, 1)
    size = chainkit.log_size(runtime)
    created = reverse_activity(db, OPERATOR, activity, "other", "see case 17", runtime.subject_key)
    replay = reverse_activity(db, OPERATOR, activity, "other", "see case 17", runtime.subject_key)
    assert not replay.created and replay.row.id == created.row.id
    with pytest.raises(Conflict, match="already reversed"):
        reverse_activity(db, OPERATOR, activity, "duplicate", None, runtime.subject_key)
    # one correction and the transfer taking its points back, however often asked
    assert chainkit.log_size(runtime) == size + 2


def test_who_may_reverse_what(runtime: Runtime) -> None:
    db = runtime.db
    (activity,) = chainkit.record(runtime, 1, org="acme")
    with pytest.raises(NotFound):
        reverse_activity(
            db, Actor("company_admin", "adm-2", "globex"), activity, "duplicate", None, runtime.subject_key
        )
    with pytest.raises(PermissionDenied):
        reverse_activity(
            db, Actor("employee", "emp-0000", "acme"), activity, "duplicate", None, runtime.subject_key
        )
    with pytest.raises(InvalidInput, match="note"):
        reverse_activity(db, OPERATOR, activity, "other", "   ", runtime.subject_key)
    with pytest.raises(InvalidInput, match="reason_code"):
        reverse_activity(db, OPERATOR, activity, "because", None, runtime.subject_key)
    with pytest.raises(NotFound):
        reverse_activity(db, OPERATOR, "no-such-id", "duplicate", None, runtime.subject_key)
    done = reverse_activity(
        db, Actor("company_admin", "adm-1", "acme"), activity, "duplicate", None, runtime.subject_key
    )
    assert done.created


def test_reversal_over_http(runtime: Runtime) -> None:
    api = chainkit.client(runtime)
    (activity,) = chainkit.record(runtime, 1, org="acme")
    size = chainkit.log_size(runtime)
    url = f"/api/v1/activities/{activity}/reversal"
    admin = chainkit.auth(runtime, "company_admin", "adm-1", "acme")
    body = {"reason_code": "data_entry_error", "note": "km typed as m"}

    assert (
        api.post(url, json=body, headers=chainkit.auth(runtime, "employee", "emp-0000", "acme")).status_code
        == 403
    )
    bad = api.post(url, json={"reason_code": "nope"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason_code"
    created = api.post(url, json=body, headers=admin)
    assert created.status_code == 201, created.text
    public = created.json()
    assert public["activity_status"] == "reversed" and public["leaf_index"] == size
    assert public["reversed"]["points"] < 0 and public["receipt_url"] == f"/audit/v1/receipts/{size}"
    earned = public["points"]["earned"]
    assert public["points"] == {
        "earned": earned,
        "taken_back": earned,
        "not_recovered": 0,
        "transfer_id": public["points"]["transfer_id"],
    }
    assert public["reversed"]["points"] == -earned
    assert f"{earned:,} of its {earned:,} points were taken back" in public["summary_en"]
    assert f"已从员工余额收回 {earned:,}" in public["summary_zh"]
    assert api.post(url, json=body, headers=admin).json() == public
    assert api.post(url, json=body, headers=admin).status_code == 200
    conflict = api.post(url, json={"reason_code": "duplicate"}, headers=admin)
    assert conflict.status_code == 409 and conflict.headers["content-type"] == "application/problem+json"
    other_company = chainkit.auth(runtime, "company_admin", "adm-9", "globex")
    assert api.post(url, json=body, headers=other_company).status_code == 404


def _balance(runtime: Runtime, subject: str) -> int:
    with runtime.db.read_sessions() as session:
        return points.balance_of(session, ledger.employee_account(subject)).points


def test_a_reversal_takes_back_the_activitys_points(runtime: Runtime) -> None:
    """Regression: the reversal left the balance untouched though its reply said "points": -57."""
    (activity,) = chainkit.record(runtime, 1)
    earned = _balance(runtime, "emp-0000")
    assert earned > 0
    result = reverse_activity(runtime.db, OPERATOR, activity, "duplicate", None, runtime.subject_key)
    assert _balance(runtime, "emp-0000") == 0
    taken = points_take_back(runtime.db, activity)
    assert (taken.earned, taken.taken_back, taken.not_recovered) == (earned, earned, 0)
    with runtime.db.read_sessions() as session:
        transfer = session.get(PointsTransferRow, taken.transfer_id)
        leaf = SqlLogStore(session).leaf(result.row.leaf_index + 1)
    assert transfer is not None and transfer.kind == "correction" and transfer.amount == earned
    assert transfer.reverses_id == issuance_transfer_id(activity) and transfer.reason_code == "duplicate"
    assert leaf is not None and leaf.kind == "points_transfer" and leaf.record_id == transfer.id
    logged = json.loads(_leaf(runtime.db, result.row.leaf_index).leaf)["body"]
    assert logged["points_transfer"] == transfer.id


def test_points_already_spent_stay_spent_and_the_reply_says_so(runtime: Runtime) -> None:
    (activity,) = chainkit.record(runtime, 1, org="acme")
    earned = _balance(runtime, "emp-0000")
    spent = earned // 2 + 1
    points.correct(
        runtime.db,
        runtime.subject_key,
        transfer_id="partial-1",
        reverses_id=issuance_transfer_id(activity),
        reason_code="operator_error",
        amount=spent,
        note=None,
        actor="ops-1",
        actor_org=None,
        now=datetime.now(UTC),
    )
    api = chainkit.client(runtime)
    answer = api.post(
        f"/api/v1/activities/{activity}/reversal",
        json={"reason_code": "not_eligible"},
        headers=chainkit.auth(runtime, "operator", "ops-1"),
    )
    assert answer.status_code == 201, answer.text
    public = answer.json()
    assert public["points"]["taken_back"] == earned - spent
    assert public["points"]["not_recovered"] == spent
    assert public["reversed"]["points"] == -(earned - spent)
    assert f"({spent:,} had already been spent or reversed and stay)" in public["summary_en"]
    assert _balance(runtime, "emp-0000") == 0


def test_a_reversal_with_nothing_left_to_take_back_moves_no_points(runtime: Runtime) -> None:
    (activity,) = chainkit.record(runtime, 1)
    spend_all = points.correct(
        runtime.db,
        runtime.subject_key,
        transfer_id="all-1",
        reverses_id=issuance_transfer_id(activity),
        reason_code="operator_error",
        amount=None,
        note=None,
        actor="ops-1",
        actor_org=None,
        now=datetime.now(UTC),
    )
    assert spend_all.created
    size = chainkit.log_size(runtime)
    result = reverse_activity(runtime.db, OPERATOR, activity, "duplicate", None, runtime.subject_key)
    assert chainkit.log_size(runtime) == size + 1  # nothing left to take back: no transfer
    assert json.loads(_leaf(runtime.db, result.row.leaf_index).leaf)["body"]["points_transfer"] is None
