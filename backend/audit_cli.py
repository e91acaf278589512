"""``carbon-ledger audit …``: verification that needs only the chain (and, for the log, the API)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from backend.adapters.chain import PROFILES, LedgerChain, connect
from backend.domain.errors import CarbonLedgerError, ProofError
from backend.services.verification import verify_log, verify_receipt

LEAVES_PAGE = 1000
HTTP_TIMEOUT_S = 30


def add_commands(commands: Any) -> None:
    audit = commands.add_parser("audit", help="auditor tools: verify receipts and the whole log")
    sub = audit.add_subparsers(dest="audit_command", required=True)
    receipt = sub.add_parser(
        "verify-receipt", help="verify a receipt against the chain (no API, no database)"
    )
    receipt.add_argument("file", type=Path, help="receipt JSON file ('-' for stdin)")
    receipt.add_argument(
        "--rpc", default=None, help="chain RPC URL (default: CARBON_CHAIN_RPC_URL or local Anvil)"
    )
    receipt.add_argument("--profile", default="anvil", choices=sorted(PROFILES))
    log = sub.add_parser("verify-log", help="replay every leaf and checkpoint from the API against the chain")
    log.add_argument("--api", required=True, help="base URL of the ledger API")
    log.add_argument("--rpc", default=None)
    log.add_argument("--profile", default="anvil", choices=sorted(PROFILES))
    log.add_argument(
        "--token",
        default=os.environ.get("CARBON_AUDIT_TOKEN"),
        help="auditor bearer token (default: $CARBON_AUDIT_TOKEN)",
    )


def _rpc(args: argparse.Namespace) -> str:
    if args.rpc:
        return str(args.rpc)
    from backend.settings import get_settings

    return get_settings().resolved_rpc_url


def _chain(args: argparse.Namespace, contract: str) -> LedgerChain:
    profile = PROFILES[args.profile]
    return LedgerChain(connect(_rpc(args), profile), profile, contract)


def _verify_receipt(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text()
        receipt = json.loads(text)
    except (OSError, ValueError) as exc:
        print(f"invalid: cannot read the receipt: {exc}")
        return 1
    try:
        verdict = verify_receipt(receipt, lambda contract: _chain(args, contract))
    except CarbonLedgerError as exc:
        print(f"invalid: {exc.detail}")
        return 1
    print(verdict.summary())
    return 0


def _verify_log(args: argparse.Namespace) -> int:
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    with httpx.Client(base_url=args.api, headers=headers, timeout=HTTP_TIMEOUT_S) as client:

        def get(path: str, **params: Any) -> Any:
            response = client.get(path, params=params)
            if response.status_code != 200:
                raise ProofError(f"GET {path} answered {response.status_code}: {response.text[:200]}")
            return response.json()

        listing = get("/audit/v1/checkpoints")
        chain = _chain(args, listing["contract"])
        if chain.chain_id() != listing["chain_id"]:
            print(
                f"invalid: the RPC serves chain {chain.chain_id()}, "
                f"the ledger anchors on {listing['chain_id']}"
            )
            return 1

        def leaves() -> Iterator[tuple[int, bytes, bytes]]:
            start = 0
            while True:
                page = get("/audit/v1/leaves", start=start, limit=LEAVES_PAGE)["leaves"]
                if not page:
                    return
                for item in page:
                    yield item["index"], bytes.fromhex(item["leaf"][2:]), bytes.fromhex(item["leaf_hash"][2:])
                start = page[-1]["index"] + 1

        def progress(count: int) -> None:
            if count % 10_000 == 0:
                print(f"  … {count} leaves verified", file=sys.stderr, flush=True)

        report = verify_log(
            listing["checkpoints"],
            leaves(),
            lambda first, second: get("/audit/v1/consistency", first=first, second=second),
            chain.root_at,
            progress,
        )
    if report.ok:
        print(f"valid: {report.leaves} leaves replayed, {report.checkpoints} checkpoints match the chain")
        return 0
    print(f"invalid: {len(report.problems)} problem(s) after {report.leaves} leaves")
    for problem in report.problems:
        print(f"  - {problem}")
    return 1


def run(args: argparse.Namespace) -> int:
    try:
        if args.audit_command == "verify-receipt":
            return _verify_receipt(args)
        return _verify_log(args)
    except CarbonLedgerError as exc:
        print(f"invalid: {exc.detail}")
        return 1
