"""Queued sequencing on PostgreSQL: records accepted without a leaf index, logged by the sequencer.

Accepting transactions queue their leaves under per-employee advisory locks; the sequencer (or any
inline append, first) appends them in queue order. Checked here: indices stay dense and every
queued leaf is logged exactly once, also with two sequencers at once and one killed mid-batch;
caps hold across processes; an inline record that follows a queued one is logged after it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from backend.adapters import migrations
from backend.adapters.database import Database, create_database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow, LogLeafRow, LogQueueRow
from backend.adapters.orm_points import PointsAccountRow, PointsTransferRow
from backend.bootstrap.settings import Settings
from backend.bootstrap.startup import build_runtime
from backend.domain.errors import ConfigurationError
from backend.domain.points import points as ledger
from backend.domain.points.points_rules import IssuanceRules
from backend.domain.states import ActivityStatus
from backend.services.points import points
from backend.services.recording import reviews, sequencing
from backend.services.recording.activities import (
    Caller,
    Draft,
    IssuancePolicy,
    RecordedActivity,
    record_activity,
    record_many,
)
from backend.services.recording.corrections import Actor, reverse_activity
from tests.waiting import wait_for

pytestmark = pytest.mark.postgres

POLICY = IssuancePolicy(
    points_per_kg=100, subject_key=b"k" * 32, max_age=timedelta(days=366), clock_skew=timedelta(minutes=5)
)
NOW = datetime.now(UTC).replace(microsecond=0)
WHEN = NOW - timedelta(hours=1)
ROOT = Path(__file__).resolve().parents[4]


def _metro(km: str = "12.4", when: datetime = WHEN) -> dict[str, object]:
    return {"type": "metro", "occurred_at": when.isoformat(), "distance_km": km}


def _open(url: str) -> Database:
    db = create_database(url, sequencing="queued")
    migrations.upgrade(db.engine)
    return db


@pytest.fixture
def qdb(postgres_url: str) -> Iterator[Database]:
    db = _open(postgres_url)
    try:
        yield db
    finally:
        db.dispose()


def _count(db: Database, table: type) -> int:
    with db.read_sessions() as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def _drafts(n: int, subjects: int = 7, prefix: str = "k") -> list[Draft]:
    return [
        Draft(Caller(f"emp-{i % subjects}", "acme"), f"{prefix}-{i:06d}", _metro(str(1 + i % 9)), WHEN)
        for i in range(n)
    ]


def _check_log(db: Database) -> tuple[int, int]:
    """Dense indices, every leaf once, every queued record's index naming its own leaf; (size, activities)."""
    with db.read_sessions() as session:
        size = SqlLogStore(session).size()
        leaves = list(session.execute(select(LogLeafRow.idx, LogLeafRow.kind, LogLeafRow.record_id)).all())
        activities: dict[str, int | None] = {
            str(rid): idx for rid, idx in session.execute(select(ActivityRow.id, ActivityRow.leaf_index))
        }
        transfers: dict[str, int | None] = {
            str(rid): idx
            for rid, idx in session.execute(select(PointsTransferRow.id, PointsTransferRow.leaf_index))
        }
    assert sorted(idx for idx, _, _ in leaves) == list(range(size))
    assert max(Counter((kind, rid) for _, kind, rid in leaves).values(), default=1) == 1
    by_leaf = {(kind, rid): idx for idx, kind, rid in leaves}
    assert activities == {rid: by_leaf[("activity", rid)] for rid in activities}
    assert transfers == {rid: by_leaf[("points_transfer", rid)] for rid in transfers}
    return size, len(activities)


