"""Anchoring: gas per checkpoint and per covered event, events anchored per second end to end,
against the naive way — one anchor transaction per event — measured in the same run."""

from __future__ import annotations

import hashlib
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from backend.adapters import migrations
from backend.adapters.chain import LedgerChain
from backend.adapters.database import create_database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import CheckpointRow
from backend.domain.records import leaf_bytes, new_salt
from backend.services import anchoring
from bench.common import Row, ledger_on_anvil

NAIVE_EVENTS = 100


def _append(db: object, count: int) -> None:
    from backend.adapters.database import Database

    assert isinstance(db, Database)
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


def _batched(chain: LedgerChain, workdir: Path, sizes: list[int]) -> list[Row]:
    db = create_database(f"sqlite:///{workdir / 'anchor.sqlite3'}")
    migrations.upgrade(db.engine)
    target = anchoring.AnchorTarget(chain.chain_id(), chain.address)
    policy = anchoring.AnchorPolicy(batch_leaves=1, max_wait_s=0)
    rows = []
    for size in sizes:
        _append(db, size)
        start = time.perf_counter()
        result = anchoring.anchor_tick(db, chain, target, policy)
        elapsed = time.perf_counter() - start
        assert result.confirmed, "checkpoint not confirmed"
        with db.read_sessions() as session:
            checkpoint = session.execute(
                select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(1)
            ).scalar_one()
        gas = int(checkpoint.gas_used or 0)
        rows.append(Row("anchoring", f"gas per checkpoint ({size:,} events)", gas, "gas"))
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
    db.dispose()
    return rows


def _naive(chain: LedgerChain, events: int) -> tuple[float, float]:
    """Each event in its own anchor transaction (tree sizes 1..events), as a per-event design would."""
    seq, size, _ = chain.latest_checkpoint()
    gas = 0
    start = time.perf_counter()
    for i in range(1, events + 1):
        root = hashlib.sha256(f"naive-{i}".encode()).digest()
        signed = chain.sign_anchor(seq + i, size + i, root, bytes(32), chain.pending_nonce())
        chain.send_raw(signed.raw)
        while (mined := chain.mined(signed.tx_hash)) is None:
            time.sleep(0.001)
        gas += mined.gas_used
    elapsed = time.perf_counter() - start
    return gas / events, events / elapsed


def run(quick: bool = False) -> list[Row]:
    sizes = [100, 1000] if quick else [100, 1000, 10_000]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with ledger_on_anvil(workdir / "chain") as chain:
            rows = _batched(chain, workdir, sizes)
            naive_gas, naive_rate = _naive(chain, NAIVE_EVENTS)
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
