"""The sample Besu QBFT network under deploy/besu/sample is what the generator produces, and consistent."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import rlp  # type: ignore[import-untyped]

from deploy.besu.network import VALIDATORS, build, write

SAMPLE = Path(__file__).resolve().parents[4] / "deploy" / "besu" / "sample"


def test_committed_sample_is_the_generated_one() -> None:
    network = build(sample=True)
    committed = {str(p.relative_to(SAMPLE)): p.read_text() for p in SAMPLE.rglob("*") if p.is_file()}
    assert committed == network.files


def test_genesis_names_the_four_validators_and_is_free_gas_qbft() -> None:
    network = build(sample=True)
    genesis = json.loads(network.files["genesis.json"])
    config = genesis["config"]
    assert config["zeroBaseFee"] is True and set(config["qbft"]) >= {"blockperiodseconds", "epochlength"}
    vanity, validators, vote, round_, seals = rlp.decode(bytes.fromhex(genesis["extraData"][2:]))
    assert vanity == b"\x00" * 32 and vote == [] and round_ == b"" and seals == []
    assert ["0x" + v.hex() for v in validators] == [n.address.lower() for n in network.nodes]
    assert len(validators) == VALIDATORS


def test_node_configs_peer_only_with_allow_listed_nodes_at_zero_gas_price() -> None:
    network = build(sample=True)
    allow = tomllib.loads(network.files["permissions_config.toml"])
    assert allow["nodes-allowlist"] == [n.enode for n in network.nodes]
    assert len(allow["accounts-allowlist"]) == 1  # the ledger's anchoring account
    ports = set()
    for node in network.nodes:
        config = tomllib.loads(network.files[f"node-{node.number}/config.toml"])
        assert config["min-gas-price"] == 0
        assert config["permissions-nodes-config-file-enabled"] is True
        assert config["permissions-accounts-config-file-enabled"] is True
        assert set(config["bootnodes"]) <= set(allow["nodes-allowlist"])
        assert "QBFT" in config["rpc-http-api"]
        ports.add((config["p2p-port"], config["rpc-http-port"]))
    assert len(ports) == VALIDATORS


def test_fresh_networks_get_fresh_keys(tmp_path: Path) -> None:
    first, second = build(sample=False), build(sample=False)
    assert {n.address for n in first.nodes}.isdisjoint(n.address for n in second.nodes)
    write(first, tmp_path, with_keys=True)
    key = (tmp_path / "node-1" / "key").read_text().strip()
    assert (
        key == "0x" + first.nodes[0].private_key.hex()
        and (tmp_path / "node-1" / "key").stat().st_mode & 0o077 == 0
    )
    assert (tmp_path / "ledger-anchoring.key").exists()
