"""Use case: anchor checkpoints of the transparency log on the ledger contract.

Each checkpoint moves through a crash-safe state machine, committed to the database at every step:

``prepared`` (tree size, root and meta fixed) → ``sent`` (transaction signed locally; its hash,
nonce and raw bytes stored *before* broadcasting) → ``confirmed`` (mined with the configured
confirmations, and durable: on a managed Anvil, in its state file), or ``failed`` (reverted,
or the chain already holds another root for that size).

A crash anywhere is repaired on the next tick by :func:`reconcile`: the chain is the judge
(``rootAt``), a stored raw transaction is rebroadcast as is (same nonce, so it can never be mined
twice), and the contract's ``expectedSeq`` check makes a stale resend revert instead of anchoring
the same checkpoint twice.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from backend.adapters.chain import nonce_lock
from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow, CheckpointRow, LogLeafRow
from backend.adapters.orm_corrections import CorrectionRow
from backend.domain.canonical import canonical_json
from backend.domain.errors import ChainError
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.states import IN_FLIGHT, CheckpointState
from backend.services.accounting.factor_sets import all_sets
from backend.services.anchoring.chain_port import LedgerChainPort
from backend.services.points import points

logger = logging.getLogger(__name__)

CONFIRM_POLL_S = 0.05
CONFIRM_WAIT_S = 5.0
"""How long one tick waits for its transaction to be mined before leaving it to the next tick."""

_ZERO = bytes(32)


@dataclass(frozen=True)
class AnchorPolicy:
    batch_leaves: int
    max_wait_s: float
    replace_after_blocks: int | None = None
    """Re-price a transaction still pending after this many blocks (None: never)."""


@dataclass(frozen=True)
class TickResult:
    prepared: int | None = None
    confirmed: tuple[int, ...] = ()
    waiting_leaves: int = 0


Fence = Callable[[Session], bool]
"""Whether this process may still write as the anchorer, checked inside its write transaction."""


def _target_filter(target: AnchorTarget) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return CheckpointRow.chain_id == target.chain_id, CheckpointRow.contract == target.contract


META_VERSION = 2
"""v2: totals leave out activities reversed by a correction logged within the checkpoint."""


def checkpoint_meta(session: Session, tree_size: int) -> bytes:
    """The canonical meta document whose SHA-256 is anchored with the root."""
    reversed_within = (
        select(CorrectionRow.activity_id).where(CorrectionRow.leaf_index < tree_size).scalar_subquery()
    )
    totals = session.execute(
        select(
            func.count(ActivityRow.id),
            func.coalesce(func.sum(ActivityRow.co2e_avoided_g), 0),
            func.coalesce(func.sum(ActivityRow.co2e_scope3_g), 0),
            func.coalesce(func.sum(ActivityRow.points), 0),
        ).where(ActivityRow.leaf_index < tree_size, ActivityRow.id.not_in(reversed_within))
    ).one()
    reversals = session.execute(
        select(func.count(CorrectionRow.id)).where(CorrectionRow.leaf_index < tree_size)
    ).scalar_one()
    meta = {
        "v": META_VERSION,
        "tree_size": tree_size,
        "factor_sets": {s.version: "0x" + s.content_hash for s in all_sets(session)},
        "totals": {
            "activities": int(totals[0]),
            "co2e_avoided_g": int(totals[1]),
            "co2e_scope3_g": int(totals[2]),
            "points_issued": int(totals[3]),
            "reversals": int(reversals),
        },
        "points": points.totals(session, tree_size),
    }
    return canonical_json(meta)


def last_checkpoint(db: Database, target: AnchorTarget, states: tuple[str, ...]) -> CheckpointRow | None:
    with db.read_sessions() as session:
        stmt = (
            select(CheckpointRow)
            .where(*_target_filter(target), CheckpointRow.state.in_(states))
            .order_by(CheckpointRow.tree_size.desc())
            .limit(1)
        )
        return session.execute(stmt).scalar_one_or_none()


def _update(db: Database, checkpoint_id: int, **values: object) -> None:
    with db.write_sessions() as session, session.begin():
        row = session.get(CheckpointRow, checkpoint_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)


def _confirm(db: Database, chain: LedgerChainPort, row: CheckpointRow) -> bool:
    """Marks ``row`` confirmed if the chain holds its root; returns whether it did."""
    on_chain = chain.root_at(row.tree_size)
    if on_chain == _ZERO:
        return False
    if on_chain != row.root:
        _update(
            db,
            row.id,
            state=CheckpointState.FAILED,
            error="the chain holds a different root for this tree size",
        )
        return False
    tx_hash, block, gas = row.tx_hash, row.block_number, row.gas_used
    mined = chain.mined(tx_hash) if tx_hash else None
    if mined is not None and mined.status == 1:
        block, gas = mined.block_number, mined.gas_used
    else:
        # Anchored by a transaction we did not record (a crash between send and record, or a
        # resend): the event names it, and it must be as deep as any other confirmation.
        found = chain.find_anchor_event(row.root)
        if found is None:
            return False
        tx_hash, block = found
        if chain.depth(block) < chain.confirmations:
            return False
        receipt = chain.mined(tx_hash)
        gas = receipt.gas_used if receipt is not None else gas
    if block is None or not chain.durable(block):
        return False  # a node that can still lose the block does not vouch for the checkpoint
    _update(
        db,
        row.id,
        state=CheckpointState.CONFIRMED,
        tx_hash=tx_hash,
        block_number=block,
        gas_used=gas,
        confirmed_at=datetime.now(UTC),
        error=None,
    )
    return True


def _send(db: Database, chain: LedgerChainPort, row: CheckpointRow) -> None:
    """Signs, records, then broadcasts the anchor transaction of a prepared checkpoint."""
    if chain.signer is None:
        raise ChainError("no signing key configured")
    with nonce_lock(chain.signer):
        seq, latest_size, _ = chain.latest_checkpoint()
        if row.tree_size <= latest_size:
            _update(
                db, row.id, state=CheckpointState.FAILED, error=f"chain already at tree size {latest_size}"
            )
            return
        proof = consistency_proof(db, latest_size, row.tree_size)
        signed = chain.sign_anchor(
            seq + 1, row.tree_size, row.root, row.meta_hash, chain.pending_nonce(), proof=proof
        )
        _update(
            db,
            row.id,
            state=CheckpointState.SENT,
            seq=seq + 1,
            tx_hash=signed.tx_hash,
            raw_tx=signed.raw,
            nonce=signed.nonce,
            signer=signed.signer,
            sent_at=datetime.now(UTC),
            sent_block=chain.block_number(),
        )
        chain.send_raw(signed.raw)


PROOF_NODE_GAS = 2_000
"""Gas allowed per consistency-proof hash beyond the estimated checkpoint's, when checkpoints sent
back to back reuse its gas limit (measured ~1,100: 512 of calldata, two SHA-256 precompile calls)."""


def consistency_proof(db: Database, previous_size: int, tree_size: int) -> list[bytes]:
    """RFC 9162 PROOF(previous_size, D[0:tree_size]) from the log store, which the contract checks
    against its latest root before it anchors ``tree_size``; empty for the first checkpoint."""
    if previous_size == 0:
        return []
    with db.read_sessions() as session:
        return SqlLogStore(session).consistency_proof(previous_size, tree_size)


PIPELINE_DEPTH = 64
"""Prepared checkpoints sent at once, in nonce order, when re-anchoring a history: a chain with
block times (QBFT: seconds) then takes them a block-full at a time instead of one per block."""


def send_prepared(
    db: Database, chain: LedgerChainPort, target: AnchorTarget, depth: int = PIPELINE_DEPTH
) -> int:
    """Signs, records and broadcasts up to ``depth`` prepared checkpoints back to back.

    Each gets the next sequence number and nonce; the gas limit of the first (estimated) serves for
    the rest, which cannot be estimated while the ones before them are pending. Returns how many
    were sent; :func:`reconcile` confirms them.
    """
    if chain.signer is None:
        raise ChainError("no signing key configured")
    with db.read_sessions() as session:
        rows = list(
            session.execute(
                select(CheckpointRow)
                .where(*_target_filter(target), CheckpointRow.state == CheckpointState.PREPARED)
                .order_by(CheckpointRow.tree_size)
                .limit(depth)
            ).scalars()
        )
    if not rows:
        return 0
    sent = 0
    with nonce_lock(chain.signer):
        seq, latest_size, _ = chain.latest_checkpoint()
        nonce = chain.pending_nonce()
        height = chain.block_number()
        first: tuple[int, int] | None = None  # (gas limit, proof length) of the estimated one
        for row in rows:
            if row.tree_size <= latest_size:
                _update(
                    db,
                    row.id,
                    state=CheckpointState.FAILED,
                    error=f"chain already at tree size {latest_size}",
                )
                break
            proof = consistency_proof(db, latest_size, row.tree_size)
            gas_limit = None
            if first is not None:
                gas_limit = first[0] + PROOF_NODE_GAS * max(0, len(proof) - first[1])
            signed = chain.sign_anchor(
                seq + 1 + sent, row.tree_size, row.root, row.meta_hash, nonce + sent, gas_limit, proof
            )
            first = first or (signed.gas, len(proof))
            _update(
                db,
                row.id,
                state=CheckpointState.SENT,
                seq=seq + 1 + sent,
                tx_hash=signed.tx_hash,
                raw_tx=signed.raw,
                nonce=signed.nonce,
                signer=signed.signer,
                sent_at=datetime.now(UTC),
                sent_block=height,
            )
            chain.send_raw(signed.raw)
            latest_size = row.tree_size
            sent += 1
    return sent


def _wait_mined(db: Database, chain: LedgerChainPort, checkpoint_id: int) -> bool:
    deadline = time.monotonic() + CONFIRM_WAIT_S
    while time.monotonic() < deadline:
        with db.read_sessions() as session:
            row = session.get(CheckpointRow, checkpoint_id)
        assert row is not None
        if row.state != CheckpointState.SENT or row.tx_hash is None:
            return False  # settled meanwhile (failed, or already confirmed)
        mined = chain.mined(row.tx_hash)
        if mined is not None:
            if mined.status != 1:
                _update(
                    db,
                    row.id,
                    state=CheckpointState.FAILED,
                    error="anchor transaction reverted",
                    block_number=mined.block_number,
                    gas_used=mined.gas_used,
                )
                return False
            _update(db, row.id, block_number=mined.block_number, gas_used=mined.gas_used)
            with db.read_sessions() as session:
                fresh = session.get(CheckpointRow, checkpoint_id)
            assert fresh is not None
            return _confirm(db, chain, fresh)
        time.sleep(CONFIRM_POLL_S)
    return False


def _rebroadcast(chain: LedgerChainPort, row: CheckpointRow) -> None:
    """The same bytes again, for a transaction the node no longer knows (it restarted, or evicted a
    transaction priced under the base fee, which it then refuses until it is re-priced)."""
    assert row.raw_tx is not None
    try:
        chain.send_raw(row.raw_tx)
    except ChainError as exc:
        logger.warning(
            "checkpoint at tree size %d: resending %s refused: %s", row.tree_size, row.tx_hash, exc
        )


def _replace_if_stuck(db: Database, chain: LedgerChainPort, row: CheckpointRow, after_blocks: int) -> bool:
    """Re-prices a transaction not mined ``after_blocks`` blocks after it was sent (its fees below
    an EIP-1559 chain's base fee): the same call and nonce with higher fees, recorded before it is
    broadcast like the first. Whichever of the two is mined, :func:`_confirm` finds the root.
    Returns whether it replaced the transaction."""
    assert row.raw_tx is not None and chain.signer is not None
    height = chain.block_number()
    if row.sent_block is None:  # sent before heights were recorded: count from now
        _update(db, row.id, sent_block=height)
        return False
    if height - row.sent_block < after_blocks:
        return False
    with nonce_lock(chain.signer):
        signed = chain.sign_replacement(row.raw_tx)
        if signed is None:
            return False
        _update(
            db,
            row.id,
            tx_hash=signed.tx_hash,
            raw_tx=signed.raw,
            sent_at=datetime.now(UTC),
            sent_block=height,
        )
        chain.send_raw(signed.raw)
    logger.warning(
        "checkpoint at tree size %d: transaction %s pending for %d blocks, replaced by %s with higher fees",
        row.tree_size,
        row.tx_hash,
        height - row.sent_block,
        signed.tx_hash,
    )
    return True


def reconcile(
    db: Database,
    chain: LedgerChainPort,
    target: AnchorTarget,
    states: tuple[str, ...] = IN_FLIGHT,
    replace_after_blocks: int | None = None,
) -> tuple[int, ...]:
    """Brings every in-flight checkpoint (in ``states``) to a settled state; returns the tree sizes
    confirmed. Prepared ones are sent one at a time; :func:`send_prepared` sends them in bulk. A
    transaction pending ``replace_after_blocks`` blocks is re-priced (:func:`_replace_if_stuck`)."""
    with db.read_sessions() as session:
        rows = list(
            session.execute(
                select(CheckpointRow)
                .where(*_target_filter(target), CheckpointRow.state.in_(states))
                .order_by(CheckpointRow.tree_size)
            ).scalars()
        )
    confirmed = []
    for row in rows:
        if _confirm(db, chain, row):
            confirmed.append(row.tree_size)
            continue
        if row.state == CheckpointState.PREPARED:
            _send(db, chain, row)
        elif row.tx_hash and row.raw_tx is not None:
            mined = chain.mined(row.tx_hash)
            if mined is not None and mined.status != 1:
                _update(db, row.id, state=CheckpointState.FAILED, error="anchor transaction reverted")
                continue
            if mined is None:
                known = chain.transaction_known(row.tx_hash)
                if not known and chain.pending_nonce() > (row.nonce or 0):
                    # Its nonce went to another transaction: sign the checkpoint afresh.
                    _update(db, row.id, state=CheckpointState.PREPARED, tx_hash=None, raw_tx=None, nonce=None)
                    with db.read_sessions() as session:
                        fresh = session.get(CheckpointRow, row.id)
                    assert fresh is not None
                    _send(db, chain, fresh)
                elif replace_after_blocks is not None and _replace_if_stuck(
                    db, chain, row, replace_after_blocks
                ):
                    pass
                elif not known:
                    _rebroadcast(chain, row)
        if _wait_mined(db, chain, row.id):
            confirmed.append(row.tree_size)
    return tuple(confirmed)


def _oldest_waiting_age_s(db: Database, after_size: int, now: datetime) -> float:
    with db.read_sessions() as session:
        created = session.execute(select(LogLeafRow.created_at).where(LogLeafRow.idx == after_size)).scalar()
    return 0.0 if created is None else (now - created).total_seconds()


def prepare(
    db: Database,
    chain: LedgerChainPort,
    target: AnchorTarget,
    policy: AnchorPolicy,
    fence: Fence | None = None,
) -> CheckpointRow | None:
    """Fixes a new checkpoint over every waiting leaf, if the policy says it is time.

    ``fence`` (the anchoring role's lease, checked with its row locked in the same transaction)
    keeps a process that lost the role from adding a checkpoint beside the new holder's."""
    last = last_checkpoint(db, target, (CheckpointState.CONFIRMED, *IN_FLIGHT))
    anchored = last.tree_size if last else 0
    now = datetime.now(UTC)
    with db.read_sessions() as session:
        size = SqlLogStore(session).size()
    waiting = size - anchored
    if waiting <= 0:
        return None
    if waiting < policy.batch_leaves and _oldest_waiting_age_s(db, anchored, now) < policy.max_wait_s:
        return None
    seq, _, _ = chain.latest_checkpoint()
    with db.write_sessions() as session, session.begin():
        if fence is not None and not fence(session):
            return None
        store = SqlLogStore(session)
        root = store.root(size)
        meta = checkpoint_meta(session, size)
        row = CheckpointRow(
            chain_id=target.chain_id,
            contract=target.contract,
            seq=seq + 1,
            tree_size=size,
            root=root,
            meta=meta,
            meta_hash=hashlib.sha256(meta).digest(),
            state=CheckpointState.PREPARED,
            created_at=now,
        )
        session.add(row)
    return row


def anchor_tick(
    db: Database,
    chain: LedgerChainPort,
    target: AnchorTarget,
    policy: AnchorPolicy,
    fence: Fence | None = None,
) -> TickResult:
    """One scheduler run: settle in-flight checkpoints, then anchor waiting leaves if due."""
    confirmed = list(reconcile(db, chain, target, replace_after_blocks=policy.replace_after_blocks))
    row = prepare(db, chain, target, policy, fence)
    if row is None:
        return TickResult(confirmed=tuple(confirmed))
    confirmed.extend(reconcile(db, chain, target, replace_after_blocks=policy.replace_after_blocks))
    return TickResult(prepared=row.tree_size, confirmed=tuple(confirmed))
