"""Anchoring: gas per checkpoint and per covered event, events anchored per second end to end,
against the naive way — one anchor transaction per event — measured in the same run.

Every checkpoint after the first carries the RFC 9162 consistency proof from the one before,
which the contract verifies with the SHA-256 precompile: its calldata and hashing are in the gas.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from backend.adapters import migrations
from backend.adapters.chain import LedgerChain
from backend.adapters.database import Database, create_database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import CheckpointRow
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.log.records import leaf_bytes, new_salt
from backend.services.anchoring import anchoring
from bench.common import Row, ledger_on_anvil

NAIVE_EVENTS = 100


def _append(db: Database, count: int) -> None:
    now = datetime.now(UTC)
    batch = []
    for i in range(count):
        record_id = f"bench-{i}"
        batch.append(
            PendingLeaf("activity", record_id, leaf_bytes("activity", record_id, new_salt(), None, {"i": i}))
        )
        if len(batch) == 1000:
            with db.write_sessions() as session, session.begin():
                SqlLogStore(session).append(batch, now)
            batch = []
    if batch:
        with db.write_sessions() as session, session.begin():
            SqlLogStore(session).append(batch, now)


def _latest(db: Database) -> CheckpointRow:
    with db.read_sessions() as session:
        return session.execute(select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(1)).scalar_one()


def _batched(chain: LedgerChain, db: Database, sizes: list[int]) -> list[Row]:
    target = AnchorTarget(chain.chain_id(), chain.address)
    policy = anchoring.AnchorPolicy(batch_leaves=1, max_wait_s=0)
    rows = []
    for size in sizes:
        _append(db, size)
        start = time.perf_counter()
        result = anchoring.anchor_tick(db, chain, target, policy)
        elapsed = time.perf_counter() - start
        assert result.confirmed, "checkpoint not confirmed"
        checkpoint = _latest(db)
        gas = int(checkpoint.gas_used or 0)
        with db.read_sessions() as session:
            before = session.execute(
                select(CheckpointRow.tree_size)
                .where(CheckpointRow.id < checkpoint.id)
                .order_by(CheckpointRow.id.desc())
            ).scalar()
        proof = len(anchoring.consistency_proof(db, int(before or 0), checkpoint.tree_size))
        rows.append(
            Row(
                "anchoring",
                f"gas per checkpoint ({size:,} events)",
                gas,
                "gas",
                note=f"consistency proof of {proof} hashes from tree size {before or 0:,}",
            )
        )
        rows.append(
            Row(
                "anchoring",
                f"gas per covered event ({size:,} events/checkpoint)",
                gas / size,
                "gas/event",
                target="< 10 at 10,000" if size == 10_000 else "",
            )
        )
        rows.append(
            Row(
                "anchoring",
                f"events anchored/s end to end ({size:,}/checkpoint)",
                size / elapsed,
                "events/s",
                note=f"one tick: prepare + sign + send + confirm, {elapsed * 1000:.0f} ms",
            )
        )
    return rows


def _naive(chain: LedgerChain, db: Database, events: int) -> tuple[float, float]:
    """Each event in its own checkpoint (one anchor transaction, with its proof), as a per-event
    design would, continuing the same log and contract."""
    target = AnchorTarget(chain.chain_id(), chain.address)
    policy = anchoring.AnchorPolicy(batch_leaves=1, max_wait_s=0)
    gas = 0
    start = time.perf_counter()
    for _ in range(events):
        _append(db, 1)
        assert anchoring.anchor_tick(db, chain, target, policy).confirmed, "checkpoint not confirmed"
        gas += int(_latest(db).gas_used or 0)
    elapsed = time.perf_counter() - start
    return gas / events, events / elapsed


def run(quick: bool = False) -> list[Row]:
    sizes = [100, 1000] if quick else [100, 1000, 10_000]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        db = create_database(f"sqlite:///{workdir / 'anchor.sqlite3'}")
        migrations.upgrade(db.engine)
        try:
            with ledger_on_anvil(workdir / "chain") as chain:
                rows = _batched(chain, db, sizes)
                naive_gas, naive_rate = _naive(chain, db, NAIVE_EVENTS)
        finally:
            db.dispose()
    for row in rows:
        if row.metric.startswith("gas per covered event"):
            row.naive = naive_gas
        if row.metric.startswith("events anchored/s"):
            row.naive = naive_rate
    rows.append(
        Row("anchoring", f"naive: gas per event (own tx each, {NAIVE_EVENTS} events)", naive_gas, "gas")
    )
    rows.append(Row("anchoring", "naive: events anchored/s (own tx each)", naive_rate, "events/s"))
    return rows
