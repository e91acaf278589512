"""Use case: is the chain we talk to still the one the ledger anchored to?

A checkpoint is only worth something while the chain holds it. A node restarted without its
state, another network behind the same RPC URL, a contract missing or replaced, or a chain that
lost its latest blocks all look "reachable" — so before every anchoring run the chain is checked
against what the deployment manifest promised (chain id, genesis block, code at the contract
address) and against the database's confirmed checkpoints (the chain must still hold their
roots, and must not hold checkpoints the database does not know). Any failure stops anchoring,
is recorded as an incident, and is reported by ``/readyz`` and :func:`chain_status`; nothing is
redeployed behind the operator's back (``carbon-ledger chain reanchor`` does that, on purpose).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from web3 import Web3

from backend.adapters.chain import LedgerChain
from backend.adapters.database import Database
from backend.adapters.deployment import DeploymentManifest, load_manifest
from backend.adapters.orm import CheckpointRow
from backend.adapters.orm_chain import ChainIncidentRow, ChainMoveRow
from backend.domain.errors import ChainError
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.states import ANCHORED, IN_FLIGHT, ChainCheckState, ChainMoveState, CheckpointState
from backend.services.anchoring.chain_port import LedgerChainPort

STATUS_TTL_S = 5.0
FULL_CHECK_INTERVAL_S = 30.0
"""Longest the anchoring job relies on a passed check while the chain's latest checkpoint stays the
one it saw (a node reset or another chain changes that at once, and forces a full check)."""
"""How long a verdict is reused by ``/readyz`` and metrics: a probe every second costs no RPC storm."""
HISTORY_SAMPLE = 3
"""Earlier checkpoints re-read at random on each routine check, besides the latest one (a contract
only appends, so the latest root vouches for the rest; the sample catches the improbable)."""
REANCHOR_HINT = "carbon-ledger chain reanchor"

OK, UNAVAILABLE, MISMATCH, HISTORY_MISSING, MOVING, NOT_CONFIGURED = (
    ChainCheckState.OK,
    ChainCheckState.UNAVAILABLE,
    ChainCheckState.MISMATCH,
    ChainCheckState.HISTORY_MISSING,
    ChainCheckState.MOVING,
    ChainCheckState.NOT_CONFIGURED,
)
ANCHORED_STATES = ANCHORED
"""Checkpoint states that were once confirmed on some chain: together they are the ledger's history."""
REFUSING_STATES = frozenset({MISMATCH, HISTORY_MISSING, MOVING})
"""States in which no receipt or checkpoint is served as "anchored": the chain does not back them."""


@dataclass(frozen=True)
class ExpectedChain:
    """What the deployment manifest promises about the chain and the contract."""

    chain_id: int
    genesis_hash: str
    contract: str
    code_hash: str


def expected_chain(manifest: DeploymentManifest) -> ExpectedChain:
    return ExpectedChain(
        chain_id=manifest.chain_id,
        genesis_hash=manifest.genesis_hash,
        contract=Web3.to_checksum_address(manifest.contract_address),
        code_hash=manifest.code_hash,
    )


@dataclass(frozen=True)
class ChainCheck:
    state: ChainCheckState
    reasons: tuple[str, ...]
    checked_at: datetime
    chain_id: int | None = None
    contract: str | None = None
    anchored_tree_size: int = 0
    """Largest tree size confirmed on this contract, per the database."""
    ledger_tree_size: int = 0
    """Largest tree size ever confirmed on any chain, per the database."""
    chain_tree_size: int | None = None
    """Latest tree size the contract itself reports."""
    checked_checkpoints: int = 0

    @property
    def ok(self) -> bool:
        return self.state == OK

    @property
    def action(self) -> str | None:
        if self.state in (MISMATCH, HISTORY_MISSING):
            return (
                "restore the chain node with its state, or move the ledger to this chain with "
                f"`{REANCHOR_HINT}`"
            )
        if self.state == MOVING:
            return f"a move is in progress; let `{REANCHOR_HINT}` finish (run it again to resume)"
        if self.state == UNAVAILABLE:
            return "check that the chain node is running and reachable"
        return None

    def summary(self) -> str:
        if self.ok:
            return "the chain holds every anchored checkpoint"
        text = f"chain {self.state}: " + "; ".join(self.reasons)
        return f"{text} ({self.action})" if self.action else text

    def public(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "state": self.state,
            "reasons": list(self.reasons),
            "reason": "; ".join(self.reasons) or None,
            "action": self.action,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "anchored_tree_size": self.anchored_tree_size,
            "ledger_tree_size": self.ledger_tree_size,
            "chain_tree_size": self.chain_tree_size,
            "checked_checkpoints": self.checked_checkpoints,
            "checked_at": self.checked_at.isoformat(),
        }