def test_queued_activities_wait_for_the_sequencer_then_verify(qdb: Database) -> None:
    recorded = [
        record_activity(qdb, Caller("alice", "acme"), f"key-{i}", _metro(), WHEN, POLICY) for i in range(3)
    ]
    assert all(r.created and r.row.leaf_index is None for r in recorded)
    with qdb.read_sessions() as session:
        assert SqlLogStore(session).size() == 0
    assert sequencing.queue_length(qdb) == 6  # each activity and its issuance transfer
    # The employee's balance is there at once; the park's issuance is posted when logged, and the
    # audit counts the queued transfers as pending, not as a mismatch.
    with qdb.read_sessions() as session:
        assert points.balance_of(session, ledger.employee_account("alice")).points == 3 * 57
        park = session.get(PointsAccountRow, ledger.PARK_ISSUANCE)
        assert park is None or int(park.debits_posted) == 0
    assert points.audit_ledger(qdb).ok
    lines, total, balance = points.history(qdb, "alice", 2, 1)
    assert (total, balance, [line.balance_after for line in lines]) == (3, 171, [114, 57])

    assert sequencing.sequence_once(qdb) == 6
    assert sequencing.queue_length(qdb) == 0
    size, count = _check_log(qdb)
    assert (size, count) == (6, 3)
    with qdb.read_sessions() as session:
        order = [session.get(ActivityRow, r.row.id).leaf_index for r in recorded]  # type: ignore[union-attr]
        park = session.get(PointsAccountRow, ledger.PARK_ISSUANCE)
    assert order == [0, 2, 4]  # in the order accepted, each followed by its transfer
    assert park is not None and int(park.debits_posted) == 3 * 57
    assert points.audit_ledger(qdb).ok
    # A replay answers the stored activity, now with its index.
    again = record_activity(qdb, Caller("alice", "acme"), "key-0", _metro(), WHEN, POLICY)
    assert not again.created and again.row.leaf_index == 0


def test_daily_cap_holds_across_processes(postgres_url: str) -> None:
    """Two databases objects (two connection pools, two group committers: two processes' worth)
    record for one employee at once; the cap counts every accepted activity exactly once."""
    rules = IssuanceRules(employee_daily_points_cap=100)
    policy = IssuancePolicy(**{**POLICY.__dict__, "points_rules": rules})
    first, second = _open(postgres_url), _open(postgres_url)
    try:

        def record(i: int) -> RecordedActivity:
            db = first if i % 2 else second
            return record_activity(db, Caller("carol", "acme"), f"cap-{i}", _metro(), WHEN, policy)

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(record, range(16)))
        assert sum(r.row.points for r in results) == 100  # 57 + 43, then nothing that day
        assert sequencing.sequence_once(first) > 0
        _check_log(first)
        assert points.audit_ledger(first).ok
    finally:
        first.dispose()
        second.dispose()


def test_two_sequencers_at_once_log_every_leaf_once(qdb: Database) -> None:
    outcomes = record_many(qdb, _drafts(400), POLICY, NOW)
    assert all(isinstance(o, RecordedActivity) for o in outcomes)
    queued = sequencing.queue_length(qdb)
    assert queued == 800
    stop = threading.Event()

    def sequencer() -> int:
        done = 0
        while not stop.is_set():
            batch = sequencing.sequence_once(qdb, limit=37)
            done += batch
            if batch == 0 and sequencing.queue_length(qdb) == 0:
                break
        return done

    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(lambda _: sequencer(), range(2)))
    assert sum(counts) == queued and all(counts)  # both worked, together exactly once
    size, activities = _check_log(qdb)
    assert (size, activities) == (800, 400)
    assert points.audit_ledger(qdb).ok


def test_inline_record_after_a_queued_one_is_logged_after_it(qdb: Database) -> None:
    """A reversal (an inline append) of an activity still in the queue first sequences the queue."""
    recorded = record_activity(qdb, Caller("dave", "acme"), "rev-1", _metro(), WHEN, POLICY)
    assert recorded.row.leaf_index is None
    correction = reverse_activity(
        qdb, Actor("operator", "op-1", None), recorded.row.id, "duplicate", None, POLICY.subject_key
    )
    assert correction.activity.leaf_index is not None
    assert correction.row.leaf_index > correction.activity.leaf_index
    assert sequencing.queue_length(qdb) == 0
    with qdb.read_sessions() as session:
        leaf = session.get(LogLeafRow, correction.row.leaf_index)
        assert leaf is not None and f'"leaf_index":{correction.activity.leaf_index}'.encode() in leaf.leaf
    _check_log(qdb)
    assert points.audit_ledger(qdb).ok


def test_review_of_a_queued_activity_is_logged_after_it(qdb: Database) -> None:
    caller = Caller("erin", "acme", earns_points=False)  # one queued leaf: the activity's
    recorded = record_activity(qdb, caller, "rev-2", _metro(), WHEN, POLICY)
    with qdb.write_sessions() as session, session.begin():  # as the screen would have flagged it
        session.execute(update(ActivityRow).values(status=ActivityStatus.FLAGGED))
    assert sequencing.queue_length(qdb) == 1
    review = reviews.decide(qdb, "acme", recorded.row.id, "approve", "checked", "mgr-1", POLICY, NOW)
    with qdb.read_sessions() as session:
        activity = session.get(ActivityRow, recorded.row.id)
        assert activity is not None and activity.leaf_index is not None
        leaf = session.get(LogLeafRow, review.leaf_index)
    assert review.leaf_index > activity.leaf_index
    assert leaf is not None and f'"activity_leaf":{activity.leaf_index}'.encode() in leaf.leaf
    assert sequencing.queue_length(qdb) == 0
    _check_log(qdb)


