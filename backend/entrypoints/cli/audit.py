"""``carbon-ledger audit …``: verification that needs only the chain (and, for the log, the API).

Every check ends in one of three outcomes, each with its own word and exit status:

* ``valid`` (0): the data verifies against the chain;
* ``invalid`` (1): evidence of tampering — a proof fails, a root differs from the chain's, a
  stored record differs from its logged leaf;
* ``could not verify`` (2): the check could not be made, with the reason in one line (the API
  or the RPC unreachable, the token refused, a malformed answer, the wrong chain). This says
  nothing about the data.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from backend.entrypoints.cli import audit_sample
from backend.entrypoints.cli.audit_client import (
    INVALID_WORDS,
    Api,
    ApiOption,
    Outcome,
    ProfileOption,
    RpcOption,
    Target,
    TokenOption,
    chain_for,
    guarded,
    open_api,
    unverified,
)
from backend.entrypoints.cli.common import bi
from backend.services.record_audit import RecordAudit
from backend.services.verification import parse_receipt, verify_log, verify_receipt

LEAVES_PAGE = 1000
RECORDS_PAGE = 1000
PROOFS_PAGE = 1000
PROGRESS_EVERY_S = 1.0
"""How often a long verify-log reports progress on stderr."""


app = typer.Typer(
    help=bi("auditor tools: verify receipts, the whole log, a sample", "审计工具：校验凭证、整个日志与抽样"),
    no_args_is_help=True,
    epilog="Exit status: 0 valid; 1 invalid (evidence of tampering); 2 could not verify (the reason "
    "is printed: API or RPC unreachable, token refused, malformed answer, wrong chain).",
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit")


def _exit(outcome: Outcome) -> None:
    if outcome is not Outcome.VALID:
        raise typer.Exit(int(outcome))


@app.command(
    "verify-receipt",
    help=bi(
        "verify a receipt against the chain (no API, no database)", "对照区块链校验凭证（无需 API 与数据库）"
    ),
)
def verify_receipt_command(
    file: Annotated[Path, typer.Argument(help=bi("receipt JSON file ('-' for stdin)", "凭证 JSON 文件"))],
    rpc: RpcOption = None,
    profile: ProfileOption = "anvil",
) -> None:
    _exit(check_receipt(file, Target(rpc=rpc, profile=profile)))


def check_receipt(file: Path, target: Target) -> Outcome:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return unverified(f"cannot read the receipt {file}: {getattr(exc, 'strerror', None) or exc}")
    try:
        receipt = parse_receipt(json.loads(text))
    except ValueError as exc:
        return unverified(f"{file} is not a receipt: {getattr(exc, 'detail', exc)}")

    def check() -> Outcome:
        anchor = receipt["anchor"]
        verdict = verify_receipt(
            receipt, lambda contract: chain_for(target, contract, int(anchor["chain_id"]))
        )
        print(verdict.summary())
        return Outcome.VALID

    return guarded(check, target.rpc)


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


@app.command(
    "verify-log",
    help=bi(
        "replay every leaf and checkpoint from the API against the chain",
        "从 API 重放全部日志叶与检查点并对照区块链",
    ),
)
def verify_log_command(
    api: ApiOption,
    rpc: RpcOption = None,
    profile: ProfileOption = "anvil",
    token: TokenOption = None,
    no_records: Annotated[
        bool,
        typer.Option(
            "--no-records",
            help=bi(
                "skip comparing the stored records and anchored totals with the logged leaves",
                "不比对已存记录与日志叶",
            ),
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", help=bi("no progress lines on stderr", "不显示进度"))
    ] = False,
) -> None:
    _exit(check_log(Target(api, rpc, profile, token), records=not no_records, quiet=quiet))


def check_log(
    target: Target, *, records: bool = True, quiet: bool = False, client: httpx.Client | None = None
) -> Outcome:
    """``verify-log``; ``client`` lets tests call an in-process app."""
    return guarded(lambda: _check_log(target, records, quiet, client), target.rpc)


def _check_log(target: Target, with_records: bool, quiet: bool, client: httpx.Client | None) -> Outcome:
    with open_api(target, client) as api:
        listing = api.get("/audit/v1/checkpoints")
        chain = chain_for(target, listing["contract"], int(listing["chain_id"]))
        leaves = (
            (int(item["index"]), bytes.fromhex(item["leaf"][2:]), bytes.fromhex(item["leaf_hash"][2:]))
            for item in _paged(api, "/audit/v1/leaves", "leaves", "index", LEAVES_PAGE)
        )

        def proofs(size: int, start: int, stop: int) -> list[list[bytes]]:
            page = api.get("/audit/v1/proofs", tree_size=size, start=start, limit=stop - start)["proofs"]
            return [[bytes.fromhex(p[2:]) for p in item["audit_path"]] for item in page]

        records = None
        if with_records:
            records = RecordAudit(_paged(api, "/audit/v1/records", "records", "leaf_index", RECORDS_PAGE))
        sizes = [int(c["tree_size"]) for c in listing["checkpoints"]]
        total = int(listing.get("log_size") or max(sizes, default=0))
        report = verify_log(
            listing["checkpoints"],
            leaves,
            lambda first, second: api.get("/audit/v1/consistency", first=first, second=second),
            chain.root_at,
            _Progress(total, quiet),
            proofs=proofs,
            records=records,
            leaves_between=lambda start, stop: [
                bytes.fromhex(item["leaf"][2:])
                for item in api.get("/audit/v1/leaves", start=start, limit=stop - start)["leaves"]
            ],
        )
    plural = "" if report.records_compared == 1 else "s"
    compared = f", {report.records_compared} stored record{plural} compared" if records is not None else ""
    if report.ok:
        checkpoints = f"{report.checkpoints} checkpoint{'s' if report.checkpoints != 1 else ''}"
        match = "matches" if report.checkpoints == 1 else "match"
        replayed = f"{report.leaves} lea{'ves' if report.leaves != 1 else 'f'}"
        print(f"valid: {replayed} replayed, {checkpoints} {match} the chain" + compared)
        return Outcome.VALID
    print(
        f"{INVALID_WORDS}: {len(report.problems)} problem(s) after {report.leaves} leaves{compared} "
        "(evidence of tampering)"
    )
    for problem in report.problems:
        print(f"  - {problem}")
    return Outcome.INVALID


@app.command("sample", help=audit_sample.HELP)
def sample_command(
    api: ApiOption,
    n: Annotated[int, typer.Option("--n", min=1, help=bi("how many records to draw", "抽取的记录数"))],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help=bi(
                "folder to write sample-SEED.json and .csv into (default: CARBON_DATA_DIR/exports); "
                "a path ending in .json or .csv names the files",
                "导出目录（默认 数据目录/exports）",
            ),
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help=bi("seed of the draw (default: a random one)", "抽样种子"))
    ] = None,
    rpc: RpcOption = None,
    profile: ProfileOption = "anvil",
    token: TokenOption = None,
) -> None:
    _exit(audit_sample.run(Target(api, rpc, profile, token), n, out, seed))
