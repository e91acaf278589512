"""The anchoring use cases against the in-memory chain (tests/fakes/chain.py): no node, milliseconds.

The same use cases run against a real Anvil in tests/integration/services/anchoring/test_anchoring*.py and
test_chain_repair.py; here each rule is exercised where it is decided.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from web3 import Web3

from backend.adapters.database import Database
from backend.adapters.orm import CheckpointRow, LogLeafRow
from backend.domain.log.checkpoints import AnchorTarget
from backend.services.anchoring import anchoring, chain_repair
from backend.services.anchoring.chain_identity import HISTORY_MISSING, OK, ExpectedChain, check_chain
from backend.services.recording.activities import Caller, IssuancePolicy, record_activity
from tests.fakes.chain import FakeLedgerChain

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

POLICY = IssuancePolicy(0, b"k" * 32, timedelta(days=366), timedelta(minutes=5))  # one leaf each
NOW = anchoring.AnchorPolicy(batch_leaves=1, max_wait_s=0)
WHEN = datetime(2026, 11, 20, 8, 10, tzinfo=UTC)


def _record(db: Database, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        body = {"type": "metro", "occurred_at": WHEN.isoformat(), "distance_km": "5"}
        record_activity(db, Caller(f"e{i}", "acme"), f"key-{i:010d}", body, WHEN, POLICY)


def _target(chain: FakeLedgerChain) -> AnchorTarget:
    return AnchorTarget(chain.chain_id(), chain.address)


def _states(db: Database) -> list[tuple[int, int, str]]:
    with db.read_sessions() as session:
        rows = session.execute(
            select(CheckpointRow.tree_size, CheckpointRow.seq, CheckpointRow.state).order_by(CheckpointRow.id)
        )
        return [(int(size), int(seq), str(state)) for size, seq, state in rows]


def test_each_checkpoint_carries_a_proof_the_contract_rules_accept(db: Database) -> None:
    chain = FakeLedgerChain()
    for start, count in ((0, 3), (3, 1), (4, 9), (13, 3)):
        _record(db, count, start=start)
        anchoring.anchor_tick(db, chain, _target(chain), NOW)
    assert chain.latest_checkpoint()[:2] == (4, 16)
    assert _states(db) == [
        (3, 1, "confirmed"),
        (4, 2, "confirmed"),
        (13, 3, "confirmed"),
        (16, 4, "confirmed"),
    ]
    assert len(chain.sent) == 4  # one transaction per checkpoint


def test_a_rewritten_log_is_refused_by_the_contract_rules(db: Database) -> None:
    chain = FakeLedgerChain()
    _record(db, 5)
    anchoring.anchor_tick(db, chain, _target(chain), NOW)
    with db.write_sessions() as session, session.begin():
        leaf = session.get(LogLeafRow, 1)
        assert leaf is not None
        leaf.leaf_hash = bytes(32)
    _record(db, 2, start=5)
    anchoring.anchor_tick(db, chain, _target(chain), NOW)
    assert _states(db) == [(5, 1, "confirmed"), (7, 2, "failed")]
    assert chain.latest_checkpoint()[:2] == (1, 5)


def test_a_pending_transaction_is_waited_for_never_sent_twice(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anchoring, "CONFIRM_WAIT_S", 0.0)
    chain = FakeLedgerChain()
    chain.auto_mine = False
    _record(db, 4)
    anchoring.anchor_tick(db, chain, _target(chain), NOW)
    anchoring.anchor_tick(db, chain, _target(chain), NOW)
    assert _states(db) == [(4, 1, "sent")] and len(chain.sent) == 1
    chain.mine()
    assert anchoring.anchor_tick(db, chain, _target(chain), NOW).confirmed == (4,)
    assert _states(db) == [(4, 1, "confirmed")] and len(chain.sent) == 1


def test_a_lost_suffix_is_reanchored_on_the_same_contract(db: Database) -> None:
    chain = FakeLedgerChain()
    expected = ExpectedChain(
        31337, chain.genesis_hash(), chain.address, Web3.keccak(chain.code()).to_0x_hex()
    )
    for start in (0, 2, 4):
        _record(db, 2, start=start)
        anchoring.anchor_tick(db, chain, _target(chain), NOW)
    chain.lose_blocks_after(1)  # back with checkpoint 1 only
    check = check_chain(db, chain, expected)
    assert check.state == HISTORY_MISSING, check.summary()
    manifest = {"chain_id": 31337, "contract_address": chain.address, "genesis_hash": chain.genesis_hash()}

    progress = chain_repair.repair_step(db, chain, _target(chain), check, manifest)

    assert progress is not None and progress.complete and progress.lost == 2 and progress.leaf_index == 6
    assert [row for row in _states(db) if row[2] != "lost"] == [
        (2, 1, "confirmed"),
        (4, 2, "confirmed"),
        (6, 3, "confirmed"),
    ]
    assert check_chain(db, chain, expected).state == OK
    assert anchoring.anchor_tick(db, chain, _target(chain), NOW).confirmed == (7,)  # the repair record


def test_a_chain_holding_another_latest_root_is_not_repaired(db: Database) -> None:
    chain = FakeLedgerChain()
    for start in (0, 2):
        _record(db, 2, start=start)
        anchoring.anchor_tick(db, chain, _target(chain), NOW)
    chain.lose_blocks_after(1)
    with db.write_sessions() as session, session.begin():
        row = session.execute(select(CheckpointRow).where(CheckpointRow.tree_size == 2)).scalar_one()
        row.root = b"\x01" * 32
    assert chain_repair.lost_suffix(db, chain, _target(chain)) is None


def test_a_process_that_lost_the_anchoring_role_adds_no_checkpoint(db: Database) -> None:
    from backend.services import roles

    chain = FakeLedgerChain()
    _record(db, 3)
    stale = roles.acquire(db, "anchor", "old", lease_s=0.01)
    assert stale is not None
    taken = None
    while taken is None:  # the old holder's lease runs out; the new one takes over
        taken = roles.acquire(db, "anchor", "new", lease_s=60)

    def fence(lease: roles.Lease) -> anchoring.Fence:
        return lambda session: roles.holds_in(session, lease)

    assert anchoring.anchor_tick(db, chain, _target(chain), NOW, fence(stale)).prepared is None
    assert _states(db) == [] and chain.sent == []
    assert anchoring.anchor_tick(db, chain, _target(chain), NOW, fence(taken)).prepared == 3
    assert _states(db) == [(3, 1, "confirmed")]