def _identity_problems(chain: LedgerChainPort, expected: ExpectedChain) -> list[str]:
    problems = []
    chain_id = chain.chain_id()
    if chain_id != expected.chain_id:
        problems.append(
            f"the node's chain id is {chain_id}, the ledger anchored on chain {expected.chain_id}"
        )
    genesis = chain.genesis_hash()
    if genesis.lower() != expected.genesis_hash.lower():
        problems.append(
            f"the node's genesis block is {genesis}, the ledger anchored on a chain with genesis "
            f"{expected.genesis_hash} (a different or reset chain)"
        )
    code = chain.code()
    if not code:
        problems.append(f"there is no contract code at {chain.address} on this chain")
    elif Web3.keccak(code).to_0x_hex().lower() != expected.code_hash.lower():
        problems.append(f"the code at {chain.address} is not the deployed ledger contract")
    return problems


def _max_size(db: Database, *where: Any) -> int:
    with db.read_sessions() as session:
        value = session.execute(select(func.max(CheckpointRow.tree_size)).where(*where)).scalar()
    return int(value or 0)


def _rows_to_check(db: Database, chain_id: int, contract: str, full: bool) -> list[CheckpointRow]:
    """Confirmed checkpoints of a contract to re-read: the latest first, then a random sample
    (every one when ``full``). The sample is drawn by the database, so a long history costs
    nothing to carry around."""
    mine = (
        CheckpointRow.chain_id == chain_id,
        CheckpointRow.contract == contract,
        CheckpointRow.state == CheckpointState.CONFIRMED,
    )
    with db.read_sessions() as session:
        newest_first = select(CheckpointRow).where(*mine).order_by(CheckpointRow.tree_size.desc())
        if full:
            return list(session.execute(newest_first).scalars())
        latest = session.execute(newest_first.limit(1)).scalar_one_or_none()
        if latest is None:
            return []
        others = (
            select(CheckpointRow)
            .where(*mine, CheckpointRow.id != latest.id)
            .order_by(func.random())
            .limit(HISTORY_SAMPLE)
        )
        return [latest, *session.execute(others).scalars()]


def move_in_progress(db: Database) -> ChainMoveRow | None:
    with db.read_sessions() as session:
        stmt = (
            select(ChainMoveRow)
            .where(ChainMoveRow.state == ChainMoveState.STARTED)
            .order_by(ChainMoveRow.started_at)
        )
        return session.execute(stmt.limit(1)).scalar_one_or_none()


def check_chain(
    db: Database,
    chain: LedgerChainPort,
    expected: ExpectedChain,
    *,
    full: bool = False,
) -> ChainCheck:
    """One verdict on the chain; ``full`` re-reads every confirmed checkpoint instead of a sample."""
    ledger_size = _max_size(db, CheckpointRow.state.in_(ANCHORED_STATES))
    rows = _rows_to_check(db, expected.chain_id, chain.address, full)
    base = ChainCheck(
        OK,
        (),
        datetime.now(UTC),
        chain_id=expected.chain_id,
        contract=chain.address,
        anchored_tree_size=rows[0].tree_size if rows else 0,
        ledger_tree_size=ledger_size,
    )
    move = move_in_progress(db)
    if move is not None:
        reason = f"move {move.id} to contract {move.to_contract} on chain {move.to_chain_id} is in progress"
        return replace(base, state=MOVING, reasons=(reason,))
    try:
        problems = _identity_problems(chain, expected)
        if problems:
            return replace(base, state=MISMATCH, reasons=tuple(problems))
        _, chain_size, _ = chain.latest_checkpoint()
        base = replace(base, chain_tree_size=chain_size)
        history = _history_problems(db, chain, expected.chain_id, rows, chain_size)
    except ChainError as exc:
        return replace(base, state=UNAVAILABLE, reasons=(exc.detail,))
    base = replace(base, checked_checkpoints=len(rows))
    if history:
        return replace(base, state=history[0][0], reasons=tuple(reason for _, reason in history))
    if ledger_size > base.anchored_tree_size:
        reason = (
            f"the ledger's checkpoints up to tree size {ledger_size} were anchored elsewhere; this "
            f"contract holds them only up to tree size {base.anchored_tree_size}"
        )
        return replace(base, state=HISTORY_MISSING, reasons=(reason,))
    return base


