"""Deploying the ledger contract once per chain, and recognising that chain afterwards.

A deployment is recorded in a manifest (``deployment.json``): which chain (id *and* genesis
hash, since chain ids are reused, e.g. every fresh Anvil is 31337), which address, which code.
On start-up the app reuses the deployment only when the connected chain still holds exactly
that code at that address; anything else (a fresh Anvil without its state, another network, a
changed contract) is reported by :func:`check_manifest` / :func:`manifest_problems`. Whether that
may be answered with a new deployment is the caller's decision (``backend.bootstrap.startup``: only while
nothing is anchored; otherwise the operator moves the ledger with ``carbon-ledger chain
reanchor``). A replaced manifest is kept beside the new one, because it names the contract that
holds the earlier anchors.

Transactions are signed locally (eth-account); the node never holds a key.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import TxParams

from backend.adapters import json_records
from backend.adapters.contract_compiler import ContractArtifact
from backend.domain.errors import ChainError

logger = logging.getLogger(__name__)

RECEIPT_TIMEOUT_S = 120
GAS_HEADROOM = 1.2
"""Multiplier on the deployment's gas estimate; unused gas is not charged."""


@dataclass(frozen=True)
class DeploymentManifest:
    """Where the ledger contract lives and what identifies the chain and code it was deployed to."""

    chain_id: int
    genesis_hash: str
    """Hash of block 0, 0x-prefixed lowercase hex: tells apart chains that share a chain id."""
    contract_address: str
    abi_hash: str
    """:attr:`ContractArtifact.abi_hash` of the deployed build."""
    code_hash: str
    """Keccak-256 of the runtime code at ``contract_address``, 0x-prefixed hex."""
    deploy_block: int
    deploy_tx: str
    deployed_at: str
    """ISO 8601 UTC time of the deployment block."""

    def to_json(self) -> str:
        return json_records.to_json(self)

    @classmethod
    def from_json(cls, text: str) -> DeploymentManifest:
        return json_records.from_json(cls, text, "deployment manifest")

    @classmethod
    def load(cls, path: Path) -> DeploymentManifest:
        return cls.from_json(path.read_text(encoding="utf-8"))


def _keccak_hex(code: bytes) -> str:
    return Web3.keccak(code).to_0x_hex()


