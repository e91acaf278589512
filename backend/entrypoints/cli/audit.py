"""``carbon-ledger audit …``: verification that needs only the chain (and, for the log, the API)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from backend.adapters.chain import PROFILES
from backend.domain.errors import CarbonLedgerError
from backend.entrypoints.cli import audit_sample
from backend.entrypoints.cli.audit_client import Api, api_arguments, chain_for, open_api
from backend.services.record_audit import RecordAudit
from backend.services.verification import verify_log, verify_receipt

LEAVES_PAGE = 1000
RECORDS_PAGE = 1000
PROOFS_PAGE = 1000
PROGRESS_EVERY_S = 1.0
"""How often a long verify-log reports progress on stderr."""


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
    api_arguments(log)
    log.add_argument(
        "--no-records",
        action="store_true",
        help="skip comparing the stored records and anchored totals with the logged leaves",
    )
    log.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    audit_sample.add_arguments(
        sub.add_parser("sample", help=audit_sample.HELP, description=audit_sample.HELP)
    )


def _verify_receipt(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text()
        receipt = json.loads(text)
    except (OSError, ValueError) as exc:
        print(f"invalid: cannot read the receipt: {exc}")
        return 1
    try:
        verdict = verify_receipt(receipt, lambda contract: chain_for(args, contract))
    except CarbonLedgerError as exc:
        print(f"invalid: {exc.detail}")
        return 1
    print(verdict.summary())
    return 0


class _Progress:
    """A line on stderr at most every second: leaves done, share, rate and time left."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet = total, quiet
        self.started = self.last = time.monotonic()

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if self.quiet or (now - self.last < PROGRESS_EVERY_S and done != self.total):
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        share = f" ({100 * done / self.total:.0f}%)" if self.total else ""
        left = f", about {(self.total - done) / rate:.0f} s left" if self.total > done and rate else ""
        print(
            f"  verify-log: {done:,}/{self.total:,} leaves{share}, {rate:,.0f} leaves/s{left}",
            file=sys.stderr,
            flush=True,
        )


def _paged(api: Api, path: str, key: str, index_key: str, page: int) -> Iterator[dict[str, Any]]:
    start = 0
    while True:
        items = api.get(path, start=start, limit=page)[key]
        if not items:
            return
        yield from items
        start = int(items[-1][index_key]) + 1


def run_verify_log(args: argparse.Namespace, client: httpx.Client | None = None) -> int:
    """``verify-log``; ``client`` lets tests call an in-process app."""
    with open_api(args, client) as api:
        listing = api.get("/audit/v1/checkpoints")
        chain = chain_for(args, listing["contract"])
        if chain.chain_id() != listing["chain_id"]:
            print(
                f"invalid: the RPC serves chain {chain.chain_id()}, "
                f"the ledger anchors on {listing['chain_id']}"
            )
            return 1
        leaves = (
            (int(item["index"]), bytes.fromhex(item["leaf"][2:]), bytes.fromhex(item["leaf_hash"][2:]))
            for item in _paged(api, "/audit/v1/leaves", "leaves", "index", LEAVES_PAGE)
        )

        def proofs(size: int, start: int, stop: int) -> list[list[bytes]]:
            page = api.get("/audit/v1/proofs", tree_size=size, start=start, limit=stop - start)["proofs"]
            return [[bytes.fromhex(p[2:]) for p in item["audit_path"]] for item in page]

        records = None
        if not args.no_records:
            records = RecordAudit(_paged(api, "/audit/v1/records", "records", "leaf_index", RECORDS_PAGE))
        sizes = [int(c["tree_size"]) for c in listing["checkpoints"]]
        total = int(listing.get("log_size") or max(sizes, default=0))
        report = verify_log(
            listing["checkpoints"],
            leaves,
            lambda first, second: api.get("/audit/v1/consistency", first=first, second=second),
            chain.root_at,
            _Progress(total, args.quiet),
            proofs=proofs,
            records=records,
            leaves_between=lambda start, stop: [
                bytes.fromhex(item["leaf"][2:])
                for item in api.get("/audit/v1/leaves", start=start, limit=stop - start)["leaves"]
            ],
        )
    compared = f", {report.records_compared} stored records compared" if records is not None else ""
    if report.ok:
        print(
            f"valid: {report.leaves} leaves replayed, {report.checkpoints} checkpoints match the chain"
            + compared
        )
        return 0
    print(f"invalid: {len(report.problems)} problem(s) after {report.leaves} leaves{compared}")
    for problem in report.problems:
        print(f"  - {problem}")
    return 1


def run(args: argparse.Namespace) -> int:
    try:
        if args.audit_command == "verify-receipt":
            return _verify_receipt(args)
        if args.audit_command == "sample":
            return audit_sample.run(args)
        return run_verify_log(args)
    except CarbonLedgerError as exc:
        print(f"invalid: {exc.detail}")
        return 1
