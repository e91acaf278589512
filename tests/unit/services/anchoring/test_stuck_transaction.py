"""A transaction stuck below the base fee is replaced by the same one with higher fees, after N
blocks, on the in-memory chain (tests/integration/services/anchoring/test_stuck_anchor.py does it on
Anvil)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.orm import CheckpointRow
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.states import CheckpointState
from backend.services.anchoring import anchoring
from backend.services.recording.activities import Caller, IssuancePolicy, record_activity
from tests.fakes.chain import FakeLedgerChain

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

POLICY = IssuancePolicy(0, b"k" * 32, timedelta(days=366), timedelta(minutes=5))
REPLACE_AFTER = 3
ANCHOR_NOW = anchoring.AnchorPolicy(batch_leaves=1, max_wait_s=0, replace_after_blocks=REPLACE_AFTER)


def _checkpoint(db: Database) -> CheckpointRow:
    with db.read_sessions() as session:
        return session.execute(select(CheckpointRow)).scalar_one()


def _one_leaf_and_a_costly_chain(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> tuple[FakeLedgerChain, AnchorTarget]:
    monkeypatch.setattr(anchoring, "CONFIRM_WAIT_S", 0.0)
    when = datetime.now(UTC) - timedelta(hours=1)
    body = {"type": "metro", "occurred_at": when.isoformat(), "distance_km": "5"}
    record_activity(db, Caller("e1", "acme"), "key-0000000001", body, when, POLICY)
    chain = FakeLedgerChain()
    chain.auto_mine = False  # blocks come when the test mines them
    chain.base_fee = 5  # above the fee the transaction is signed with: it stays in the mempool
    return chain, AnchorTarget(chain.chain_id(), chain.address)


def test_a_stuck_anchor_is_replaced_after_n_blocks_and_confirmed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, target = _one_leaf_and_a_costly_chain(db, monkeypatch)

    anchoring.anchor_tick(db, chain, target, ANCHOR_NOW)
    first = _checkpoint(db)
    assert first.state == CheckpointState.SENT and first.tx_hash in chain.mempool

    for _ in range(REPLACE_AFTER - 1):  # not yet N blocks: waited for, not replaced
        chain.mine()
        anchoring.anchor_tick(db, chain, target, ANCHOR_NOW)
        assert _checkpoint(db).tx_hash == first.tx_hash
    chain.mine()
    anchoring.anchor_tick(db, chain, target, ANCHOR_NOW)  # N blocks: re-priced

    replaced = _checkpoint(db)
    assert replaced.state == CheckpointState.SENT and replaced.sent_block == REPLACE_AFTER
    assert replaced.tx_hash != first.tx_hash and replaced.nonce == first.nonce
    assert list(chain.mempool) == [replaced.tx_hash]  # the replacement took the old one's place
    chain.mine()
    anchoring.anchor_tick(db, chain, target, ANCHOR_NOW)
    confirmed = _checkpoint(db)
    assert confirmed.state == CheckpointState.CONFIRMED and confirmed.tx_hash == replaced.tx_hash
    assert chain.sent == [first.tx_hash, replaced.tx_hash] and not chain.mempool
    assert chain.latest_checkpoint()[1] == 1


def test_without_a_limit_a_stuck_anchor_is_only_waited_for(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, target = _one_leaf_and_a_costly_chain(db, monkeypatch)
    never = anchoring.AnchorPolicy(batch_leaves=1, max_wait_s=0)
    for _ in range(REPLACE_AFTER * 3):
        anchoring.anchor_tick(db, chain, target, never)
        chain.mine()
    assert _checkpoint(db).state == CheckpointState.SENT and len(chain.sent) == 1
