"""Anchoring against a real Anvil: one transaction per checkpoint, crash-safe, receipts verify."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.adapters.anvil import ANVIL_DEFAULT_KEY_0, AnvilProcess
from backend.adapters.chain import PROFILES, LedgerChain, connect
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.database import Database
from backend.adapters.deployment import ensure_deployed
from backend.adapters.orm import CheckpointRow, LogLeafRow
from backend.domain.errors import ChainError
from backend.domain.log.checkpoints import AnchorTarget
from backend.services.anchoring import anchoring
from backend.services.audit.verification import verify_receipt
from backend.services.log import receipts
from backend.services.recording.activities import Caller, IssuancePolicy, record_activity

pytestmark = pytest.mark.anvil

# No points (rate 0), so no issuance transfers: one leaf per activity keeps the tree sizes simple.
POLICY = IssuancePolicy(0, b"k" * 32, timedelta(days=366), timedelta(minutes=5))
NOW_POLICY = anchoring.AnchorPolicy(batch_leaves=1, max_wait_s=0)
WHEN = datetime(2026, 11, 20, 8, 10, tzinfo=UTC)


@pytest.fixture
def chain(
    anvil: AnvilProcess, ledger_artifact: ContractArtifact, tmp_path_factory: pytest.TempPathFactory
) -> LedgerChain:
    profile = PROFILES["anvil"]
    w3 = connect(anvil.rpc_url, profile)
    manifest, _ = ensure_deployed(
        w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, tmp_path_factory.mktemp("m") / "d.json"
    )
    return LedgerChain.from_key(
        w3, profile, manifest.contract_address, ledger_artifact.abi, ANVIL_DEFAULT_KEY_0
    )


def _target(chain: LedgerChain) -> AnchorTarget:
    return AnchorTarget(chain.chain_id(), chain.address)


def _record(db: Database, n: int, start: int = 0) -> list[int]:
    return [
        record_activity(
            db,
            Caller(f"e{i}", "acme"),
            f"key-{i:010d}",
            {"type": "metro", "occurred_at": WHEN.isoformat(), "distance_km": "5"},
            WHEN,
            POLICY,
        ).row.leaf_index
        for i in range(start, start + n)
    ]


def _states(db: Database) -> list[tuple[int, str]]:
    with db.read_sessions() as session:
        rows = session.execute(
            select(CheckpointRow.tree_size, CheckpointRow.state).order_by(CheckpointRow.id)
        )
        return [(int(s), str(st)) for s, st in rows]


def test_one_transaction_per_checkpoint_and_receipts_verify(db: Database, chain: LedgerChain) -> None:
    target = _target(chain)
    indices = _record(db, 25)
    result = anchoring.anchor_tick(db, chain, target, NOW_POLICY)
    assert result.prepared == 25 and 25 in result.confirmed
    assert chain.latest_checkpoint()[:2] == (1, 25)
    _record(db, 5, start=25)
    anchoring.anchor_tick(db, chain, target, NOW_POLICY)
    assert chain.latest_checkpoint()[:2] == (2, 30)
    assert _states(db) == [(25, "confirmed"), (30, "confirmed")]

    for index in (indices[0], indices[24], 29):
        receipt = receipts.receipt_for_leaf(db, target, index)
        assert isinstance(receipt, dict)
        expected_size = 25 if index < 25 else 30
        assert receipt["tree_size"] == expected_size
        verify_receipt(json.loads(json.dumps(receipt)), lambda _addr: chain)
        leaf_hash = bytes.fromhex(receipt["leaf_hash"][2:])
        path = [bytes.fromhex(p[2:]) for p in receipt["audit_path"]]
        assert chain.verify_inclusion(leaf_hash, index, expected_size, path)

    proof = receipts.consistency(db, target, 25, 30)
    assert proof["first_root"] == "0x" + chain.root_at(25).hex()


def test_nothing_waiting_means_no_transaction(db: Database, chain: LedgerChain) -> None:
    block = chain.block_number()
    assert anchoring.anchor_tick(db, chain, _target(chain), NOW_POLICY).prepared is None
    assert chain.block_number() == block


def test_batch_policy_waits_for_enough_leaves(db: Database, chain: LedgerChain) -> None:
    policy = anchoring.AnchorPolicy(batch_leaves=10, max_wait_s=3600)
    _record(db, 4)
    assert anchoring.anchor_tick(db, chain, _target(chain), policy).prepared is None
    _record(db, 6, start=4)
    assert anchoring.anchor_tick(db, chain, _target(chain), policy).prepared == 10


def test_crash_after_send_before_record_is_reconciled_without_double_anchoring(
    db: Database, chain: LedgerChain
) -> None:
    target = _target(chain)
    _record(db, 3)
    row = anchoring.prepare(db, chain, target, NOW_POLICY)
    assert row is not None
    # Simulate: the transaction went out, then the process died before recording "confirmed".
    anchoring._send(db, chain, row)
    assert _states(db) == [(3, "sent")]
    confirmed = anchoring.reconcile(db, chain, target)
    assert confirmed == (3,)
    assert chain.latest_checkpoint()[:2] == (1, 3)
    assert _states(db) == [(3, "confirmed")]


def test_crash_after_prepare_is_sent_on_restart(db: Database, chain: LedgerChain) -> None:
    target = _target(chain)
    _record(db, 2)
    assert anchoring.prepare(db, chain, target, NOW_POLICY) is not None
    assert chain.latest_checkpoint()[0] == 0
    assert anchoring.reconcile(db, chain, target) == (2,)
    assert chain.latest_checkpoint()[:2] == (1, 2)


def test_the_contract_refuses_a_checkpoint_that_rewrites_history(db: Database, chain: LedgerChain) -> None:
    """A log rewritten behind the anchored root: the service's proof is consistent with the
    rewritten tree only, so the contract itself reverts, naming the checkpoint it protects."""
    target = _target(chain)
    _record(db, 5)
    anchoring.anchor_tick(db, chain, target, NOW_POLICY)
    anchored = chain.root_at(5)
    with db.write_sessions() as session, session.begin():  # an insider rewrites leaf 2
        leaf = session.get(LogLeafRow, 2)
        assert leaf is not None
        leaf.leaf_hash = bytes(32)
    _record(db, 3, start=5)
    refused = r"reverted: CarbonLedgerInconsistentCheckpoint\(previousTreeSize=5, previousRoot=0x"
    with pytest.raises(ChainError, match=refused):
        anchoring.anchor_tick(db, chain, target, NOW_POLICY)
    assert chain.latest_checkpoint()[:2] == (1, 5) and chain.root_at(5) == anchored
    assert chain.root_at(8) == bytes(32)


def test_each_checkpoint_carries_the_proof_from_the_one_before(db: Database, chain: LedgerChain) -> None:
    target = _target(chain)
    for start, count in ((0, 3), (3, 1), (4, 9), (13, 3)):
        _record(db, count, start=start)
        anchoring.anchor_tick(db, chain, target, NOW_POLICY)
    assert chain.latest_checkpoint()[:2] == (4, 16)
    assert _states(db) == [(3, "confirmed"), (4, "confirmed"), (13, "confirmed"), (16, "confirmed")]
    assert chain.ledger_version() == 2