def test_queued_needs_postgresql(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, sequencing="queued")
    with pytest.raises(ConfigurationError, match="PostgreSQL"):
        settings.check_sequencing()
    with pytest.raises(ConfigurationError, match="CARBON_SEQUENCING"):
        build_runtime(settings, with_chain=False)  # refused at start, before anything is created
    assert not (tmp_path / "carbon-ledger.sqlite3").exists()
    Settings(data_dir=tmp_path).check_sequencing()  # inline, the default, is fine
    Settings(
        data_dir=tmp_path, sequencing="queued", database_url="postgresql+psycopg://x/y"
    ).check_sequencing()


SEQUENCER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from backend.adapters.database import create_database
    from backend.entrypoints.worker.elector import Elector
    from backend.services.recording import sequencing

    db = create_database(sys.argv[1], sequencing="queued")
    elector = Elector(db, lease_s=1.0)
    while True:
        if elector.claim("sequencer") is not None:
            print("sequencing", flush=True)
            sequencing.run_for(db, 0.3)
        else:
            time.sleep(0.1)
    """
)


def _sequencer(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SEQUENCER_SCRIPT, url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_a_killed_sequencer_is_replaced_and_nothing_is_lost_or_doubled(
    qdb: Database, postgres_url: str
) -> None:
    first = _sequencer(postgres_url)
    second: subprocess.Popen[str] | None = None
    stop = threading.Event()
    written: list[int] = []

    def load() -> None:
        batch = 0
        while not stop.is_set():
            outcomes = record_many(qdb, _drafts(50, prefix=f"load{batch}"), POLICY, NOW)
            written.append(sum(isinstance(o, RecordedActivity) and o.created for o in outcomes))
            batch += 1

    loader = threading.Thread(target=load)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "sequencing"
        loader.start()
        wait_for("the first sequencer logs", lambda: _count(qdb, LogLeafRow) > 300 or None, timeout_s=30)
        os.kill(first.pid, signal.SIGKILL)  # most likely in the middle of a batch
        first.wait()
        second = _sequencer(postgres_url)
        wait_for("more deliveries", lambda: len(written) > 12 or None, timeout_s=30)
        stop.set()
        loader.join()
        wait_for("the queue drains", lambda: _count(qdb, LogQueueRow) == 0 or None, timeout_s=30)
    finally:
        stop.set()
        for proc in (first, second):
            if proc is not None:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
    size, activities = _check_log(qdb)
    assert activities == sum(written) and size == 2 * activities
    assert points.audit_ledger(qdb).ok


INLINE_APPEND_SCRIPT = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from backend.adapters.log_store import PendingLeaf, SqlLogStore
    from backend.bootstrap.settings import Settings
    from backend.bootstrap.startup import build_runtime

    settings = Settings(data_dir=Path(sys.argv[2]), database_url=sys.argv[1], sequencing="queued")
    runtime = build_runtime(settings, with_chain=False)
    with runtime.db.write_sessions() as session, session.begin():
        SqlLogStore(session).append([PendingLeaf("erasure", "inline-1", b'{"inline":1}')], datetime.now(UTC))
    print("appended", flush=True)
    """
)


def test_a_process_that_only_builds_a_runtime_can_append_after_queued_leaves(
    qdb: Database, postgres_url: str, tmp_path: Path
) -> None:
    """A command (erasure, sign-off, factor publication) runs in a process of its own that imports
    no scheduler: its inline append must still give the queued records their indices."""
    record_activity(qdb, Caller("e-cli", "acme", None), "k-cli-0001", _metro(), WHEN, POLICY, now=NOW)
    assert _count(qdb, LogQueueRow) > 0
    done = subprocess.run(
        [sys.executable, "-c", INLINE_APPEND_SCRIPT, postgres_url, str(tmp_path / "var")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and "appended" in done.stdout, done.stderr[-2000:]
    assert _count(qdb, LogQueueRow) == 0
    with qdb.read_sessions() as session:
        assert session.execute(select(func.count()).where(ActivityRow.leaf_index.is_(None))).scalar_one() == 0
        assert (
            session.execute(select(LogLeafRow.kind).order_by(LogLeafRow.idx.desc())).scalars().first()
            == "erasure"
        )