def _history_problems(
    db: Database,
    chain: LedgerChainPort,
    chain_id: int,
    rows: list[CheckpointRow],
    chain_size: int,
) -> list[tuple[ChainCheckState, str]]:
    """(state, reason) for each checkpoint in ``rows`` the chain no longer backs, and for a chain
    that holds more than the database knows."""
    problems: list[tuple[ChainCheckState, str]] = []
    for row in rows:
        on_chain = chain.root_at(row.tree_size)
        if on_chain == bytes(32):
            problems.append(
                (
                    HISTORY_MISSING,
                    f"checkpoint {row.seq} (tree size {row.tree_size}) was confirmed in block "
                    f"{row.block_number} but the chain no longer holds it (node restarted without its "
                    "latest state?)",
                )
            )
        elif on_chain != row.root:
            problems.append(
                (
                    MISMATCH,
                    f"the chain holds another root than checkpoint {row.seq} for tree size {row.tree_size}",
                )
            )
    known = _max_size(
        db,
        CheckpointRow.chain_id == chain_id,
        CheckpointRow.contract == chain.address,
        CheckpointRow.state.in_((CheckpointState.CONFIRMED, *IN_FLIGHT)),
    )
    if chain_size > max(known, rows[0].tree_size if rows else 0):
        problems.append(
            (
                MISMATCH,
                f"the contract holds checkpoints up to tree size {chain_size} that the database does "
                "not know (was the database restored from an older backup?)",
            )
        )
    return problems


def _open_incident(session: Session, check: ChainCheck) -> ChainIncidentRow | None:
    stmt = select(ChainIncidentRow).where(
        ChainIncidentRow.chain_id == check.chain_id,
        ChainIncidentRow.contract == check.contract,
        ChainIncidentRow.cleared_at.is_(None),
    )
    return session.execute(stmt.limit(1)).scalar_one_or_none()


def record_incident(db: Database, check: ChainCheck) -> None:
    """Opens an incident on the first failing check of a contract, closes it on the first good one.

    Reads first and writes only on a change: this runs before every anchoring run.
    """
    if check.chain_id is None or check.contract is None or check.state in (UNAVAILABLE, NOT_CONFIGURED):
        return
    with db.read_sessions() as session:
        if (_open_incident(session, check) is None) == check.ok:
            return
    with db.write_sessions() as session, session.begin():
        open_incident = _open_incident(session, check)
        if check.ok and open_incident is not None:
            open_incident.cleared_at = check.checked_at
            open_incident.resolution = "the chain passed the identity check again"
        elif not check.ok and open_incident is None:
            session.add(
                ChainIncidentRow(
                    chain_id=check.chain_id,
                    contract=check.contract,
                    state=check.state,
                    reasons=list(check.reasons),
                    detected_at=check.checked_at,
                )
            )


def incidents(db: Database, limit: int = 100) -> list[ChainIncidentRow]:
    with db.read_sessions() as session:
        stmt = select(ChainIncidentRow).order_by(ChainIncidentRow.id.desc()).limit(limit)
        return list(session.execute(stmt).scalars())


