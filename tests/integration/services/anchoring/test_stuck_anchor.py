"""On Anvil: an anchor transaction stuck below the EIP-1559 base fee is replaced after N blocks by
the same call and nonce with higher fees, and the checkpoint is confirmed by the replacement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from web3.exceptions import TransactionNotFound

from backend.adapters import migrations
from backend.adapters.anvil import ANVIL_DEFAULT_KEY_0, AnvilProcess, rpc_call
from backend.adapters.chain import PROFILES, REPLACEMENT_BUMP, LedgerChain, connect
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.database import create_database
from backend.adapters.deployment import deploy_contract
from backend.adapters.orm import CheckpointRow
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.states import CheckpointState
from backend.services.anchoring import anchoring
from backend.services.anchoring.anchoring import AnchorPolicy
from backend.services.recording.activities import Caller, IssuancePolicy, record_activity

pytestmark = pytest.mark.anvil

ISSUANCE = IssuancePolicy(0, b"k" * 32, timedelta(days=366), timedelta(minutes=5))
REPLACE_AFTER = 3
POLICY = AnchorPolicy(batch_leaves=1, max_wait_s=0, replace_after_blocks=REPLACE_AFTER)


def test_an_anchor_stuck_below_the_base_fee_is_replaced_with_higher_fees(
    tmp_path: Path, anvil: AnvilProcess, ledger_artifact: ContractArtifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anchoring, "CONFIRM_WAIT_S", 0.3)
    db = create_database(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    migrations.upgrade(db.engine)
    profile = PROFILES["anvil"]
    w3 = connect(anvil.rpc_url, profile)
    manifest = deploy_contract(w3, ANVIL_DEFAULT_KEY_0, ledger_artifact)
    chain = LedgerChain.from_key(
        w3, profile, manifest.contract_address, ledger_artifact.abi, ANVIL_DEFAULT_KEY_0
    )
    target = AnchorTarget(manifest.chain_id, chain.address)
    when = datetime.now(UTC) - timedelta(hours=1)
    body = {"type": "metro", "occurred_at": when.isoformat(), "distance_km": "4"}
    record_activity(db, Caller("e1", "acme"), "key-0000000001", body, when, ISSUANCE)

    rpc_call(anvil.rpc_url, "evm_setAutomine", [False])
    anchoring.anchor_tick(db, chain, target, POLICY)  # signed with fees for today's base fee, pending
    with db.read_sessions() as session:
        first = session.execute(select(CheckpointRow)).scalar_one()
    assert first.state == CheckpointState.SENT and first.tx_hash is not None
    stuck = w3.eth.get_transaction(first.tx_hash)

    # Blocks whose base fee is far above the transaction's max fee: it cannot be included.
    rpc_call(anvil.rpc_url, "anvil_setNextBlockBaseFeePerGas", [hex(10 * stuck["maxFeePerGas"])])
    rpc_call(anvil.rpc_url, "anvil_mine", [hex(REPLACE_AFTER - 1)])
    assert w3.eth.get_block("latest")["baseFeePerGas"] > stuck["maxFeePerGas"]
    anchoring.anchor_tick(db, chain, target, POLICY)  # N-1 blocks: still waited for
    with db.read_sessions() as session:
        assert session.execute(select(CheckpointRow.tx_hash)).scalar_one() == first.tx_hash
    # Not mined; Anvil even evicts it from its pool and refuses the same bytes again.
    assert chain.mined(first.tx_hash) is None and chain.root_at(first.tree_size) == bytes(32)

    rpc_call(anvil.rpc_url, "anvil_mine", ["0x1"])
    rpc_call(anvil.rpc_url, "evm_setAutomine", [True])
    anchoring.anchor_tick(db, chain, target, POLICY)  # N blocks: replaced, and mined at once

    with db.read_sessions() as session:
        row = session.execute(select(CheckpointRow)).scalar_one()
    assert row.state == CheckpointState.CONFIRMED, row.error
    assert row.tx_hash is not None and row.tx_hash != first.tx_hash
    replacement = w3.eth.get_transaction(row.tx_hash)
    assert replacement["nonce"] == stuck["nonce"] and replacement["input"] == stuck["input"]
    assert replacement["maxFeePerGas"] >= stuck["maxFeePerGas"] * REPLACEMENT_BUMP
    assert replacement["maxPriorityFeePerGas"] >= stuck["maxPriorityFeePerGas"] * REPLACEMENT_BUMP
    included = w3.eth.get_block(row.block_number)
    assert replacement["maxFeePerGas"] >= included["baseFeePerGas"]
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(first.tx_hash)  # the stuck one is gone, never mined
    assert chain.root_at(row.tree_size) == row.root
    db.dispose()
