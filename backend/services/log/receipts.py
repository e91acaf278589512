"""Use cases for auditors and employees: receipts, checkpoints, leaves and consistency proofs.

Proofs are always generated at an *anchored* tree size (never "the current size"), so whatever a
client receives can be checked against the root the contract holds for that size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import CheckpointRow, LogLeafRow
from backend.domain.errors import InvalidInput, NotFound
from backend.domain.log import merkle
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.states import CheckpointState

RECEIPT_VERSION = 1
MAX_LEAVES_PAGE = 1000
MAX_PROOFS_PAGE = 1000
"""Inclusion proofs per request: an auditor localizing a bad checkpoint asks for a range at once."""


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


@dataclass(frozen=True)
class Pending:
    leaf_index: int | None
    """None: accepted, waiting for the sequencer (``CARBON_SEQUENCING=queued``)."""
    anchored_tree_size: int


def covering_checkpoint(db: Database, target: AnchorTarget, leaf_index: int) -> CheckpointRow | None:
    """The first confirmed checkpoint that covers ``leaf_index``: a receipt never changes."""
    with db.read_sessions() as session:
        stmt = (
            select(CheckpointRow)
            .where(
                CheckpointRow.chain_id == target.chain_id,
                CheckpointRow.contract == target.contract,
                CheckpointRow.state == CheckpointState.CONFIRMED,
                CheckpointRow.tree_size > leaf_index,
            )
            .order_by(CheckpointRow.tree_size)
            .limit(1)
        )
        return session.execute(stmt).scalar_one_or_none()


def receipt_for_leaf(db: Database, target: AnchorTarget, leaf_index: int | None) -> dict[str, Any] | Pending:
    """The receipt of a logged record, or Pending while no anchored checkpoint covers it (or, with
    ``leaf_index`` None, while the record waits for the sequencer)."""
    checkpoint = None if leaf_index is None else covering_checkpoint(db, target, leaf_index)
    if checkpoint is None or leaf_index is None:
        latest = confirmed_checkpoints(db, target)
        return Pending(leaf_index, latest[-1].tree_size if latest else 0)
    with db.read_sessions() as session:
        store = SqlLogStore(session)
        leaf = store.leaf(leaf_index)
        if leaf is None:
            raise NotFound(f"leaf {leaf_index} not found")
        path = store.inclusion_proof(leaf_index, checkpoint.tree_size)
    return {
        "version": RECEIPT_VERSION,
        "algorithm": "rfc9162-sha256",
        "leaf": _hex(leaf.leaf),
        "leaf_hash": _hex(leaf.leaf_hash),
        "leaf_index": leaf_index,
        "tree_size": checkpoint.tree_size,
        "audit_path": [_hex(p) for p in path],
        "root": _hex(checkpoint.root),
        "anchor": {
            "chain_id": checkpoint.chain_id,
            "contract": checkpoint.contract,
            "checkpoint_seq": checkpoint.seq,
            "tx_hash": checkpoint.tx_hash,
            "block_number": checkpoint.block_number,
        },
    }


def confirmed_checkpoints(db: Database, target: AnchorTarget) -> list[CheckpointRow]:
    with db.read_sessions() as session:
        stmt = (
            select(CheckpointRow)
            .where(
                CheckpointRow.chain_id == target.chain_id,
                CheckpointRow.contract == target.contract,
                CheckpointRow.state == CheckpointState.CONFIRMED,
            )
            .order_by(CheckpointRow.tree_size)
        )
        return list(session.execute(stmt).scalars())


def checkpoint_public(row: CheckpointRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "tree_size": row.tree_size,
        "root": _hex(row.root),
        "meta_hash": _hex(row.meta_hash),
        "meta": row.meta.decode(),
        "chain_id": row.chain_id,
        "contract": row.contract,
        "tx_hash": row.tx_hash,
        "block_number": row.block_number,
        "gas_used": row.gas_used,
        "confirmed_at": row.confirmed_at.isoformat() if row.confirmed_at else None,
    }


def _anchored_sizes(db: Database, target: AnchorTarget) -> set[int]:
    return {c.tree_size for c in confirmed_checkpoints(db, target)}


def consistency(db: Database, target: AnchorTarget, first: int, second: int) -> dict[str, Any]:
    if first < 0 or second < first:
        raise InvalidInput("first", "must satisfy 0 <= first <= second")
    sizes = _anchored_sizes(db, target) | {0}
    for name, size in (("first", first), ("second", second)):
        if size not in sizes:
            raise InvalidInput(name, f"tree size {size} is not an anchored checkpoint")
    with db.read_sessions() as session:
        store = SqlLogStore(session)
        proof = store.consistency_proof(first, second) if first > 0 else []
        first_root, second_root = store.root(first), store.root(second)
    return {
        "first": first,
        "second": second,
        "first_root": _hex(first_root),
        "second_root": _hex(second_root),
        "proof": [_hex(p) for p in proof],
    }


def inclusion_proofs(
    db: Database, target: AnchorTarget, tree_size: int, start: int, limit: int
) -> dict[str, Any]:
    """Audit paths of leaves ``start..start+limit-1`` at an anchored ``tree_size``."""
    if tree_size not in _anchored_sizes(db, target):
        raise InvalidInput("tree_size", f"tree size {tree_size} is not an anchored checkpoint")
    if not 0 <= start < tree_size:
        raise InvalidInput("start", f"must be between 0 and {tree_size - 1}")
    if not 1 <= limit <= MAX_PROOFS_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PROOFS_PAGE}")
    stop = min(start + limit, tree_size)
    with db.read_sessions() as session:
        store = SqlLogStore(session)
        paths = store.inclusion_proofs(start, stop, tree_size)
        root = store.root(tree_size)
    return {
        "tree_size": tree_size,
        "root": _hex(root),
        "proofs": [
            {"leaf_index": index, "audit_path": [_hex(p) for p in path]}
            for index, path in zip(range(start, stop), paths, strict=True)
        ],
    }


def log_size(db: Database) -> int:
    with db.read_sessions() as session:
        return SqlLogStore(session).size()


def leaves_page(db: Database, start: int, limit: int) -> list[LogLeafRow]:
    if start < 0:
        raise InvalidInput("start", "must be >= 0")
    if not 1 <= limit <= MAX_LEAVES_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_LEAVES_PAGE}")
    with db.read_sessions() as session:
        return SqlLogStore(session).leaves(start, limit)


def verify_leaf_locally(leaf: bytes, leaf_hash: bytes) -> bool:
    return merkle.leaf_hash(leaf) == leaf_hash
