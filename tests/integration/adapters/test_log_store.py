"""The log store on real SQLite and PostgreSQL: sparse nodes give the reference roots and proofs."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from backend.adapters import migrations
from backend.adapters.database import Database, create_database
from backend.adapters.log_store import NODE_LEVEL_STRIDE, PendingLeaf, SqlLogStore
from backend.adapters.orm import LogHeadRow, LogLeafRow, LogNodeRow
from backend.domain.log import merkle

NOW = datetime(2026, 11, 25, tzinfo=UTC)
BATCHES = (1, 5, 70, 100, 3, 1, 121, 64, 63)
"""Mixed sizes: single appends, the plain path (< 64 rows) and the driver's bulk path."""


def _leaf(i: int) -> bytes:
    return b'{"leaf":%d}' % i


def _append_all(db: Database) -> list[bytes]:
    hashes: list[bytes] = []
    for count in BATCHES:
        with db.write_sessions() as session, session.begin():
            start = len(hashes)
            pending = [PendingLeaf("activity", f"r{i}", _leaf(i)) for i in range(start, start + count)]
            assert SqlLogStore(session).append(pending, NOW) == list(range(start, start + count))
        hashes.extend(merkle.leaf_hash(_leaf(i)) for i in range(start, start + count))
    return hashes


def _roots(hashes: list[bytes]) -> list[bytes]:
    compact, roots = merkle.CompactRange(), [merkle.EMPTY_ROOT]
    for digest in hashes:
        compact.append(digest)
        roots.append(compact.root())
    return roots


def test_roots_and_proofs_match_the_reference_at_every_size(db: Database) -> None:
    hashes = _append_all(db)
    total = len(hashes)
    roots = _roots(hashes)
    rng = random.Random(4)
    with db.read_sessions() as session:
        store = SqlLogStore(session)
        assert store.size() == total
        assert [store.root(size) for size in range(total + 1)] == roots
        for _ in range(150):
            size = rng.randint(1, total)
            index = rng.randrange(size)
            merkle.verify_inclusion(
                hashes[index], index, size, store.inclusion_proof(index, size), roots[size]
            )
            old = rng.randint(1, size)
            proof = store.consistency_proof(old, size)
            merkle.verify_consistency(old, size, proof, roots[old], roots[size])
        batch = store.inclusion_proofs(100, 160, 300)
        assert batch == [store.inclusion_proof(i, 300) for i in range(100, 160)]
        leaf = store.leaf(250)
        assert leaf is not None and leaf.leaf == _leaf(250) and leaf.created_at == NOW


def test_only_every_stride_th_level_is_stored(db: Database) -> None:
    total = len(_append_all(db))
    with db.read_sessions() as session:
        levels = dict(
            session.execute(select(LogNodeRow.level, func.count()).group_by(LogNodeRow.level)).tuples().all()
        )
    expected = {
        level: total >> level
        for level in range(NODE_LEVEL_STRIDE, total.bit_length(), NODE_LEVEL_STRIDE)
        if total >> level
    }
    assert levels == expected


def test_log_written_in_the_dense_format_reads_the_same(database_url: str) -> None:
    """A log written before migration 005 (a node at every level) keeps its roots and proofs."""
    db = create_database(database_url)
    try:
        migrations.upgrade(db.engine, "001")
        size = 77
        hashes = [merkle.leaf_hash(_leaf(i)) for i in range(size)]
        dense: dict[tuple[int, int], bytes] = {}
        for i, digest in enumerate(hashes):
            for key, value in merkle.nodes_created_by_append(i, digest, dense.__getitem__):
                dense[key] = value
        with db.engine.begin() as conn:
            conn.execute(
                insert(LogLeafRow.__table__),
                [
                    {"idx": i, "kind": "activity", "record_id": f"r{i}", "leaf": _leaf(i)}
                    | {"leaf_hash": hashes[i], "created_at": NOW}
                    for i in range(size)
                ],
            )
            conn.execute(
                insert(LogNodeRow.__table__),
                [{"level": k[0], "idx": k[1], "hash": v} for k, v in dense.items()],
            )
            conn.execute(LogHeadRow.__table__.update().values(size=size))
        migrations.upgrade(db.engine)
        with db.read_sessions() as session:
            store = SqlLogStore(session)
            roots = _roots(hashes)
            assert [store.root(n) for n in range(size + 1)] == roots
            merkle.verify_inclusion(hashes[33], 33, size, store.inclusion_proof(33, size), roots[size])
        with db.write_sessions() as session, session.begin():
            SqlLogStore(session).append([PendingLeaf("activity", "next", b"next")], NOW)
        with db.read_sessions() as session:
            compact = merkle.CompactRange()
            for digest in [*hashes, merkle.leaf_hash(b"next")]:
                compact.append(digest)
            assert SqlLogStore(session).root(size + 1) == compact.root()
    finally:
        db.dispose()


def test_tampered_level_zero_changes_only_its_block(db: Database) -> None:
    """Level 0 is the leaves' own hash: a recomputed leaf_hash moves the roots that cover it."""
    hashes = _append_all(db)
    with db.write_sessions() as session, session.begin():
        row = session.get(LogLeafRow, 20)
        assert row is not None
        row.leaf_hash = hashlib.sha256(b"forged").digest()
    with db.read_sessions() as session:
        store = SqlLogStore(session)
        roots = _roots(hashes)
        assert store.root(20) == roots[20]
        assert store.root(21) != roots[21]


def test_a_leaf_too_long_for_a_tile_entry_is_refused_and_nothing_is_written(db: Database) -> None:
    longest = b"x" * 65_535  # a C2SP entry bundle prefixes each entry with a 16-bit length
    with db.write_sessions() as session, session.begin():
        assert SqlLogStore(session).append([PendingLeaf("activity", "fits", longest)], NOW) == [0]
    both = [PendingLeaf("activity", "ok", b"{}"), PendingLeaf("activity", "long", longest + b"x")]
    with (
        pytest.raises(ValueError, match=r"over 65535 bytes: long$"),
        db.write_sessions() as session,
        session.begin(),
    ):
        SqlLogStore(session).append(both, NOW)
    with db.read_sessions() as session:
        assert session.execute(select(func.count()).select_from(LogLeafRow)).scalar_one() == 1
        assert session.execute(select(LogHeadRow.size)).scalar_one() == 1
