"""The log in the formats other tools speak: C2SP checkpoints (signed notes) and tlog-tiles.

Only *anchored* tree sizes are published, as everywhere else: the checkpoint note of a size
commits to the root the ledger contract holds for it, and tiles are served only as far as the
latest anchored checkpoint reaches, so every hash a generic client reads can be checked against
the chain. Checkpoint notes are signed when asked for (Ed25519 is deterministic: the same key
gives the same bytes) with every log key not retired, then carry the witness cosignatures the
log collected for that size.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.log_keys import LogKeyStore
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import CheckpointRow
from backend.adapters.orm_witness import CosignatureRow
from backend.domain.errors import NotFound
from backend.domain.log import notes, tiles
from backend.domain.log.checkpoints import AnchorTarget
from backend.services.log import receipts


@dataclass(frozen=True)
class PublishedCheckpoint:
    checkpoint: notes.Checkpoint
    row: CheckpointRow
    note: bytes


def _latest(db: Database, target: AnchorTarget) -> CheckpointRow:
    rows = receipts.confirmed_checkpoints(db, target)
    if not rows:
        raise NotFound("no checkpoint has been anchored yet")
    return rows[-1]


def _at_size(db: Database, target: AnchorTarget, tree_size: int) -> CheckpointRow:
    for row in receipts.confirmed_checkpoints(db, target):
        if row.tree_size == tree_size:
            return row
    raise NotFound(f"no anchored checkpoint has tree size {tree_size}")


def cosignature_lines(db: Database, checkpoint: notes.Checkpoint) -> list[str]:
    with db.read_sessions() as session:
        stmt = (
            select(CosignatureRow)
            .where(
                CosignatureRow.origin == checkpoint.origin,
                CosignatureRow.tree_size == checkpoint.tree_size,
                CosignatureRow.root == checkpoint.root,
            )
            .order_by(CosignatureRow.witness, CosignatureRow.id)
        )
        return [row.line for row in session.execute(stmt).scalars()]


def publish(
    db: Database, keys: LogKeyStore, row: CheckpointRow, *, cosigned: bool = True
) -> PublishedCheckpoint:
    checkpoint = notes.Checkpoint(keys.origin, row.tree_size, row.root)
    lines = cosignature_lines(db, checkpoint) if cosigned else []
    return PublishedCheckpoint(checkpoint, row, notes.signed_checkpoint(checkpoint, keys.signers(), lines))


def latest_note(db: Database, target: AnchorTarget, keys: LogKeyStore) -> PublishedCheckpoint:
    return publish(db, keys, _latest(db, target))


def note_at(db: Database, target: AnchorTarget, keys: LogKeyStore, tree_size: int) -> PublishedCheckpoint:
    return publish(db, keys, _at_size(db, target, tree_size))


def published_size(db: Database, target: AnchorTarget) -> int:
    rows = receipts.confirmed_checkpoints(db, target)
    return rows[-1].tree_size if rows else 0


def hash_tile(db: Database, target: AnchorTarget, tile: tiles.TileRef) -> bytes:
    """The tile's hashes, concatenated; NotFound unless the latest anchored size has them all."""
    size = published_size(db, target)
    if not tiles.servable(size, tile):
        raise NotFound(f"{tile.path()} is not (yet) part of the anchored log of size {size}")
    with db.read_sessions() as session:
        nodes = SqlLogStore(session).get_nodes(tiles.tile_node_keys(tile))
    return b"".join(nodes[key] for key in tiles.tile_node_keys(tile))


def entry_bundle(db: Database, target: AnchorTarget, tile: tiles.TileRef) -> bytes:
    size = published_size(db, target)
    if not tiles.servable(size, tile):
        raise NotFound(f"{tile.path()} is not (yet) part of the anchored log of size {size}")
    with db.read_sessions() as session:
        rows = SqlLogStore(session).leaves(tile.index * tiles.TILE_WIDTH, tile.width)
    return tiles.entry_bundle([row.leaf for row in rows])
