"""Replay: how fast verify-log's record replay goes (records/s) over a log of a few thousand
records — activities with their points issuance, every 50th reversed (with its points taken
back) — served by the audit services the API wraps (no HTTP, no chain: the replay alone)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend.adapters.orm import LogLeafRow
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import Settings
from backend.bootstrap.startup import build_runtime
from backend.services.audit import audit_records
from backend.services.audit.record_audit import RecordAudit
from backend.services.audit.verification import verify_log
from backend.services.recording.activities import Caller, record_activity
from backend.services.recording.corrections import Actor, reverse_activity
from bench.common import Row

PAGE = 1000


def _paged(fetch: Callable[[Any], list[dict[str, Any]]], key: str, first: Any) -> Iterator[dict[str, Any]]:
    cursor = first
    while page := fetch(cursor):
        yield from page
        cursor = page[-1][key] + 1 if key == "leaf_index" else page[-1][key]


def replay(runtime: Runtime) -> tuple[int, list[str]]:
    """verify-log's replay of every record against the stored ones; (records, problems)."""
    db, key = runtime.db, runtime.subject_key
    with db.read_sessions() as session:
        rows = session.execute(select(LogLeafRow).order_by(LogLeafRow.idx)).scalars()
        leaves = [(r.idx, bytes(r.leaf), bytes(r.leaf_hash)) for r in rows]
    audit = RecordAudit(
        _paged(lambda start: audit_records.records_page(db, key, start, PAGE), "leaf_index", 0),
        accounts=_paged(lambda after: audit_records.accounts_page(db, key, after, PAGE), "cursor", ""),
        redemptions=_paged(lambda after: audit_records.redemptions_page(db, after, PAGE), "cursor", ""),
    )
    report = verify_log([], iter(leaves), lambda a, b: {}, lambda size: b"", records=audit)
    return len(leaves), report.problems


def _build(data_dir: Path, activities: int) -> Runtime:
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'ledger.sqlite3'}",
        scheduler_enabled=False,
        subject_key="ab" * 32,
        points_per_kg_avoided=100,
    )
    runtime = build_runtime(settings, with_chain=False)
    now = datetime.now(UTC)
    for i in range(activities):
        when = now - timedelta(hours=1 + i % 300)
        payload = {"type": "metro", "occurred_at": when.isoformat(), "distance_km": f"{3 + i % 9}"}
        recorded = record_activity(
            runtime.db, Caller(f"emp-{i:05d}", "acme"), f"k{i}", payload, when, runtime.issuance, now=now
        )
        if i % 50 == 0:
            actor = Actor("operator", "ops-1", None)
            reverse_activity(runtime.db, actor, recorded.row.id, "duplicate", None, runtime.subject_key, now)
    return runtime


def run(quick: bool = False) -> list[Row]:
    activities = 500 if quick else 2_000
    with tempfile.TemporaryDirectory() as tmp:
        runtime = _build(Path(tmp), activities)
        try:
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                records, problems = replay(runtime)
                best = min(best, time.perf_counter() - started)
                if problems:
                    raise RuntimeError(f"replay found problems in an untouched log: {problems[:3]}")
        finally:
            runtime.db.dispose()
    return [
        Row(
            "replay",
            f"verify-log record replay over {records:,} records",
            records / best,
            "records/s",
            note="SQLite, in-process audit services, best of 3",
        )
    ]
