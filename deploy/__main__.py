"""``python -m deploy compile|deploy|check``: the deployment steps by hand, for operators.

``carbon-ledger serve`` does all of this on start-up; these commands let an operator compile,
deploy to a given RPC endpoint (e.g. Besu QBFT) or check a manifest against a node beforehand.
The signing key is read from a file or ``CARBON_ANCHORING_KEY``, never from the command line
(where ``ps`` would show it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware

from backend.adapters.contract_compiler import compile_ledger
from backend.adapters.deployment import DeploymentManifest, check_manifest, ensure_deployed
from backend.domain.errors import CarbonLedgerError

DEFAULT_CACHE = Path("var/build")
DEFAULT_MANIFEST = Path("var/deployment.json")


def _web3(args: argparse.Namespace) -> Web3:
    w3 = Web3(Web3.HTTPProvider(args.rpc_url, request_kwargs={"timeout": 10}))
    if args.poa:
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def _key(args: argparse.Namespace) -> str:
    if args.key_file is not None:
        return str(args.key_file.read_text(encoding="utf-8").strip())
    key = os.environ.get("CARBON_ANCHORING_KEY")
    if not key:
        raise SystemExit("deploy: give --key-file or set CARBON_ANCHORING_KEY")
    return key


def _compile(args: argparse.Namespace) -> int:
    started = time.monotonic()
    artifact = compile_ledger(args.cache_dir)
    print(
        f"compiled CarbonLedger with solc {artifact.compiler_version} in {time.monotonic() - started:.2f} s"
    )
    print(f"source hash {artifact.source_hash}\nabi hash    {artifact.abi_hash}")
    return 0


def _deploy(args: argparse.Namespace) -> int:
    artifact = compile_ledger(args.cache_dir)
    manifest, deployed = ensure_deployed(_web3(args), _key(args), artifact, args.manifest, args.gas_price)
    verb = "deployed" if deployed else "already deployed"
    print(
        f"{verb}: CarbonLedger at {manifest.contract_address} on chain {manifest.chain_id} ({args.manifest})"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    problems = check_manifest(_web3(args), DeploymentManifest.load(args.manifest))
    for problem in problems:
        print(f"problem: {problem}")
    if not problems:
        print(f"ok: {args.manifest} matches the chain at {args.rpc_url}")
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compile_cmd = commands.add_parser("compile", help="compile the contract (cached)")
    compile_cmd.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    for name, text in (
        ("deploy", "deploy unless the manifest's deployment is on the chain"),
        ("check", "report how the chain differs from the manifest"),
    ):
        cmd = commands.add_parser(name, help=text)
        cmd.add_argument("--rpc-url", default="http://127.0.0.1:8545")
        cmd.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
        cmd.add_argument("--poa", action="store_true", help="POA chain (Besu QBFT): accept long extraData")
        if name == "deploy":
            cmd.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
            cmd.add_argument("--key-file", type=Path, help="file holding the admin's private key (hex)")
            cmd.add_argument(
                "--gas-price", type=int, default=None, help="fixed gas price in wei (0 for free gas)"
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"compile": _compile, "deploy": _deploy, "check": _check}
    try:
        return handlers[args.command](args)
    except CarbonLedgerError as exc:
        print(f"deploy: {exc.detail}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
