"""Anchoring policy (N leaves or T seconds), confirmations and the per-key nonce lock, on Anvil."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend.adapters import migrations
from backend.adapters.anvil import (
    ANVIL_DEFAULT_ADDRESS_0,
    ANVIL_DEFAULT_KEY_0,
    AnvilProcess,
    free_port,
    rpc_call,
)
from backend.adapters.chain import PROFILES, LedgerChain, connect, nonce_lock
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.database import Database, create_database
from backend.adapters.deployment import deploy_contract
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import CheckpointRow
from backend.domain.log.checkpoints import AnchorTarget
from backend.services.anchoring import anchoring
from backend.services.recording.activities import Caller, IssuancePolicy, record_activity

pytestmark = pytest.mark.anvil

ISSUANCE = IssuancePolicy(0, b"k" * 32, timedelta(days=366), timedelta(minutes=5))
"""No points: each activity is exactly one leaf, so tree sizes count activities."""


def _chain(anvil: AnvilProcess, artifact: ContractArtifact, confirmations: int | None = None) -> LedgerChain:
    profile = PROFILES["anvil"]
    w3 = connect(anvil.rpc_url, profile)
    manifest = deploy_contract(w3, ANVIL_DEFAULT_KEY_0, artifact)
    return LedgerChain.from_key(
        w3, profile, manifest.contract_address, artifact.abi, ANVIL_DEFAULT_KEY_0, confirmations
    )


def _target(chain: LedgerChain) -> AnchorTarget:
    return AnchorTarget(chain.chain_id(), chain.address)


def _record(db: Database, count: int, age_s: float = 0.0, start: int = 0) -> None:
    now = datetime.now(UTC) - timedelta(seconds=age_s)
    for i in range(start, start + count):
        record_activity(
            db,
            Caller(f"e{i}", "acme"),
            f"key-{i:010d}",
            {"type": "metro", "occurred_at": (now - timedelta(hours=1)).isoformat(), "distance_km": "5"},
            now - timedelta(hours=1),
            ISSUANCE,
            now=now,
        )


def _states(db: Database) -> list[tuple[int, str]]:
    with db.read_sessions() as session:
        rows = session.execute(
            select(CheckpointRow.tree_size, CheckpointRow.state).order_by(CheckpointRow.id)
        )
        return [(int(size), str(state)) for size, state in rows]


def test_anchors_when_n_leaves_wait_or_the_oldest_waited_t_seconds(
    db: Database, anvil: AnvilProcess, ledger_artifact: ContractArtifact
) -> None:
    chain = _chain(anvil, ledger_artifact)
    target = _target(chain)
    policy = anchoring.AnchorPolicy(batch_leaves=5, max_wait_s=60)
    _record(db, 4, age_s=10)  # 4 < N and 10 s < T: wait
    assert anchoring.anchor_tick(db, chain, target, policy).prepared is None
    _record(db, 1, age_s=10, start=4)  # N reached
    assert anchoring.anchor_tick(db, chain, target, policy).prepared == 5
    _record(db, 2, age_s=61, start=5)  # 2 < N but the oldest waited longer than T
    result = anchoring.anchor_tick(db, chain, target, policy)
    assert result.prepared == 7 and result.confirmed == (7,)
    _record(db, 1, age_s=0, start=7)
    assert anchoring.anchor_tick(db, chain, target, policy).prepared is None
    assert _states(db) == [(5, "confirmed"), (7, "confirmed")]
    assert chain.latest_checkpoint()[:2] == (2, 7)  # one transaction per checkpoint


def test_confirmations_are_waited_for(
    db: Database, anvil: AnvilProcess, ledger_artifact: ContractArtifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anchoring, "CONFIRM_WAIT_S", 0.3)
    chain = _chain(anvil, ledger_artifact, confirmations=3)
    target = _target(chain)
    _record(db, 2)
    result = anchoring.anchor_tick(db, chain, target, anchoring.AnchorPolicy(1, 0))
    assert result.prepared == 2 and result.confirmed == ()
    assert chain.root_at(2) != bytes(32)  # mined, but only one block deep
    assert _states(db) == [(2, "sent")]
    rpc_call(anvil.rpc_url, "evm_mine")
    assert anchoring.reconcile(db, chain, target) == ()  # two deep
    rpc_call(anvil.rpc_url, "evm_mine")
    assert anchoring.reconcile(db, chain, target) == (2,)
    assert _states(db) == [(2, "confirmed")]


def test_one_nonce_lock_per_signing_key(
    tmp_path: Path, anvil: AnvilProcess, ledger_artifact: ContractArtifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ledgers anchoring with one key at once: without the lock both would take one nonce."""
    assert nonce_lock(ANVIL_DEFAULT_ADDRESS_0) is nonce_lock(ANVIL_DEFAULT_ADDRESS_0.lower())
    assert nonce_lock(ANVIL_DEFAULT_ADDRESS_0) is not nonce_lock("0x" + "11" * 20)
    original = LedgerChain.sign_anchor

    def slow_sign(self: LedgerChain, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.15)  # widens the window between reading the nonce and broadcasting
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LedgerChain, "sign_anchor", slow_sign)
    ledgers = []
    for name in ("a", "b"):
        db = create_database(f"sqlite:///{tmp_path / name}.sqlite3")
        migrations.upgrade(db.engine)
        ledgers.append((db, _chain(anvil, ledger_artifact)))
    errors: list[BaseException] = []

    def run(db: Database, chain: LedgerChain, round_: int) -> None:
        try:
            anchoring.anchor_tick(db, chain, _target(chain), anchoring.AnchorPolicy(1, 0))
        except BaseException as exc:  # reported below
            errors.append(exc)

    for round_ in range(3):
        for db, _ in ledgers:
            _record(db, 1, start=round_)
        threads = [threading.Thread(target=run, args=(db, chain, round_)) for db, chain in ledgers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    nonces = []
    for db, chain in ledgers:
        assert _states(db) == [(1, "confirmed"), (2, "confirmed"), (3, "confirmed")]
        assert chain.latest_checkpoint()[:2] == (3, 3)
        with db.read_sessions() as session:
            nonces += list(session.execute(select(CheckpointRow.nonce)).scalars())
        db.dispose()
    assert len(set(nonces)) == 6


def test_besu_qbft_profile_anchors_for_free(
    db: Database, tmp_path: Path, ledger_artifact: ContractArtifact
) -> None:
    """The besu-qbft client path (POA middleware, gas price 0, one confirmation) against Anvil
    with a zero base fee standing in for a free-gas QBFT network (no Besu is installable here)."""
    free_gas = ("--base-fee", "0", "--no-priority-fee")
    with AnvilProcess(free_port(), state_path=None, extra_args=free_gas) as node:
        profile = PROFILES["besu-qbft"]
        w3 = connect(node.rpc_url, profile)
        manifest = deploy_contract(w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, gas_price_wei=0)
        chain = LedgerChain.from_key(
            w3, profile, manifest.contract_address, ledger_artifact.abi, ANVIL_DEFAULT_KEY_0
        )
        assert chain.confirmations == 1
        balance = w3.eth.get_balance(ANVIL_DEFAULT_ADDRESS_0)
        _record(db, 3)
        result = anchoring.anchor_tick(db, chain, _target(chain), anchoring.AnchorPolicy(1, 0))
        assert result.confirmed == (3,)
        with db.read_sessions() as session:
            tx_hash = session.execute(select(CheckpointRow.tx_hash)).scalar_one()
        assert w3.eth.get_transaction(tx_hash)["gasPrice"] == 0
        assert w3.eth.get_balance(ANVIL_DEFAULT_ADDRESS_0) == balance


def test_prepared_checkpoints_are_sent_back_to_back(
    db: Database, anvil: AnvilProcess, ledger_artifact: ContractArtifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-anchoring a history sends a batch in nonce order; one block takes them all."""
    monkeypatch.setattr(anchoring, "CONFIRM_WAIT_S", 0.2)
    chain = _chain(anvil, ledger_artifact)
    target = _target(chain)
    _record(db, 6)
    now = datetime.now(UTC)
    with db.write_sessions() as session, session.begin():
        store_roots = {size: SqlLogStore(session).root(size) for size in (2, 4, 5, 6)}
        for size, root in store_roots.items():
            session.add(
                CheckpointRow(
                    chain_id=target.chain_id, contract=target.contract, seq=0, tree_size=size, root=root,
                    meta=b"{}", meta_hash=bytes(32), state="prepared", created_at=now,
                )
            )  # fmt: skip
    rpc_call(anvil.rpc_url, "evm_setAutomine", [False])
    try:
        assert anchoring.send_prepared(db, chain, target, depth=3) == 3
        assert [s for _, s in _states(db)] == ["sent", "sent", "sent", "prepared"]
        assert chain.latest_checkpoint()[0] == 0  # all three pending at once
        rpc_call(anvil.rpc_url, "evm_mine")
        assert anchoring.reconcile(db, chain, target, states=("sent",)) == (2, 4, 5)
        with db.read_sessions() as session:
            blocks = set(
                session.execute(
                    select(CheckpointRow.block_number).where(CheckpointRow.state == "confirmed")
                ).scalars()
            )
        assert len(blocks) == 1
        assert anchoring.send_prepared(db, chain, target) == 1
        rpc_call(anvil.rpc_url, "evm_mine")
        assert anchoring.reconcile(db, chain, target) == (6,)
        assert chain.latest_checkpoint()[:2] == (4, 6)
    finally:
        rpc_call(anvil.rpc_url, "evm_setAutomine", [True])
