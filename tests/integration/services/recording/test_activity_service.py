"""The activity use case against real SQLite and PostgreSQL: atomic, idempotent, logged."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.domain.errors import IdempotencyConflict, InvalidInput
from backend.domain.log import merkle
from backend.services.recording import group_commit
from backend.services.recording.activities import Caller, IssuancePolicy, RecordedActivity, record_activity
from tests.waiting import wait_for

POLICY = IssuancePolicy(
    points_per_kg=100, subject_key=b"k" * 32, max_age=timedelta(days=366), clock_skew=timedelta(minutes=5)
)
ALICE = Caller("alice", "acme")
WHEN = datetime(2026, 11, 20, 8, 10, tzinfo=UTC)


def _metro(km: str = "12.4") -> dict[str, object]:
    return {"type": "metro", "occurred_at": WHEN.isoformat(), "distance_km": km}


def _count(db: Database, table: type) -> int:
    with db.read_sessions() as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def test_record_stores_activity_and_leaf_together(db: Database) -> None:
    result = record_activity(db, ALICE, "key-00000001", _metro(), WHEN, POLICY)
    assert result.created
    # default baseline city_mode_mix: 12.4 km × 0.0467 = 0.57908 kg → 579 g, 57 points; 12.4 × 0.0614 → 761 g
    assert (result.row.co2e_avoided_g, result.row.co2e_scope3_g, result.row.points) == (579, 761, 57)
    with db.read_sessions() as session:
        leaf = SqlLogStore(session).leaf(result.row.leaf_index)
        assert leaf is not None and leaf.record_id == result.row.id
        assert b"alice" not in leaf.leaf  # no raw identifier in the log
        assert SqlLogStore(session).root(1) == merkle.leaf_hash(leaf.leaf)


def test_replay_returns_original_and_stores_nothing(db: Database) -> None:
    first = record_activity(db, ALICE, "key-00000002", _metro(), WHEN, POLICY)
    again = record_activity(db, ALICE, "key-00000002", _metro(), WHEN, POLICY)
    assert not again.created and again.row.id == first.row.id
    # Two leaves: the activity and its points issuance transfer.
    assert _count(db, ActivityRow) == 1 and _count(db, LogLeafRow) == 2


def test_same_key_other_body_conflicts(db: Database) -> None:
    record_activity(db, ALICE, "key-00000003", _metro(), WHEN, POLICY)
    with pytest.raises(IdempotencyConflict):
        record_activity(db, ALICE, "key-00000003", _metro("3"), WHEN, POLICY)
    assert _count(db, ActivityRow) == 1


def test_keys_are_per_employee(db: Database) -> None:
    record_activity(db, ALICE, "key-00000004", _metro(), WHEN, POLICY)
    record_activity(db, Caller("bob", "acme"), "key-00000004", _metro(), WHEN, POLICY)
    assert _count(db, ActivityRow) == 2


def test_invalid_input_writes_nothing(db: Database) -> None:
    with pytest.raises(InvalidInput) as err:
        record_activity(db, ALICE, "key-00000005", _metro(), WHEN + timedelta(days=1), POLICY, now=WHEN)
    assert err.value.field == "occurred_at"
    with pytest.raises(InvalidInput):
        record_activity(db, ALICE, "key-00000006", _metro("999"), WHEN, POLICY)
    assert _count(db, ActivityRow) == 0 and _count(db, LogLeafRow) == 0
    with db.read_sessions() as session:
        assert SqlLogStore(session).size() == 0


def test_concurrent_appends_keep_the_log_dense_and_consistent(db: Database) -> None:
    def submit(i: int) -> str:
        return record_activity(
            db, Caller(f"user-{i % 5}", "acme"), f"key-c-{i:08d}", _metro(str(1 + i % 7)), WHEN, POLICY
        ).row.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(submit, range(40)))
    assert len(set(ids)) == 40
    with db.read_sessions() as session:
        store = SqlLogStore(session)
        assert store.size() == 80  # each activity and its points issuance transfer
        leaves = store.leaves(0, 100)
        assert [leaf.idx for leaf in leaves] == list(range(80))
        compact = merkle.CompactRange()
        for leaf in leaves:
            compact.append(leaf.leaf_hash)
        assert store.root(80) == compact.root()
        for index in (0, 37, 79):
            proof = store.inclusion_proof(index, 80)
            merkle.verify_inclusion(leaves[index].leaf_hash, index, 80, proof, compact.root())


def test_concurrent_replays_of_one_key_store_once(db: Database) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda _: record_activity(db, ALICE, "key-race-0001", _metro(), WHEN, POLICY), range(16))
        )
    assert sum(r.created for r in results) == 1
    assert len({r.row.id for r in results}) == 1
    assert _count(db, ActivityRow) == 1 and _count(db, LogLeafRow) == 2


def _held_turn(db: Database, submitters: int, submit: Callable[[int], object]) -> list[object]:
    """Runs ``submit`` in threads while the group committer's turn is held, so that every draft
    waits in the queue; then lets them go. Returns each call's result or exception."""
    committer = group_commit.committer_for(db)

    def call(i: int) -> object:
        try:
            return submit(i)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=submitters) as pool:
        with committer.hold():
            futures = [pool.submit(call, i) for i in range(submitters)]
            wait_for(f"{submitters} waiting submitters", lambda: committer.waiting() == submitters, 10, 0.01)
        return [f.result() for f in futures]


def test_concurrent_requests_share_one_transaction(db: Database) -> None:
    commits = []
    event.listen(db.engine, "commit", lambda _conn: commits.append(1))

    def submit(i: int) -> object:
        km = "999" if i == 3 else str(1 + i)  # one invalid draft refuses only itself
        return record_activity(db, Caller(f"user-{i}", "acme"), f"key-g-{i:08d}", _metro(km), WHEN, POLICY)

    results = _held_turn(db, 12, submit)
    assert isinstance(results[3], InvalidInput) and results[3].field == "distance_km"
    recorded = [r for r in results if isinstance(r, RecordedActivity)]
    assert len(recorded) == 11 and all(r.created for r in recorded)
    assert len(commits) == 1  # one group, one commit
    indices = sorted(r.row.leaf_index for r in recorded)
    assert indices == sorted(set(indices)) and _count(db, LogLeafRow) == 22


def test_a_group_that_fails_is_retried_draft_by_draft(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    real = group_commit.record_many

    def failing(db: Database, drafts: Any, *args: Any) -> Any:
        if any(d.idempotency_key == "key-poison-01" for d in drafts):
            raise RuntimeError("the database fell over")
        return real(db, drafts, *args)

    monkeypatch.setattr(group_commit, "record_many", failing)

    def submit(i: int) -> object:
        key = "key-poison-01" if i == 2 else f"key-p-{i:08d}"
        return record_activity(db, Caller(f"user-{i}", "acme"), key, _metro(), WHEN, POLICY)

    results = _held_turn(db, 6, submit)
    assert isinstance(results[2], RuntimeError)
    assert all(isinstance(r, RecordedActivity) and r.created for i, r in enumerate(results) if i != 2)
    assert _count(db, ActivityRow) == 5
