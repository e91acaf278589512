"""Use case: re-anchor the ledger's whole history onto a chain that lost it.

The database is the source of truth for the log; the chain only vouches for it. When the chain
loses checkpoints (a node restarted without its state, a new network), the history is anchored
again, checkpoint by checkpoint at the *same tree sizes with the same roots and meta* as before,
so every receipt ever issued still names a (tree size, root) pair the new contract holds. Before a
single transaction is sent, every historic root is recomputed from the stored log: a database
that no longer reproduces what was anchored is refused, never laundered onto a fresh chain.

The move itself becomes a record: a ``chain_move`` leaf naming the old and the new contract and a
digest of the re-anchored (tree size, root) list, appended when the history is on the new chain.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import CheckpointRow
from backend.adapters.orm_chain import ChainIncidentRow, ChainMoveRow
from backend.domain.canonical import canonical_json
from backend.domain.errors import ChainError, ProofError
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.log.record_kinds import ChainMoveBody, encode
from backend.domain.states import IN_FLIGHT, ChainMoveState, CheckpointState
from backend.services.anchoring.chain_identity import ANCHORED_STATES
from backend.services.anchoring.chain_port import LedgerChainPort

MOVE_MODES = ("move", "catch_up")


@dataclass(frozen=True)
class HistoricCheckpoint:
    tree_size: int
    root: bytes
    meta: bytes
    meta_hash: bytes


class LogIntegrityError(ProofError):
    """The stored log no longer reproduces a root that was anchored: it was altered."""

    title_en = "The log does not reproduce its anchored history"
    title_zh = "日志与已锚定的历史不一致"


def ledger_history(db: Database) -> list[HistoricCheckpoint]:
    """Every tree size ever confirmed on any chain, in order, with its root and meta."""
    with db.read_sessions() as session:
        rows = session.execute(
            select(CheckpointRow)
            .where(CheckpointRow.state.in_(ANCHORED_STATES))
            .order_by(CheckpointRow.tree_size, CheckpointRow.id)
        ).scalars()
        history: dict[int, HistoricCheckpoint] = {}
        for row in rows:
            known = history.get(row.tree_size)
            if known is None:
                history[row.tree_size] = HistoricCheckpoint(row.tree_size, row.root, row.meta, row.meta_hash)
            elif known.root != row.root:
                raise LogIntegrityError(
                    f"two different roots were confirmed for tree size {row.tree_size} "
                    f"(0x{known.root.hex()} and 0x{row.root.hex()})"
                )
    return list(history.values())


def verify_history(
    db: Database, history: list[HistoricCheckpoint], progress: Callable[[int, int], None] | None = None
) -> None:
    """Raises LogIntegrityError unless the stored log reproduces every historic root."""
    with db.read_sessions() as session:
        store = SqlLogStore(session)
        size = store.size()
        for done, checkpoint in enumerate(history, start=1):
            if checkpoint.tree_size > size:
                raise LogIntegrityError(
                    f"tree size {checkpoint.tree_size} was anchored but the log holds only {size} leaves"
                )
            root = store.root(checkpoint.tree_size)
            if root != checkpoint.root:
                raise LogIntegrityError(
                    f"the stored log gives root 0x{root.hex()} at tree size {checkpoint.tree_size}, but "
                    f"0x{checkpoint.root.hex()} was anchored: the log was altered; not re-anchoring "
                    "(run `carbon-ledger audit verify-log` to find the record)"
                )
            if progress is not None:
                progress(done, len(history))


def chain_holds_prefix(chain: LedgerChainPort, history: list[HistoricCheckpoint]) -> bool:
    """Whether the contract holds exactly the first part of the history (so the rest can follow)."""
    _, chain_size, _ = chain.latest_checkpoint()
    return all(chain.root_at(c.tree_size) == c.root for c in history if c.tree_size <= chain_size)


def history_digest(history: list[HistoricCheckpoint]) -> str:
    listing = [[c.tree_size, "0x" + c.root.hex()] for c in history]
    return "0x" + hashlib.sha256(canonical_json(listing)).hexdigest()


def begin_move(
    db: Database,
    mode: str,
    reasons: list[str],
    source: AnchorTarget | None,
    destination: AnchorTarget,
    old_manifest: dict[str, Any] | None,
    new_manifest: dict[str, Any],
    lost_sizes: list[int],
) -> str:
    """Records the move as started; in-flight checkpoints elsewhere are abandoned, lost ones marked."""
    if mode not in MOVE_MODES:
        raise ValueError(f"unknown move mode {mode!r}")
    now = datetime.now(UTC)
    move_id = str(uuid.uuid4())
    with db.write_sessions() as session, session.begin():
        session.execute(
            update(CheckpointRow)
            .where(CheckpointRow.state.in_(IN_FLIGHT))
            .values(
                state=CheckpointState.FAILED, error=f"abandoned: the ledger was re-anchored (move {move_id})"
            )
        )
        if lost_sizes:
            session.execute(
                update(CheckpointRow)
                .where(
                    CheckpointRow.chain_id == destination.chain_id,
                    CheckpointRow.contract == destination.contract,
                    CheckpointRow.state == CheckpointState.CONFIRMED,
                    CheckpointRow.tree_size.in_(lost_sizes),
                )
                .values(
                    state=CheckpointState.LOST, error=f"no longer on chain; re-anchored by move {move_id}"
                )
            )
        session.add(
            ChainMoveRow(
                id=move_id,
                state=ChainMoveState.STARTED,
                mode=mode,
                reasons=reasons,
                from_chain_id=source.chain_id if source else None,
                from_contract=source.contract if source else None,
                to_chain_id=destination.chain_id,
                to_contract=destination.contract,
                old_manifest=old_manifest,
                new_manifest=new_manifest,
                checkpoints=0,
                started_at=now,
            )
        )
    return move_id


def abandon_move(db: Database, move_id: str, reason: str) -> None:
    with db.write_sessions() as session, session.begin():
        row = session.get(ChainMoveRow, move_id)
        if row is not None and row.state == ChainMoveState.STARTED:
            row.state = ChainMoveState.ABANDONED
            row.reasons = [*row.reasons, f"abandoned: {reason}"]
            row.completed_at = datetime.now(UTC)


def queue_history(
    db: Database, chain: LedgerChainPort, target: AnchorTarget, history: list[HistoricCheckpoint]
) -> int:
    """Prepares a checkpoint on ``target`` for each historic size it lacks; returns how many."""
    _, chain_size, _ = chain.latest_checkpoint()
    with db.write_sessions() as session, session.begin():
        present = set(
            session.execute(
                select(CheckpointRow.tree_size).where(
                    CheckpointRow.chain_id == target.chain_id,
                    CheckpointRow.contract == target.contract,
                    CheckpointRow.state.in_((CheckpointState.CONFIRMED, *IN_FLIGHT)),
                )
            ).scalars()
        )
        queued = 0
        now = datetime.now(UTC)
        for checkpoint in history:
            if checkpoint.tree_size in present or checkpoint.tree_size <= chain_size:
                continue
            session.add(
                CheckpointRow(
                    chain_id=target.chain_id,
                    contract=target.contract,
                    seq=0,  # the contract assigns it; _send records the real one
                    tree_size=checkpoint.tree_size,
                    root=checkpoint.root,
                    meta=checkpoint.meta,
                    meta_hash=checkpoint.meta_hash,
                    state=CheckpointState.PREPARED,
                    created_at=now,
                )
            )
            queued += 1
    return queued


def prepared_count(db: Database, target: AnchorTarget) -> int:
    with db.read_sessions() as session:
        return int(
            session.execute(
                select(func.count(CheckpointRow.id)).where(
                    CheckpointRow.chain_id == target.chain_id,
                    CheckpointRow.contract == target.contract,
                    CheckpointRow.state == CheckpointState.PREPARED,
                )
            ).scalar_one()
        )


def confirmed_sizes(db: Database, target: AnchorTarget) -> set[int]:
    with db.read_sessions() as session:
        return set(
            session.execute(
                select(CheckpointRow.tree_size).where(
                    CheckpointRow.chain_id == target.chain_id,
                    CheckpointRow.contract == target.contract,
                    CheckpointRow.state == CheckpointState.CONFIRMED,
                )
            ).scalars()
        )


def missing_on_target(db: Database, target: AnchorTarget, history: list[HistoricCheckpoint]) -> list[int]:
    confirmed = confirmed_sizes(db, target)
    return [c.tree_size for c in history if c.tree_size not in confirmed]


def complete_move(
    db: Database,
    move_id: str,
    history: list[HistoricCheckpoint],
    source: dict[str, Any] | None,
    destination: dict[str, Any],
) -> int:
    """Logs the ``chain_move`` record and closes the move and open incidents; returns its leaf index."""
    now = datetime.now(UTC)
    with db.write_sessions() as session, session.begin():
        log = SqlLogStore(session)
        log.lock_head()
        row = session.get(ChainMoveRow, move_id)
        if row is None or row.state != ChainMoveState.STARTED:
            raise ChainError(f"move {move_id} is not in progress")
        body = ChainMoveBody(
            mode=row.mode,
            reasons=row.reasons,
            from_=source,
            to=destination,
            reanchored={
                "checkpoints": len(history),
                "first_tree_size": history[0].tree_size if history else None,
                "last_tree_size": history[-1].tree_size if history else None,
                "sha256": history_digest(history),
            },
            started_at=row.started_at.isoformat(),
            completed_at=now.isoformat(),
        )
        leaf = encode(move_id, None, body)
        (leaf_index,) = log.append([PendingLeaf("chain_move", move_id, leaf)], now)
        row.state = ChainMoveState.COMPLETED
        row.checkpoints = len(history)
        row.tree_size = history[-1].tree_size if history else None
        row.leaf_index = leaf_index
        row.completed_at = now
        for incident in session.execute(
            select(ChainIncidentRow).where(ChainIncidentRow.cleared_at.is_(None))
        ).scalars():
            incident.cleared_at = now
            incident.resolution = f"history re-anchored by move {move_id}"
    return leaf_index


def moves(db: Database, limit: int = 100) -> list[ChainMoveRow]:
    with db.read_sessions() as session:
        stmt = select(ChainMoveRow).order_by(ChainMoveRow.started_at.desc()).limit(limit)
        return list(session.execute(stmt).scalars())
