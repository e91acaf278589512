"""Generates a 4-validator QBFT network: node keys, genesis with the validators in ``extraData``,
one ``config.toml`` per node (free gas, local permissioning) and the shared allow-lists.

Everything is derived from the validator and ledger keys, so the committed sample can be checked
against a regeneration (``tests/unit/deploy/besu/test_besu_network.py``). Not run against a real Besu here:
Besu is not installable in this project's environment (see docs/chain-profiles.md).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rlp  # type: ignore[import-untyped]
from eth_account import Account
from eth_keys.datatypes import PrivateKey
from web3 import Web3

VALIDATORS = 4
"""QBFT tolerates f faulty validators out of 3f + 1: four is the smallest network that survives one."""
CHAIN_ID = 2026
BLOCK_PERIOD_S = 2
REQUEST_TIMEOUT_S = 4
EPOCH_LENGTH = 30_000
P2P_PORT = 30303
RPC_PORT = 8545
HOST = "127.0.0.1"
SAMPLE_SEED = b"carbon-ledger/besu-sample/"
"""Seed of the committed sample's keys. Public: the sample is for trying out, never for a real park."""
BFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
"""The mixHash every IBFT 2.0 / QBFT genesis carries ("Istanbul byzantine fault tolerance")."""
RPC_APIS = ["ETH", "NET", "WEB3", "QBFT", "TXPOOL"]


@dataclass(frozen=True)
class Node:
    number: int
    private_key: bytes

    @property
    def address(self) -> str:
        return str(Account.from_key(self.private_key).address)

    @property
    def public_key_hex(self) -> str:
        return PrivateKey(self.private_key).public_key.to_bytes().hex()

    @property
    def p2p_port(self) -> int:
        return P2P_PORT + self.number - 1

    @property
    def rpc_port(self) -> int:
        return RPC_PORT + self.number - 1

    @property
    def enode(self) -> str:
        return f"enode://{self.public_key_hex}@{HOST}:{self.p2p_port}"


def _key(sample: bool, name: str) -> bytes:
    return bytes(Web3.keccak(SAMPLE_SEED + name.encode())) if sample else secrets.token_bytes(32)


def qbft_extra_data(validators: list[str]) -> str:
    """RLP([32-byte vanity, [validator addresses], no vote, round 0, no seals]) for block 0."""
    addresses = [bytes.fromhex(a.removeprefix("0x")) for a in validators]
    return "0x" + bytes(rlp.encode([b"\x00" * 32, addresses, [], 0, []])).hex()


def genesis(validators: list[str]) -> dict[str, Any]:
    return {
        "config": {
            "chainId": CHAIN_ID,
            "berlinBlock": 0,
            "londonBlock": 0,
            "shanghaiTime": 0,
            "cancunTime": 0,
            "zeroBaseFee": True,
            "contractSizeLimit": 2147483647,
            "qbft": {
                "blockperiodseconds": BLOCK_PERIOD_S,
                "epochlength": EPOCH_LENGTH,
                "requesttimeoutseconds": REQUEST_TIMEOUT_S,
            },
        },
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": "0x1fffffffffffff",
        "difficulty": "0x1",
        "mixHash": BFT_MIX_HASH,
        "coinbase": "0x0000000000000000000000000000000000000000",
        "alloc": {},
        "extraData": qbft_extra_data(validators),
    }


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def node_config(node: Node, bootnode: Node) -> str:
    lines = [
        f"# Carbon Ledger sample QBFT network: validator {node.number} of {VALIDATORS}.",
        "# Run from this directory: besu --config-file=config.toml",
        'data-path="data"',
        'genesis-file="../genesis.json"',
        'node-private-key-file="key"',
        f'p2p-host="{HOST}"',
        f"p2p-port={node.p2p_port}",
        f"bootnodes={_toml_list([bootnode.enode])}" if node != bootnode else "bootnodes=[]",
        "rpc-http-enabled=true",
        f'rpc-http-host="{HOST}"',
        f"rpc-http-port={node.rpc_port}",
        f"rpc-http-api={_toml_list(RPC_APIS)}",
        f'host-allowlist=["localhost", "{HOST}"]',
        "# Free gas: validators are run by the park's members, not paid per transaction.",
        "min-gas-price=0",
        "# Only the four validators may peer, and only allow-listed accounts may send transactions.",
        "permissions-nodes-config-file-enabled=true",
        'permissions-nodes-config-file="../permissions_config.toml"',
        "permissions-accounts-config-file-enabled=true",
        'permissions-accounts-config-file="../permissions_config.toml"',
    ]
    return "\n".join(lines) + "\n"


def permissions(nodes: list[Node], accounts: list[str]) -> str:
    return (
        "# Local permissioning shared by every node (keep the copies identical).\n"
        f"nodes-allowlist={_toml_list([n.enode for n in nodes])}\n"
        f"accounts-allowlist={_toml_list([a.lower() for a in accounts])}\n"
    )


@dataclass(frozen=True)
class Network:
    nodes: list[Node]
    ledger_key: bytes
    files: dict[str, str]
    """Relative path → content, public files only (no private key)."""


def build(sample: bool) -> Network:
    nodes = [Node(i, _key(sample, f"validator-{i}")) for i in range(1, VALIDATORS + 1)]
    ledger_key = _key(sample, "ledger-anchoring")
    ledger_address = str(Account.from_key(ledger_key).address)
    files = {
        "genesis.json": json.dumps(genesis([n.address for n in nodes]), indent=2) + "\n",
        "permissions_config.toml": permissions(nodes, [ledger_address]),
    }
    for node in nodes:
        files[f"node-{node.number}/config.toml"] = node_config(node, nodes[0])
    return Network(nodes, ledger_key, files)


def write(network: Network, out: Path, with_keys: bool) -> None:
    for relative, content in network.files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    if not with_keys:
        return
    for node in network.nodes:
        key = out / f"node-{node.number}" / "key"
        key.write_text("0x" + node.private_key.hex() + "\n", encoding="utf-8")
        key.chmod(0o600)
    ledger = out / "ledger-anchoring.key"
    ledger.write_text("0x" + network.ledger_key.hex() + "\n", encoding="utf-8")
    ledger.chmod(0o600)
