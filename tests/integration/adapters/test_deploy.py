"""Compile, deploy and recognise the ledger contract on a real Anvil, across restarts and resets."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_typing import HexStr
from web3 import Web3
from web3.contract import Contract

from backend.adapters.anvil import (
    ANVIL_DEFAULT_ADDRESS_0,
    ANVIL_DEFAULT_KEY_0,
    AnvilError,
    AnvilProcess,
    free_port,
)
from backend.adapters.contract_compiler import ContractArtifact, compile_ledger
from backend.adapters.deployment import DeploymentManifest, check_manifest, ensure_deployed, runtime_code_hash
from backend.adapters.toolchain import (
    ToolchainError,
    anvil_binary,
    pinned_solc_version,
    reported_solc_version,
    solc_binary,
)

pytestmark = pytest.mark.anvil

ROOT = hashlib.sha256(b"root of five leaves").digest()
META = hashlib.sha256(b"meta").digest()
ADMIN = Web3.to_checksum_address(ANVIL_DEFAULT_ADDRESS_0)


def _w3(node: AnvilProcess) -> Web3:
    return Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 10}))


def _ledger(w3: Web3, manifest: DeploymentManifest, artifact: ContractArtifact) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(manifest.contract_address), abi=artifact.abi)


def _anchor(w3: Web3, ledger: Contract, seq: int, size: int, root: bytes) -> dict[str, Any]:
    account = Account.from_key(ANVIL_DEFAULT_KEY_0)
    tx = ledger.functions.anchor(seq, size, root, META, []).build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending")}
    )
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    return dict(w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30))


def test_compile_is_cached_and_matches_the_sources(
    ledger_artifact: ContractArtifact, solc_cache_dir: Path
) -> None:
    started = time.monotonic()
    again = compile_ledger(solc_cache_dir)
    assert time.monotonic() - started < 1.0  # from the cache, not solc-js
    assert again == ledger_artifact
    assert ledger_artifact.compiler_version.startswith("0.8.28+")
    assert {entry.get("name") for entry in ledger_artifact.abi} >= {
        "anchor",
        "rootAt",
        "latestCheckpoint",
        "checkpointCount",
        "checkpointAt",
        "verifyInclusion",
        "ANCHORER_ROLE",
        "PAUSER_ROLE",
    }
    cached = list(solc_cache_dir.glob("*.json"))
    assert [p.name for p in cached] == [f"CarbonLedger-0.8.28-{ledger_artifact.source_hash}.json"]


def test_deploy_then_reuse_and_read_views(
    anvil: AnvilProcess, ledger_artifact: ContractArtifact, tmp_path: Path
) -> None:
    w3 = _w3(anvil)
    manifest_path = tmp_path / "deployment.json"
    manifest, deployed = ensure_deployed(w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, manifest_path)
    assert deployed
    assert DeploymentManifest.load(manifest_path) == manifest
    assert manifest.chain_id == 31337 and manifest.abi_hash == ledger_artifact.abi_hash
    assert manifest.code_hash == runtime_code_hash(ledger_artifact)
    assert manifest.genesis_hash == w3.eth.get_block(0)["hash"].to_0x_hex()
    assert w3.eth.get_transaction_receipt(HexStr(manifest.deploy_tx))["blockNumber"] == manifest.deploy_block
    assert check_manifest(w3, manifest) == []

    again, deployed_again = ensure_deployed(w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, manifest_path)
    assert (again, deployed_again) == (manifest, False)

    ledger = _ledger(w3, manifest, ledger_artifact)
    assert ledger.functions.rootAt(1).call() == bytes(32)
    assert ledger.functions.latestCheckpoint().call() == [0, 0, bytes(32)]
    assert ledger.functions.checkpointCount().call() == 0
    anchorer = ledger.functions.ANCHORER_ROLE().call()
    assert ledger.functions.hasRole(anchorer, ANVIL_DEFAULT_ADDRESS_0).call()


def test_anchor_one_checkpoint_and_read_it_back(
    anvil: AnvilProcess, ledger_artifact: ContractArtifact, tmp_path: Path
) -> None:
    w3 = _w3(anvil)
    manifest, _ = ensure_deployed(w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, tmp_path / "d.json")
    ledger = _ledger(w3, manifest, ledger_artifact)

    receipt = _anchor(w3, ledger, seq=1, size=5, root=ROOT)
    assert receipt["status"] == 1
    assert ledger.functions.latestCheckpoint().call() == [1, 5, ROOT]
    assert ledger.functions.rootAt(5).call() == ROOT
    assert ledger.functions.checkpointCount().call() == 1
    size, root = ledger.functions.checkpointAt(1).call()
    assert (size, root) == (5, ROOT)
    (event,) = ledger.events.CheckpointAnchored().process_receipt(receipt)
    args = event["args"]
    assert (args["seq"], args["treeSize"], args["root"], args["metaHash"]) == (1, 5, ROOT, META)
    assert event["blockNumber"] == receipt["blockNumber"]


def test_restart_with_state_reuses_the_deployment(ledger_artifact: ContractArtifact, tmp_path: Path) -> None:
    state, manifest_path = tmp_path / "anvil-state.json", tmp_path / "deployment.json"
    port = free_port()
    with AnvilProcess(port, state, log_path=tmp_path / "anvil.log") as node:
        w3 = _w3(node)
        manifest, deployed = ensure_deployed(w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, manifest_path)
        _anchor(w3, _ledger(w3, manifest, ledger_artifact), seq=1, size=5, root=ROOT)
    assert deployed and not node.is_running()
    assert state.stat().st_size > 0  # dumped on SIGINT

    with AnvilProcess(port, state, log_path=tmp_path / "anvil.log") as node:
        w3 = _w3(node)
        assert check_manifest(w3, manifest) == []
        again, deployed = ensure_deployed(w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, manifest_path)
        assert (again, deployed) == (manifest, False)
        assert _ledger(w3, manifest, ledger_artifact).functions.latestCheckpoint().call() == [1, 5, ROOT]


def test_fresh_chain_is_detected_and_redeployed(ledger_artifact: ContractArtifact, tmp_path: Path) -> None:
    manifest_path = tmp_path / "deployment.json"
    with AnvilProcess(free_port(), tmp_path / "state.json") as node:
        w3 = _w3(node)
        manifest, _ = ensure_deployed(w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, manifest_path)
        _anchor(w3, _ledger(w3, manifest, ledger_artifact), seq=1, size=5, root=ROOT)

    with AnvilProcess(free_port(), state_path=None) as fresh:  # same chain id, empty chain
        w3 = _w3(fresh)
        problems = check_manifest(w3, manifest)
        assert any(f"no contract code at {manifest.contract_address}" in p for p in problems)
        if w3.eth.get_block(0)["hash"].to_0x_hex() != manifest.genesis_hash:
            assert any("genesis" in p for p in problems)

        redeployed, deployed = ensure_deployed(w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, manifest_path)
        assert deployed
        assert check_manifest(w3, redeployed) == []
        assert _ledger(w3, redeployed, ledger_artifact).functions.checkpointCount().call() == 0
        (kept,) = tmp_path.glob("deployment.replaced-*.json")  # the old manifest names the old anchors
        assert DeploymentManifest.load(kept) == manifest
        assert DeploymentManifest.load(manifest_path) == redeployed


def test_other_chain_id_is_reported(ledger_artifact: ContractArtifact, tmp_path: Path) -> None:
    with AnvilProcess(free_port(), state_path=None) as node:
        manifest, _ = ensure_deployed(_w3(node), ANVIL_DEFAULT_KEY_0, ledger_artifact, tmp_path / "d.json")
    with AnvilProcess(free_port(), state_path=None, chain_id=4242) as other:
        problems = check_manifest(_w3(other), manifest)
    assert any("chain id is 4242" in p and "chain 31337" in p for p in problems)


def test_zero_gas_price_mode_deploys_for_free(ledger_artifact: ContractArtifact, tmp_path: Path) -> None:
    """Besu QBFT runs with free gas; Anvil with a zero base fee stands in for it."""
    free_gas = ("--base-fee", "0", "--no-priority-fee")
    with AnvilProcess(free_port(), state_path=None, extra_args=free_gas) as node:
        w3 = _w3(node)
        before = w3.eth.get_balance(ADMIN)
        manifest, deployed = ensure_deployed(
            w3, ANVIL_DEFAULT_KEY_0, ledger_artifact, tmp_path / "d.json", gas_price_wei=0
        )
        assert deployed and check_manifest(w3, manifest) == []
        assert w3.eth.get_transaction(HexStr(manifest.deploy_tx))["gasPrice"] == 0
        assert w3.eth.get_balance(ADMIN) == before


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        node = AnvilProcess(port, tmp_path / "state.json")
        with pytest.raises(AnvilError, match=rf"port {port} .* already in use"):
            node.start()
        assert not node.is_running()


def test_unloadable_state_fails_with_the_log_tail(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"not": "an anvil state"}))
    node = AnvilProcess(free_port(), state)
    with pytest.raises(AnvilError, match="exited with code") as caught:
        node.start()
    assert "state" in str(caught.value).split("\n", 1)[1].lower()  # anvil's own words follow
    assert not node.is_running()


def test_kill_leaves_no_process(tmp_path: Path) -> None:
    node = AnvilProcess(free_port(), tmp_path / "state.json")
    node.start()
    pid = node.pid
    node.kill()
    assert pid is not None and not node.is_running()
    node.stop()  # stopping a dead node is a no-op


def test_toolchain_overrides_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARBON_ANVIL_BIN", str(tmp_path / "no-anvil"))
    monkeypatch.setenv("CARBON_SOLC_BIN", str(tmp_path / "no-solc"))
    with pytest.raises(ToolchainError, match=r"CARBON_ANVIL_BIN=.*no-anvil is not an executable"):
        anvil_binary()
    with pytest.raises(ToolchainError, match=r"CARBON_SOLC_BIN=.*no-solc is not an executable"):
        solc_binary()
    monkeypatch.delenv("CARBON_SOLC_BIN")
    assert reported_solc_version(solc_binary()) == pinned_solc_version() == "0.8.28"