@dataclass
class ChainGuard:
    """The latest verdict, shared by the anchoring job, ``/readyz`` and metrics (thread-safe)."""

    ttl_s: float = STATUS_TTL_S
    full_check_s: float = FULL_CHECK_INTERVAL_S
    _last: ChainCheck | None = None
    _taken_at: float = 0.0
    _seen: tuple[int, int, bytes] | None = None
    """The chain's latest checkpoint when the last passed check was taken (or since anchored)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def last(self) -> ChainCheck | None:
        return self._last

    def refresh(
        self, db: Database, chain: LedgerChainPort, expected: ExpectedChain, *, full: bool = False
    ) -> ChainCheck:
        check = check_chain(db, chain, expected, full=full)
        seen = None
        if check.ok:
            try:
                seen = chain.latest_checkpoint()
            except ChainError:
                seen = None
        with self._lock:
            self._last, self._taken_at, self._seen = check, time.monotonic(), seen
        record_incident(db, check)
        return check

    def still_ok(self, db: Database, chain: LedgerChainPort) -> ChainCheck | None:
        """The last verdict, if it passed less than ``full_check_s`` ago and a cheap look (the
        chain's latest checkpoint is unchanged, no move in progress) finds nothing new; else None."""
        with self._lock:
            last, seen = self._last, self._seen
            fresh = time.monotonic() - self._taken_at < self.full_check_s
        if last is None or not last.ok or not fresh or seen is None:
            return None
        try:
            if chain.latest_checkpoint() != seen:
                return None
        except ChainError:
            return None
        return None if move_in_progress(db) is not None else last

    def saw(self, latest: tuple[int, int, bytes]) -> None:
        """The chain's latest checkpoint after the ledger itself anchored one (not a change to check)."""
        with self._lock:
            if self._last is not None and self._last.ok:
                self._seen = latest

    def status(self, db: Database, chain: LedgerChainPort, expected: ExpectedChain) -> ChainCheck:
        with self._lock:
            last, fresh = self._last, time.monotonic() - self._taken_at < self.ttl_s
        if last is not None and fresh:
            return last
        return self.refresh(db, chain, expected)


class ChainSettings(Protocol):
    @property
    def manifest_path(self) -> Path: ...

    @property
    def chain_confirmations(self) -> int | None: ...


class ChainRuntime(Protocol):
    """What chain status, attachment and recovery need of the running application (its runtime
    satisfies it): the database, the contract it anchors on, and what the manifest promises."""

    db: Database
    chain: LedgerChain | None
    target: AnchorTarget | None
    expected: ExpectedChain | None
    chain_guard: ChainGuard

    @property
    def settings(self) -> ChainSettings: ...


def attach_deployment(
    runtime: ChainRuntime, chain: LedgerChain, manifest: DeploymentManifest, *, check: bool = True
) -> None:
    """Points the runtime at ``manifest``'s contract (through ``chain``'s node and key)."""
    runtime.chain = LedgerChain(
        chain.w3,
        chain.profile,
        manifest.contract_address,
        chain.abi,
        chain.account,
        runtime.settings.chain_confirmations,
        chain.node_state,
    )
    runtime.target = AnchorTarget(manifest.chain_id, runtime.chain.address)
    runtime.expected = expected_chain(manifest)
    if check:
        runtime.chain_guard.refresh(runtime.db, runtime.chain, runtime.expected)


def chain_status(runtime: ChainRuntime) -> dict[str, Any]:
    """The chain's identity verdict as a JSON-able dict (``ok``, ``state``, ``reasons``, ...).

    For ``/readyz`` and metrics: reuses a verdict younger than :data:`STATUS_TTL_S`.
    """
    if runtime.chain is None:
        return ChainCheck(NOT_CONFIGURED, ("no chain configured",), datetime.now(UTC)).public()
    if runtime.expected is None:  # a runtime assembled without bootstrap: the manifest says
        manifest, problems = load_manifest(runtime.settings.manifest_path)
        if manifest is None:
            return ChainCheck(MISMATCH, tuple(problems), datetime.now(UTC)).public()
        runtime.expected = expected_chain(manifest)
    return runtime.chain_guard.status(runtime.db, runtime.chain, runtime.expected).public()