def runtime_code_hash(artifact: ContractArtifact) -> str:
    """The code hash a deployment of ``artifact`` has (the contract has no immutables)."""
    return _keccak_hex(bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x")))


def _rpc(what: str, call: Any) -> Any:
    try:
        return call()
    except (Web3Exception, OSError, ValueError) as exc:
        raise ChainError(f"{what} failed: {exc}") from exc


def genesis_hash(w3: Web3) -> str:
    block = _rpc("eth_getBlockByNumber(0)", lambda: w3.eth.get_block(0))
    return "0x" + bytes(block["hash"]).hex()


def check_manifest(w3: Web3, manifest: DeploymentManifest) -> list[str]:
    """Why the chain behind ``w3`` is not the one ``manifest`` describes; empty when it is."""
    problems = []
    chain_id = int(_rpc("eth_chainId", lambda: w3.eth.chain_id))
    if chain_id != manifest.chain_id:
        problems.append(
            f"the node's chain id is {chain_id}, the contract was deployed on chain {manifest.chain_id}"
        )
    genesis = genesis_hash(w3)
    if genesis.lower() != manifest.genesis_hash.lower():
        problems.append(
            f"the node's genesis block is {genesis}, the contract was deployed on a chain with genesis "
            f"{manifest.genesis_hash} (a different or reset chain)"
        )
    try:
        address = Web3.to_checksum_address(manifest.contract_address)
    except ValueError:
        return [*problems, f"the manifest's contract address {manifest.contract_address!r} is not an address"]
    code = bytes(_rpc("eth_getCode", lambda: w3.eth.get_code(address)))
    if not code:
        problems.append(f"there is no contract code at {address} on this chain")
    elif _keccak_hex(code).lower() != manifest.code_hash.lower():
        problems.append(
            f"the code at {address} has hash {_keccak_hex(code)}, the manifest recorded {manifest.code_hash}"
        )
    return problems


def manifest_problems(w3: Web3, manifest: DeploymentManifest, artifact: ContractArtifact) -> list[str]:
    """:func:`check_manifest`, plus whether the deployed contract is this build of the contract."""
    problems = check_manifest(w3, manifest)
    if manifest.abi_hash != artifact.abi_hash or manifest.code_hash.lower() != runtime_code_hash(artifact):
        problems.append(
            f"the deployed contract (code {manifest.code_hash}) was built from other sources than this "
            f"build (code {runtime_code_hash(artifact)}, source hash {artifact.source_hash})"
        )
    return problems


def _fees(w3: Web3, gas_price_wei: int | None) -> TxParams:
    """A fixed legacy gas price when given (0 for free-gas QBFT), else the node's suggested fees."""
    if gas_price_wei is not None:
        return {"gasPrice": Web3.to_wei(gas_price_wei, "wei")}
    latest = _rpc("eth_getBlockByNumber(latest)", lambda: w3.eth.get_block("latest"))
    base_fee = latest.get("baseFeePerGas")
    if base_fee is None:  # pre-London chain: legacy pricing
        return {"gasPrice": _rpc("eth_gasPrice", lambda: w3.eth.gas_price)}
    tip = int(_rpc("eth_maxPriorityFeePerGas", lambda: w3.eth.max_priority_fee))
    return {
        "maxFeePerGas": Web3.to_wei(2 * int(base_fee) + tip, "wei"),
        "maxPriorityFeePerGas": Web3.to_wei(tip, "wei"),
    }


def deploy_contract(
    w3: Web3, admin_key: str, artifact: ContractArtifact, gas_price_wei: int | None = None
) -> DeploymentManifest:
    """Deploys ``artifact`` with ``admin`` = the key's account and returns its manifest (not written)."""
    account = Account.from_key(admin_key)
    chain_id = int(_rpc("eth_chainId", lambda: w3.eth.chain_id))
    contract = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    constructor = contract.constructor(account.address)
    params: TxParams = {
        "from": account.address,
        "chainId": chain_id,
        "nonce": _rpc(
            "eth_getTransactionCount", lambda: w3.eth.get_transaction_count(account.address, "pending")
        ),
        **_fees(w3, gas_price_wei),
    }
    estimate = int(_rpc("eth_estimateGas(deploy)", lambda: constructor.estimate_gas(params)))
    params["gas"] = int(estimate * GAS_HEADROOM)
    tx = _rpc("building the deployment transaction", lambda: constructor.build_transaction(params))
    signed = account.sign_transaction(tx)
    tx_hash = _rpc(
        "eth_sendRawTransaction(deploy)", lambda: w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    receipt = _rpc(
        f"waiting for deployment {tx_hash.to_0x_hex()}",
        lambda: w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S),
    )
    if receipt["status"] != 1 or not receipt.get("contractAddress"):
        raise ChainError(f"deployment transaction {tx_hash.to_0x_hex()} failed (status {receipt['status']})")
    address = Web3.to_checksum_address(receipt["contractAddress"])
    code = bytes(_rpc("eth_getCode", lambda: w3.eth.get_code(address)))
    if _keccak_hex(code) != runtime_code_hash(artifact):
        raise ChainError(f"the code deployed at {address} differs from the compiled runtime code")
    block = _rpc("eth_getBlockByNumber", lambda: w3.eth.get_block(receipt["blockNumber"]))
    logger.info(
        "deployed CarbonLedger at %s (tx %s, gas %d)", address, tx_hash.to_0x_hex(), receipt["gasUsed"]
    )
    return DeploymentManifest(
        chain_id=chain_id,
        genesis_hash=genesis_hash(w3),
        contract_address=address,
        abi_hash=artifact.abi_hash,
        code_hash=_keccak_hex(code),
        deploy_block=int(receipt["blockNumber"]),
        deploy_tx=tx_hash.to_0x_hex(),
        deployed_at=datetime.fromtimestamp(int(block["timestamp"]), UTC).isoformat(),
    )


def write_manifest(manifest: DeploymentManifest, path: Path) -> None:
    """Writes the manifest atomically: readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(manifest.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def keep_replaced(path: Path, problems: list[str]) -> Path:
    """Moves a manifest that is about to be replaced aside: it names where the earlier anchors are."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kept = path.with_name(f"{path.stem}.replaced-{stamp}{path.suffix}")
    os.replace(path, kept)
    logger.warning(
        "replacing the deployment manifest; the previous one is kept as %s because: %s",
        kept,
        "; ".join(problems),
    )
    return kept


def redeploy(
    w3: Web3,
    admin_key: str,
    artifact: ContractArtifact,
    manifest_path: Path,
    problems: list[str],
    gas_price_wei: int | None = None,
) -> DeploymentManifest:
    """Deploys a new contract and records it, keeping the replaced manifest (if any) beside it."""
    if manifest_path.exists():
        keep_replaced(manifest_path, problems)
    manifest = deploy_contract(w3, admin_key, artifact, gas_price_wei)
    write_manifest(manifest, manifest_path)
    return manifest


def load_manifest(path: Path) -> tuple[DeploymentManifest | None, list[str]]:
    """The manifest at ``path`` and, when there is none or it cannot be read, why."""
    if not path.exists():
        return None, [f"no deployment manifest at {path}"]
    try:
        return DeploymentManifest.load(path), []
    except (OSError, ValueError, TypeError) as exc:
        return None, [f"unreadable manifest {path}: {exc}"]


def ensure_deployed(
    w3: Web3,
    admin_key: str,
    artifact: ContractArtifact,
    manifest_path: Path,
    gas_price_wei: int | None = None,
) -> tuple[DeploymentManifest, bool]:
    """The deployment recorded in ``manifest_path`` if this chain still holds it, else a new one.

    Returns ``(manifest, deployed)``; ``deployed`` is True when a new contract was deployed. Only
    for a ledger with nothing anchored yet: with history, a new deployment must go through
    ``carbon-ledger chain reanchor``, which re-anchors that history (see ``backend.bootstrap.startup``).
    """
    existing, problems = load_manifest(manifest_path)
    if existing is not None:
        problems = manifest_problems(w3, existing, artifact)
        if not problems:
            return existing, False
    return redeploy(w3, admin_key, artifact, manifest_path, problems, gas_price_wei), True
