"""Reversals: a new logged record referencing the corrected one; the original leaf stays as it was."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.startup import build_runtime
from backend.domain import merkle
from backend.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.services.anchoring import checkpoint_meta
from backend.services.corrections import Actor, reverse_activity
from tests.integration import chainkit

OPERATOR = Actor("operator", "ops-1", None)


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Runtime:
    settings = chainkit.settings_for(tmp_path / "var", database_url, "http://127.0.0.1:1", points_per_kg=100)
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
    assert body["note_sha256"] == "0x" + hashlib.sha256(b"same trip twice").hexdigest()
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
    assert chainkit.log_size(runtime) == size + 1  # one correction, however often asked


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
    assert api.post(url, json=body, headers=admin).json() == public
    assert api.post(url, json=body, headers=admin).status_code == 200
    conflict = api.post(url, json={"reason_code": "duplicate"}, headers=admin)
    assert conflict.status_code == 409 and conflict.headers["content-type"] == "application/problem+json"
    other_company = chainkit.auth(runtime, "company_admin", "adm-9", "globex")
    assert api.post(url, json=body, headers=other_company).status_code == 404
