"""A log with anchored checkpoints, written straight to the database (no chain), for the tests of
the C2SP checkpoint, tile and witness routes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import CheckpointRow
from backend.domain.log.checkpoints import AnchorTarget


def leaf_bytes(index: int) -> bytes:
    """A leaf like the ledger's (JSON), varied in length."""
    pad = hashlib.sha256(index.to_bytes(8, "big")).hexdigest()[: index % 50]
    return b'{"id":"r%d","kind":"test","pad":"%s","v":1}' % (index, pad.encode())


def grow(db: Database, target: AnchorTarget, size: int, anchored: list[int]) -> None:
    """Appends leaves up to ``size`` and records a confirmed checkpoint at each anchored size."""
    now = datetime.now(UTC)
    with db.write_sessions() as session, session.begin():
        store = SqlLogStore(session)
        start = store.size()
        store.append([PendingLeaf("test", f"r{i}", leaf_bytes(i)) for i in range(start, size)], now)
    with db.write_sessions() as session, session.begin():
        store = SqlLogStore(session)
        seq = session.query(CheckpointRow).count()
        for tree_size in anchored:
            seq += 1
            session.add(
                CheckpointRow(
                    chain_id=target.chain_id, contract=target.contract, seq=seq, tree_size=tree_size,
                    root=store.root(tree_size), meta=b"{}", meta_hash=bytes(32), state="confirmed",
                    created_at=now, confirmed_at=now, tx_hash="0x" + "00" * 32, block_number=seq,
                )
            )  # fmt: skip
