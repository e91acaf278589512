"""Use case: re-anchor, on the same contract, the checkpoints a chain lost from the end of its history.

A node restarted from a state file older than its last blocks (Anvil killed inside its dump
interval, a chain state restored from a backup) still runs the ledger's contract with every
checkpoint but the latest few. Deploying a new contract for that (``carbon-ledger chain
reanchor``'s ``move``) would throw away a history the chain still holds, and waiting for an
operator stops anchoring for nothing. So the anchoring job repairs it by itself, when, and only
when, all of this holds:

* the chain passed the identity check (chain id, genesis block, contract code are the manifest's)
  and the guard's verdict is ``history_missing``;
* the contract's latest checkpoint is one the ledger confirmed *on this contract*, with the same
  sequence number and root (a contract only appends, so it vouches for every earlier one), and
  every historic checkpoint up to it was confirmed on this contract;
* the stored log still reproduces the root of every lost checkpoint.

The lost checkpoints are then anchored again at the same tree sizes with the same roots and meta
(``expectedSeq`` is the contract's count + 1, so they get their old sequence numbers back), in a
``catch_up`` move that is recorded before the first transaction and ends with a logged
``chain_move`` record, exactly as the operator command's ``catch_up`` does — which resumes it too.
Anything else (another genesis, no code, a contract holding roots the ledger does not know) stays
the operator's call: ``carbon-ledger chain reanchor``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import CheckpointRow
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.states import CheckpointState
from backend.observability import metrics
from backend.services.anchoring import anchoring, reanchoring
from backend.services.anchoring.chain_identity import HISTORY_MISSING, MOVING, ChainCheck, move_in_progress
from backend.services.anchoring.chain_port import LedgerChainPort
from backend.services.anchoring.reanchoring import HistoricCheckpoint, LogIntegrityError

logger = logging.getLogger(__name__)

AUTOMATIC = "re-anchored automatically on the same contract: only the latest checkpoints were missing"


@dataclass(frozen=True)
class LostSuffix:
    chain_tree_size: int
    """The tree size of the contract's latest checkpoint (0: it holds none)."""
    lost: tuple[HistoricCheckpoint, ...]


@dataclass(frozen=True)
class RepairProgress:
    move_id: str
    lost: int
    """Checkpoints the chain had lost and that this repair anchors again."""
    missing: int
    """Of those, how many are not confirmed again yet."""
    leaf_index: int | None = None
    """The ``chain_move`` record's leaf, once the repair is complete."""

    @property
    def complete(self) -> bool:
        return self.leaf_index is not None


def lost_suffix(db: Database, chain: LedgerChainPort, target: AnchorTarget) -> LostSuffix | None:
    """The checkpoints missing from the end of this contract's history, if nothing else is wrong."""
    history = reanchoring.ledger_history(db)
    seq, chain_size, chain_root = chain.latest_checkpoint()
    lost = tuple(c for c in history if c.tree_size > chain_size)
    if not lost:
        return None
    with db.read_sessions() as session:
        confirmed = {
            row.tree_size: row
            for row in session.execute(
                select(CheckpointRow).where(
                    CheckpointRow.chain_id == target.chain_id,
                    CheckpointRow.contract == target.contract,
                    CheckpointRow.state == CheckpointState.CONFIRMED,
                )
            ).scalars()
        }
    if chain_size:
        latest = confirmed.get(chain_size)
        if latest is None or latest.root != chain_root or latest.seq != seq:
            return None
    if any(c.tree_size not in confirmed for c in history if c.tree_size <= chain_size):
        return None
    return LostSuffix(chain_size, lost)


def _verify_lost(db: Database, lost: tuple[HistoricCheckpoint, ...]) -> None:
    """The log must still give every lost root: an altered log is never re-anchored."""
    with db.read_sessions() as session:
        store = SqlLogStore(session)
        size = store.size()
        for checkpoint in lost:
            if checkpoint.tree_size > size or store.root(checkpoint.tree_size) != checkpoint.root:
                raise LogIntegrityError(
                    f"the stored log does not reproduce the root anchored at tree size "
                    f"{checkpoint.tree_size}; not re-anchoring (run `carbon-ledger audit verify-log`)"
                )


def repair_step(
    db: Database,
    chain: LedgerChainPort,
    target: AnchorTarget,
    check: ChainCheck,
    manifest: dict[str, Any],
) -> RepairProgress | None:
    """One anchoring run's share of a repair; None when the chain's problem is not a lost suffix.

    ``manifest`` is the current deployment manifest (as JSON), recorded with the move: the
    contract stays the same, so it is both where the history was and where it goes.
    """
    history = reanchoring.ledger_history(db)
    move = move_in_progress(db)
    if check.state == MOVING and move is not None:
        destination = (move.to_chain_id, move.to_contract)
        if move.mode != "catch_up" or destination != (target.chain_id, target.contract):
            return None  # the operator's move to another contract: theirs to finish
        move_id, lost_count = move.id, len(reanchoring.missing_on_target(db, target, history))
    elif check.state == HISTORY_MISSING and move is None:
        suffix = lost_suffix(db, chain, target)
        if suffix is None:
            return None
        _verify_lost(db, suffix.lost)
        sizes = [c.tree_size for c in suffix.lost]
        move_id = reanchoring.begin_move(
            db, "catch_up", [*check.reasons, AUTOMATIC], target, target, manifest, manifest, sizes
        )
        lost_count = len(sizes)
        metrics.CHAIN_REPAIRS.labels("started").inc()
        logger.warning(
            "the chain lost the latest %d checkpoint(s) of contract %s (tree sizes %d to %d; it holds "
            "them up to %d): re-anchoring them on the same contract (move %s)",
            lost_count,
            target.contract,
            sizes[0],
            sizes[-1],
            suffix.chain_tree_size,
            move_id,
            extra={"move_id": move_id, "lost_checkpoints": lost_count},
        )
    else:
        return None
    reanchoring.queue_history(db, chain, target, history)
    anchoring.send_prepared(db, chain, target)
    anchoring.reconcile(db, chain, target, states=(CheckpointState.SENT,))
    missing = reanchoring.missing_on_target(db, target, history)
    if missing:
        return RepairProgress(move_id, lost_count, len(missing))
    described = _describe(manifest)
    leaf_index = reanchoring.complete_move(db, move_id, history, described, described)
    metrics.CHAIN_REPAIRS.labels("completed").inc()
    metrics.CHECKPOINTS_REANCHORED.labels("catch_up").inc(lost_count)
    logger.warning(
        "re-anchored %d lost checkpoint(s) on contract %s; the repair is logged as leaf %d (move %s)",
        lost_count,
        target.contract,
        leaf_index,
        move_id,
        extra={"move_id": move_id, "lost_checkpoints": lost_count},
    )
    return RepairProgress(move_id, lost_count, 0, leaf_index)


def _describe(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest's identifying fields, as the operator command records a move's ends."""
    return {
        "chain_id": manifest.get("chain_id"),
        "genesis_hash": manifest.get("genesis_hash"),
        "contract": manifest.get("contract_address"),
        "code_hash": manifest.get("code_hash"),
        "deploy_tx": manifest.get("deploy_tx"),
        "deploy_block": manifest.get("deploy_block"),
    }
