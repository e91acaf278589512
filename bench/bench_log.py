"""Transparency log: leaves appended per second with nodes persisted (batched vs one transaction per
leaf), inclusion/consistency proof generation from the database at growing sizes, verification."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from backend.adapters import migrations
from backend.adapters.database import Database, create_database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.domain.log import merkle
from bench.common import Row, mean, percentile

BATCH = 1000
PROOF_SAMPLES = 200
POSTGRES_ADMIN_URL = os.environ.get(
    "CARBON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one benchmark, dropped afterwards."""
    name = f"carbon_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def database(kind: str) -> Iterator[Database]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            db = create_database(f"sqlite:///{Path(tmp) / 'log.sqlite3'}")
            migrations.upgrade(db.engine)
            try:
                yield db
            finally:
                db.dispose()
        return
    name = f"carbon_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = create_database(
        make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    )
    try:
        migrations.upgrade(db.engine)
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _leaves(start: int, count: int) -> list[PendingLeaf]:
    # ~300-byte leaves, the size of a small activity record
    return [
        PendingLeaf("activity", f"r{i}", (b'{"kind":"activity","i":%d,"pad":"' % i) + b"x" * 260 + b'"}')
        for i in range(start, start + count)
    ]


def append_batched(db: Database, total: int) -> float:
    now = datetime.now(UTC)
    start = time.perf_counter()
    for offset in range(0, total, BATCH):
        with db.write_sessions() as session, session.begin():
            SqlLogStore(session).append(_leaves(offset, min(BATCH, total - offset)), now)
    return total / (time.perf_counter() - start)


def append_one_per_transaction(db: Database, count: int, offset: int) -> float:
    now = datetime.now(UTC)
    start = time.perf_counter()
    for i in range(count):
        with db.write_sessions() as session, session.begin():
            SqlLogStore(session).append(_leaves(offset + i, 1), now)
    return count / (time.perf_counter() - start)


def proof_times(db: Database, size: int) -> dict[str, float]:
    step = max(1, size // PROOF_SAMPLES)
    inclusion, consistency, verify = [], [], []
    with db.read_sessions() as session:
        store = SqlLogStore(session)
        root = store.root(size)
        for index in range(0, size, step):
            t0 = time.perf_counter()
            proof = store.inclusion_proof(index, size)
            t1 = time.perf_counter()
            leaf_hash = store.get_nodes([(0, index)])[(0, index)]
            t2 = time.perf_counter()
            merkle.verify_inclusion(leaf_hash, index, size, proof, root)
            t3 = time.perf_counter()
            inclusion.append(t1 - t0)
            verify.append(t3 - t2)
            old = max(1, index)
            t4 = time.perf_counter()
            store.consistency_proof(old, size)
            consistency.append(time.perf_counter() - t4)
    return {
        "inclusion_p50_ms": percentile(inclusion, 0.5) * 1000,
        "inclusion_p99_ms": percentile(inclusion, 0.99) * 1000,
        "consistency_p50_ms": percentile(consistency, 0.5) * 1000,
        "verify_mean_ms": mean(verify) * 1000,
    }


def run(quick: bool = False, kinds: tuple[str, ...] = ("sqlite", "postgres")) -> list[Row]:
    sizes = [10_000, 100_000] if quick else [10_000, 1_000_000, 10_000_000]
    rows: list[Row] = []
    for kind in kinds:
        with database(kind) as db:
            built = 0
            rate = 0.0
            for size in sizes:
                rate = append_batched_from(db, built, size)
                built = size
                times = proof_times(db, size)
                rows.append(
                    Row(
                        "log",
                        f"inclusion proof at {size:,} leaves, p50 [{kind}]",
                        times["inclusion_p50_ms"],
                        "ms",
                        target="< 1 ms at 1M" if size == 1_000_000 else "",
                        extra=times,
                    )
                )
                rows.append(
                    Row(
                        "log",
                        f"consistency proof at {size:,} leaves, p50 [{kind}]",
                        times["consistency_p50_ms"],
                        "ms",
                    )
                )
                rows.append(
                    Row(
                        "log",
                        f"inclusion proof verification at {size:,} leaves [{kind}]",
                        times["verify_mean_ms"],
                        "ms",
                    )
                )
            naive = append_one_per_transaction(db, 500, built)
            rows.append(
                Row(
                    "log",
                    f"leaves appended/s, {BATCH}/transaction, nodes persisted [{kind}]",
                    rate,
                    "leaves/s",
                    naive=naive,
                    target=">= 100,000",
                    note="naive: one transaction per leaf",
                )
            )
    return rows


def append_batched_from(db: Database, start: int, end: int) -> float:
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    for offset in range(start, end, BATCH):
        with db.write_sessions() as session, session.begin():
            SqlLogStore(session).append(_leaves(offset, min(BATCH, end - offset)), now)
    return (end - start) / (time.perf_counter() - t0)
