"""The chain is checked against what was anchored; a lost history is reported, then re-anchored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from backend.adapters.anvil import ANVIL_DEFAULT_KEY_0, AnvilProcess, free_port, rpc_call
from backend.adapters.chain import LedgerChain
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.deployment import DeploymentManifest
from backend.adapters.orm import CheckpointRow, LogLeafRow
from backend.adapters.orm_chain import ChainIncidentRow, ChainMoveRow
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.startup import resolve_deployment, watch_chain
from backend.domain.errors import ConfigurationError
from backend.entrypoints.worker.scheduler import anchoring_job
from backend.observability.collector import LedgerCollector
from backend.services.anchoring import chain_recovery
from backend.services.anchoring.chain_identity import HISTORY_MISSING, MISMATCH, OK, chain_status
from backend.services.anchoring.reanchoring import LogIntegrityError
from backend.services.audit.verification import verify_receipt
from backend.services.log import receipts
from tests.integration import chainkit
from tests.waiting import wait_for

pytestmark = pytest.mark.anvil


@pytest.fixture
def setup(
    tmp_path: Path, ledger_artifact: ContractArtifact, migrated_sqlite_url: str
) -> tuple[Path, int, AnvilProcess, Runtime]:
    port = free_port()
    anvil = chainkit.node(port, tmp_path / "state.json", tmp_path)
    settings = chainkit.settings_for(tmp_path / "var", migrated_sqlite_url, anvil.rpc_url)
    runtime = chainkit.runtime_for(settings, ledger_artifact)
    yield tmp_path, port, anvil, runtime
    runtime.db.dispose()
    anvil.kill()


def _confirmed(runtime: Runtime) -> list[tuple[int, str]]:
    with runtime.db.read_sessions() as session:
        rows = session.execute(
            select(CheckpointRow.tree_size, CheckpointRow.contract)
            .where(CheckpointRow.state == "confirmed")
            .order_by(CheckpointRow.id)
        )
        return [(int(size), str(contract)) for size, contract in rows]


def _receipt(runtime: Runtime, index: int) -> dict[str, object]:
    assert runtime.target is not None
    receipt = receipts.receipt_for_leaf(runtime.db, runtime.target, index)
    assert isinstance(receipt, dict)
    return json.loads(json.dumps(receipt))


def test_killed_node_restarted_with_its_state_continues(
    setup: tuple[Path, int, AnvilProcess, Runtime],
) -> None:
    tmp_path, port, anvil, runtime = setup
    chainkit.record(runtime, 3)
    anchoring_job(runtime)
    assert chain_status(runtime)["ok"] and _confirmed(runtime)[-1][0] == 3
    state = tmp_path / "state.json"
    # The file system's clock, not the process's (they differ under a faked clock, as in faketime)
    marker = tmp_path / "confirmed"
    marker.touch()
    confirmed_at = marker.stat().st_mtime
    # Anvil's own periodic dump: one written wholly after the confirmation holds the block.
    first = wait_for(
        "Anvil to dump its state",
        lambda: state.exists() and state.stat().st_mtime > confirmed_at and state.stat().st_mtime,
    )
    wait_for("a second dump of Anvil's state", lambda: state.stat().st_mtime > first)
    anvil.kill()
    restarted = chainkit.node(port, tmp_path / "state.json", tmp_path)
    try:
        check = watch_chain(runtime)
        assert check is not None and check.state == OK, check.summary()
        chainkit.record(runtime, 2, start=3)
        anchoring_job(runtime)
        assert [size for size, _ in _confirmed(runtime)] == [3, 5]
        assert runtime.chain is not None
        verify_receipt(_receipt(runtime, 1), lambda _address: runtime.chain)  # type: ignore[arg-type, return-value]
    finally:
        restarted.kill()


def test_fresh_node_without_state_is_refused_then_reanchored(
    setup: tuple[Path, int, AnvilProcess, Runtime], ledger_artifact: ContractArtifact
) -> None:
    tmp_path, port, anvil, runtime = setup
    assert runtime.chain is not None and runtime.target is not None
    chainkit.record(runtime, 5)
    anchoring_job(runtime)
    chainkit.record(runtime, 3, start=5)
    anchoring_job(runtime)
    old_contract = runtime.target.contract
    old_roots = {size: runtime.chain.root_at(size) for size in (5, 8)}
    old_receipt = _receipt(runtime, 2)
    anvil.kill()
    fresh = chainkit.node(port, None, tmp_path)  # same port and chain id, empty chain
    try:
        check = watch_chain(runtime)
        assert check is not None and check.state == MISMATCH
        assert any("no contract code" in r or "genesis" in r for r in check.reasons)
        api = chainkit.client(runtime)
        assert api.get("/healthz").status_code == 200  # liveness: a restart would not help
        ready = api.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["chain_identity"]["state"] == MISMATCH
        assert "chain reanchor" in ready.json()["checks"]["chain_identity"]["action"]
        identity = next(
            m for m in LedgerCollector(runtime).collect() if m.name == "carbon_ledger_chain_identity"
        )
        assert [(sample.labels["state"], sample.value) for sample in identity.samples] == [(MISMATCH, 1.0)]
        refused = api.get("/audit/v1/checkpoints", headers=chainkit.auth(runtime))
        assert refused.status_code == 503 and refused.json()["type"].endswith("chain-mismatch")
        with runtime.db.read_sessions() as session:
            (incident,) = session.execute(select(ChainIncidentRow)).scalars()
            assert incident.cleared_at is None and incident.state == MISMATCH

        chainkit.record(runtime, 2, start=8)  # recording goes on; nothing is anchored
        anchoring_job(runtime)
        assert len(_confirmed(runtime)) == 2

        # A restarted server does not redeploy over the history either.
        restarted = chainkit.runtime_for(runtime.settings, ledger_artifact)
        assert restarted.target == runtime.target
        assert restarted.chain_guard.last is not None and restarted.chain_guard.last.state == MISMATCH

        report = chain_recovery.reanchor(restarted, ledger_artifact, ANVIL_DEFAULT_KEY_0)
        restarted.db.dispose()
        assert report.mode == "move" and report.checkpoints == 2 and report.leaf_index == 10
        assert report.anchored_tree_size == 11  # the two waiting leaves and the move itself
        (kept,) = (tmp_path / "var").glob("deployment.replaced-*.json")
        assert DeploymentManifest.load(kept).contract_address == old_contract

        check = watch_chain(runtime)  # the running server adopts the new deployment
        assert check is not None and check.state == OK, check.summary()
        assert runtime.chain.address == report.contract
        assert {size: runtime.chain.root_at(size) for size in (5, 8)} == old_roots
        assert runtime.chain.latest_checkpoint()[:2] == (3, 11)
        assert api.get("/readyz").json()["checks"]["chain_identity"]["ok"] is True

        for index in (0, 4, 7, 9):
            verify_receipt(_receipt(runtime, index), lambda _address: runtime.chain)  # type: ignore[arg-type, return-value]
        # The redeployed contract got the old address (same key, nonce 0) and the same roots at
        # the same sizes, so even receipts issued before the loss verify again.
        assert report.contract == old_contract
        verify_receipt(old_receipt, lambda _address: runtime.chain)  # type: ignore[arg-type, return-value]

        with runtime.db.read_sessions() as session:
            move = session.execute(select(ChainMoveRow)).scalar_one()
            leaf = session.get(LogLeafRow, 10)
            incident = session.execute(select(ChainIncidentRow)).scalar_one()
        assert move.state == "completed" and move.leaf_index == 10 and move.old_manifest is not None
        assert leaf is not None and leaf.kind == "chain_move" and leaf.record_id == move.id
        body = json.loads(leaf.leaf)["body"]
        assert body["mode"] == "move" and body["reanchored"]["checkpoints"] == 2
        assert incident.cleared_at is not None and move.id in (incident.resolution or "")
    finally:
        fresh.kill()


def test_lost_latest_checkpoint_is_caught_up_on_the_same_contract(
    setup: tuple[Path, int, AnvilProcess, Runtime], ledger_artifact: ContractArtifact
) -> None:
    _, _, anvil, runtime = setup
    assert runtime.chain is not None
    chainkit.record(runtime, 2)
    anchoring_job(runtime)
    snapshot = rpc_call(anvil.rpc_url, "evm_snapshot")
    chainkit.record(runtime, 2, start=2)
    anchoring_job(runtime)
    rpc_call(anvil.rpc_url, "evm_revert", [snapshot])  # the node lost its latest blocks
    check = watch_chain(runtime)
    assert check is not None and check.state == HISTORY_MISSING
    assert "tree size 4" in check.reasons[0] and "no longer holds it" in check.reasons[0]
    assert chain_recovery.plan(runtime, ledger_artifact).mode == "catch_up"

    report = chain_recovery.reanchor(runtime, ledger_artifact, ANVIL_DEFAULT_KEY_0)
    assert report.mode == "catch_up" and report.contract == runtime.chain.address
    assert runtime.chain.latest_checkpoint()[:2] == (3, 5)
    with runtime.db.read_sessions() as session:
        states = session.execute(
            select(CheckpointRow.tree_size, CheckpointRow.state).order_by(CheckpointRow.id)
        ).all()
    assert [tuple(s) for s in states] == [(2, "confirmed"), (4, "lost"), (4, "confirmed"), (5, "confirmed")]
    assert chain_status(runtime)["ok"]
    verify_receipt(_receipt(runtime, 3), lambda _address: runtime.chain)  # type: ignore[arg-type, return-value]


def test_database_behind_the_chain_is_a_mismatch(setup: tuple[Path, int, AnvilProcess, Runtime]) -> None:
    """A database restored from an older backup must not anchor as if nothing happened."""
    _, _, _, runtime = setup
    chainkit.record(runtime, 2)
    anchoring_job(runtime)
    chainkit.record(runtime, 1, start=2)
    anchoring_job(runtime)
    with runtime.db.write_sessions() as session, session.begin():
        session.execute(delete(CheckpointRow).where(CheckpointRow.tree_size == 3))
    check = watch_chain(runtime)
    assert check is not None and check.state == MISMATCH
    assert "does not know" in check.reasons[0]


def test_altered_log_is_never_reanchored(
    setup: tuple[Path, int, AnvilProcess, Runtime], ledger_artifact: ContractArtifact
) -> None:
    tmp_path, port, anvil, runtime = setup
    chainkit.record(runtime, 3)
    anchoring_job(runtime)
    manifest_before = runtime.settings.manifest_path.read_text()
    with runtime.db.write_sessions() as session, session.begin():
        leaf = session.get(LogLeafRow, 1)
        assert leaf is not None
        leaf.leaf_hash = bytes(32)
    anvil.kill()
    fresh = chainkit.node(port, None, tmp_path)
    try:
        with pytest.raises(LogIntegrityError, match="tree size 3"):
            chain_recovery.reanchor(runtime, ledger_artifact, ANVIL_DEFAULT_KEY_0)
        assert runtime.settings.manifest_path.read_text() == manifest_before
    finally:
        fresh.kill()


def test_new_ledgers_deploy_by_themselves_but_not_over_history(
    setup: tuple[Path, int, AnvilProcess, Runtime], ledger_artifact: ContractArtifact
) -> None:
    tmp_path, port, anvil, runtime = setup
    assert runtime.chain is not None
    w3 = runtime.chain.w3
    path = runtime.settings.manifest_path
    # Nothing anchored yet: a chain reset is answered with a new deployment.
    anvil.kill()
    fresh = chainkit.node(port, None, tmp_path)
    try:
        manifest, deployed = resolve_deployment(
            runtime.db, w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, path, None
        )
        assert deployed and manifest.genesis_hash == runtime.chain.genesis_hash()
        # With history and no manifest: refuse, and say what to do.
        chainkit.record(runtime, 1)
        restarted = chainkit.runtime_for(runtime.settings, ledger_artifact)
        anchoring_job(restarted)
        path.unlink()
        with pytest.raises(ConfigurationError, match="chain reanchor"):
            resolve_deployment(runtime.db, w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, path, None)
        restarted.db.dispose()
    finally:
        fresh.kill()


def test_a_version_1_contract_is_upgraded_by_a_move(
    setup: tuple[Path, int, AnvilProcess, Runtime],
    ledger_artifact: ContractArtifact,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`chain reanchor` on a healthy contract that predates the consistency check moves the
    history to a new contract of this version, where every checkpoint carries its proof."""
    _, _, _, runtime = setup
    assert runtime.chain is not None
    chainkit.record(runtime, 3)
    anchoring_job(runtime)
    chainkit.record(runtime, 4, start=3)
    anchoring_job(runtime)
    old = runtime.chain.address
    assert chain_recovery.plan(runtime, ledger_artifact).mode == "none"
    monkeypatch.setattr(LedgerChain, "ledger_version", lambda self: 1 if self.address == old else 2)
    what = chain_recovery.plan(runtime, ledger_artifact)
    assert what.mode == "move" and "version 1" in what.reasons[0] and what.checkpoints == 2

    report = chain_recovery.reanchor(runtime, ledger_artifact, ANVIL_DEFAULT_KEY_0)
    assert report.mode == "move" and report.contract != old
    assert runtime.chain.address == report.contract
    assert [runtime.chain.root_at(size) != bytes(32) for size in (3, 7, 8)] == [True, True, True]
    assert chain_recovery.plan(runtime, ledger_artifact).mode == "none"
