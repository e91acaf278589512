"""The log in C2SP formats: reading a tile (what a generic tlog client or a CDN fetches) against
computing an inclusion proof the naive way (every leaf hash read and the tree rehashed), the
server's own O(log n) proof, and the cost of signing and checking checkpoints and cosignatures.

A client proves inclusion from tiles alone: one tile per 8 levels of the tree (3 at 1M leaves),
each an immutable 8 KiB file a CDN can serve; the figures here are the server's cost per tile.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.adapters.database import Database
from backend.adapters.log_keys import LogKeyStore
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import CheckpointRow
from backend.domain.log import merkle, notes, tiles
from backend.domain.log import witness as protocol
from backend.domain.log.checkpoints import AnchorTarget
from backend.services.log import tlog
from bench.bench_log import append_batched, database
from bench.common import Row, percentile

TARGET = AnchorTarget(31337, "0x" + "ab" * 20)
SAMPLES = 200
NAIVE_SAMPLES = 5


def _timed(fn: object, samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1000)
    return out


def _anchor(db: Database, size: int) -> None:
    now = datetime.now(UTC)
    with db.write_sessions() as session, session.begin():
        root = SqlLogStore(session).root(size)
        session.add(
            CheckpointRow(
                chain_id=TARGET.chain_id, contract=TARGET.contract, seq=1, tree_size=size, root=root,
                meta=b"{}", meta_hash=bytes(32), state="confirmed", created_at=now, confirmed_at=now,
            )
        )  # fmt: skip


def _naive_proof(db: Database, index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH over every leaf hash, read from the database."""
    with db.read_sessions() as session:
        rows = session.connection().exec_driver_sql(
            "SELECT leaf_hash FROM log_leaves WHERE idx < ? ORDER BY idx", (size,)
        )
        hashes = [bytes(r[0]) for r in rows]

    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return hashes[lo]
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        return merkle.node_hash(mth(lo, lo + k), mth(lo + k, hi))

    def path(m: int, lo: int, hi: int) -> list[bytes]:
        if hi - lo == 1:
            return []
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        if m - lo < k:
            return [*path(m, lo, lo + k), mth(lo + k, hi)]
        return [*path(m, lo + k, hi), mth(lo, lo + k)]

    return path(index, 0, size)


def run(quick: bool = False) -> list[Row]:
    size = 100_000 if quick else 1_000_000
    rng = random.Random(16)
    rows: list[Row] = []
    with database("sqlite") as db, tempfile.TemporaryDirectory() as tmp:
        append_batched(db, size)
        _anchor(db, size)
        keys = LogKeyStore(Path(tmp) / "log.json", "bench.example/log")
        full0 = [tiles.TileRef(0, rng.randrange(size // 256), 256) for _ in range(SAMPLES)]
        full1 = [tiles.TileRef(1, rng.randrange(max(1, size // 65536)), 256) for _ in range(SAMPLES)]
        bundle = [tiles.TileRef(None, rng.randrange(size // 256), 256) for _ in range(SAMPLES)]
        it0, it1, itb = iter(full0), iter(full1), iter(bundle)
        level1 = tiles.servable(size, full1[0])
        t0 = _timed(lambda: tlog.hash_tile(db, TARGET, next(it0)), SAMPLES)
        t1 = _timed(lambda: tlog.hash_tile(db, TARGET, next(it1)), SAMPLES) if level1 else []
        tb = _timed(lambda: tlog.entry_bundle(db, TARGET, next(itb)), SAMPLES)
        indexes = iter([rng.randrange(size) for _ in range(SAMPLES)])

        def store_proof() -> None:
            with db.read_sessions() as session:
                SqlLogStore(session).inclusion_proof(next(indexes), size)

        tp = _timed(store_proof, SAMPLES)
        index = rng.randrange(size)
        naive = _timed(lambda: _naive_proof(db, index, size), NAIVE_SAMPLES)
        with db.read_sessions() as session:
            assert _naive_proof(db, index, size) == SqlLogStore(session).inclusion_proof(index, size)
        per_proof = len({t.level for t in tiles.tiles_for_size(size)})
        note = f"SQLite, {size:,} leaves; a proof from tiles reads {per_proof} tiles"
        rows += [
            Row("tlog", "hash tile (level 0, 256 hashes), p50", percentile(t0, 0.5), "ms", note=note),
            Row("tlog", "entry bundle (256 leaves), p50", percentile(tb, 0.5), "ms"),
            Row("tlog", "inclusion proof, server O(log n), p50", percentile(tp, 0.5), "ms"),
            Row(
                "tlog", "inclusion proof from tiles (server cost), p50",
                percentile(t0, 0.5) * per_proof, "ms", naive=percentile(naive, 0.5),
                note="tiles per proof × one tile; naive: every leaf hash read, tree rehashed",
            ),
        ]  # fmt: skip
        if t1:
            rows.append(Row("tlog", "hash tile (level 1), p50", percentile(t1, 0.5), "ms"))
        # Signing and checking.
        signer = keys.signers()[0]
        checkpoint = notes.Checkpoint(keys.origin, size, bytes(32))
        text = checkpoint.text()
        sign = _timed(lambda: signer.signature_line(text), SAMPLES)
        publish = _timed(lambda: tlog.latest_note(db, TARGET, keys), SAMPLES)
        signed = notes.signed_checkpoint(checkpoint, [signer], [])
        parsed = notes.parse_note(signed)
        verify = _timed(lambda: notes.verified_signers(parsed, [signer.verifier]), SAMPLES)
        witness = notes.Signer("w.example/w", Ed25519PrivateKey.generate(), notes.SIG_COSIGNATURE_V1)
        cosign = _timed(lambda: witness.cosignature_line(text, 1_800_000_000), SAMPLES)
        with db.read_sessions() as session:
            proof = SqlLogStore(session).consistency_proof(size // 2, size)
            old_root = SqlLogStore(session).root(size // 2)
        real = notes.signed_checkpoint(tlog.latest_note(db, TARGET, keys).checkpoint, [signer], [])
        submission = protocol.parse_submission(protocol.request_body(size // 2, proof, real))
        state = protocol.LogState(size // 2, old_root)
        decide = _timed(lambda: protocol.decide(submission, [signer.verifier], state), SAMPLES)
        assert protocol.decide(submission, [signer.verifier], state).status == protocol.Status.OK
        rows += [
            Row("tlog", "checkpoint signature (Ed25519), p50", percentile(sign, 0.5) * 1000, "µs"),
            Row("tlog", "/checkpoint (read, sign, cosignatures), p50", percentile(publish, 0.5), "ms"),
            Row("tlog", "checkpoint signature check, p50", percentile(verify, 0.5) * 1000, "µs"),
            Row("tlog", "witness cosignature, p50", percentile(cosign, 0.5) * 1000, "µs"),
            Row(
                "tlog", "witness add-checkpoint check (signature + consistency), p50",
                percentile(decide, 0.5) * 1000, "µs",
            ),
        ]  # fmt: skip
    return rows
