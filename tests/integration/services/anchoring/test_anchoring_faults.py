"""The anchoring process killed (SIGKILL) at each step of the state machine, then restarted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.adapters import migrations
from backend.adapters.anvil import ANVIL_DEFAULT_ADDRESS_0, ANVIL_DEFAULT_KEY_0, AnvilProcess, rpc_call
from backend.adapters.chain import PROFILES, LedgerChain, connect
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.database import Database, create_database
from backend.adapters.deployment import deploy_contract
from backend.adapters.orm import CheckpointRow
from backend.domain.log.checkpoints import AnchorTarget
from backend.services.anchoring import anchoring
from backend.services.audit.verification import verify_receipt
from backend.services.log import receipts
from backend.services.recording.activities import Caller, IssuancePolicy, record_activity

pytestmark = pytest.mark.anvil

ISSUANCE = IssuancePolicy(0, b"k" * 32, timedelta(days=366), timedelta(minutes=5))
"""No points: each activity is exactly one leaf, so tree sizes count activities."""
REPO = Path(__file__).resolve().parents[4]


def _setup(
    tmp_path: Path, anvil: AnvilProcess, artifact: ContractArtifact
) -> tuple[str, Database, LedgerChain]:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    db = create_database(url)
    migrations.upgrade(db.engine)
    profile = PROFILES["anvil"]
    w3 = connect(anvil.rpc_url, profile)
    manifest = deploy_contract(w3, ANVIL_DEFAULT_KEY_0, artifact)
    chain = LedgerChain.from_key(w3, profile, manifest.contract_address, artifact.abi, ANVIL_DEFAULT_KEY_0)
    now = datetime.now(UTC)
    for i in range(3):
        record_activity(
            db,
            Caller(f"e{i}", "acme"),
            f"key-{i:010d}",
            {"type": "metro", "occurred_at": (now - timedelta(hours=1)).isoformat(), "distance_km": "4"},
            now - timedelta(hours=1),
            ISSUANCE,
        )
    return url, db, chain


def _kill_at(step: str, url: str, anvil: AnvilProcess, chain: LedgerChain, tmp_path: Path) -> None:
    abi = tmp_path / "abi.json"
    abi.write_text(json.dumps(chain.abi))
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.anchor_child",
            url,
            anvil.rpc_url,
            chain.address,
            str(abi),
            step,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr


def _rows(db: Database) -> list[CheckpointRow]:
    with db.read_sessions() as session:
        return list(session.execute(select(CheckpointRow).order_by(CheckpointRow.id)).scalars())


def _nonce(chain: LedgerChain) -> int:
    return int(chain.w3.eth.get_transaction_count(ANVIL_DEFAULT_ADDRESS_0))


@pytest.mark.parametrize("step", ["prepare", "sign", "send"])
def test_killed_anchoring_recovers_without_loss_or_double_anchoring(
    step: str, tmp_path: Path, anvil: AnvilProcess, ledger_artifact: ContractArtifact
) -> None:
    url, db, chain = _setup(tmp_path, anvil, ledger_artifact)
    target = AnchorTarget(chain.chain_id(), chain.address)
    nonce_before = _nonce(chain)
    _kill_at(step, url, anvil, chain, tmp_path)

    (row,) = _rows(db)
    expected_state = {"prepare": "prepared", "sign": "sent", "send": "sent"}[step]
    assert (row.tree_size, row.state) == (3, expected_state)
    if step == "prepare":
        assert row.raw_tx is None and chain.latest_checkpoint()[0] == 0
    if step == "sign":
        assert row.raw_tx is not None and not chain.transaction_known(str(row.tx_hash))
        assert chain.latest_checkpoint()[0] == 0  # signed and recorded, never broadcast
    if step == "send":
        assert chain.latest_checkpoint()[:2] == (1, 3)  # on chain, not yet recorded as such

    assert anchoring.reconcile(db, chain, target) == (3,)  # the restarted job
    (after,) = _rows(db)
    assert after.state == "confirmed" and after.block_number is not None and after.gas_used
    if step in ("sign", "send"):
        assert after.tx_hash == row.tx_hash  # the very transaction that was recorded
    assert chain.latest_checkpoint()[:2] == (1, 3)  # anchored once
    assert _nonce(chain) == nonce_before + 1  # one transaction in all
    receipt = receipts.receipt_for_leaf(db, target, 2)
    assert isinstance(receipt, dict)
    verify_receipt(json.loads(json.dumps(receipt)), lambda _address: chain)
    db.dispose()


def test_killed_after_send_while_the_transaction_is_still_pending(
    tmp_path: Path, anvil: AnvilProcess, ledger_artifact: ContractArtifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node holds the transaction in its pool when the process dies; nothing is sent twice."""
    monkeypatch.setattr(anchoring, "CONFIRM_WAIT_S", 0.3)
    url, db, chain = _setup(tmp_path, anvil, ledger_artifact)
    target = AnchorTarget(chain.chain_id(), chain.address)
    rpc_call(anvil.rpc_url, "evm_setAutomine", [False])
    _kill_at("send", url, anvil, chain, tmp_path)
    (row,) = _rows(db)
    assert row.state == "sent" and chain.transaction_known(str(row.tx_hash))
    assert anchoring.reconcile(db, chain, target) == ()  # pending: waits, does not resend
    rpc_call(anvil.rpc_url, "evm_mine")
    assert anchoring.reconcile(db, chain, target) == (3,)
    assert chain.latest_checkpoint()[:2] == (1, 3)
    rpc_call(anvil.rpc_url, "evm_setAutomine", [True])
    db.dispose()
