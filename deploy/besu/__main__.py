"""``python -m deploy.besu --out DIR [--sample]``: write a 4-validator QBFT network with its keys."""

from __future__ import annotations

import argparse
from pathlib import Path

from deploy.besu.network import build, write


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.besu", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="directory to write the network to")
    parser.add_argument(
        "--sample", action="store_true", help="the committed sample's public keys instead of fresh ones"
    )
    args = parser.parse_args()
    network = build(sample=args.sample)
    write(network, args.out, with_keys=True)
    print(f"wrote a {len(network.nodes)}-validator QBFT network to {args.out}")
    for node in network.nodes:
        print(f"  validator {node.number}: {node.address}  rpc http://127.0.0.1:{node.rpc_port}")
    print(f"  ledger anchoring key: {args.out / 'ledger-anchoring.key'} (CARBON_ANCHORING_KEY_FILE)")


if __name__ == "__main__":
    main()
