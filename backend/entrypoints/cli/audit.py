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

from backend.domain.accounting.factors import FactorSet
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
    Unverifiable,
    chain_for,
    guarded,
    open_api,
    unverified,
)
from backend.entrypoints.cli.common import bi
from backend.services.audit.checkpoint_verification import verify_checkpoint
from backend.services.audit.record_audit import FactorSetAudit, RecomputeAudit, RecordAudit
from backend.services.audit.verification import parse_receipt, verify_log, verify_receipt
from emission_factors.loader import load_builtin_set, pinned_hashes, superseded_hashes

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


@app.command(
    "verify-checkpoint",
    help=bi(
        "verify the park's C2SP checkpoint: the log's signature, witnesses' cosignatures, the root on chain",
        "校验园区的 C2SP 检查点：日志签名、见证者联署与链上根哈希",
    ),
)
def verify_checkpoint_command(
    api: ApiOption,
    vkey: Annotated[
        list[str], typer.Option(help=bi("the log's verifier key (repeatable)", "日志验证公钥（可重复）"))
    ],
    contract: Annotated[str, typer.Option(help=bi("the ledger contract's address", "账本合约地址"))],
    chain_id: Annotated[int, typer.Option(help=bi("the chain's id", "链 ID"))],
    witness: Annotated[
        list[str] | None,
        typer.Option(
            help=bi("a witness's verifier key that must have cosigned (repeatable)", "须已联署的见证者公钥")
        ),
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(min=1, help=bi("an older anchored tree size (default: latest)", "指定树大小")),
    ] = None,
    rpc: RpcOption = None,
    profile: ProfileOption = "anvil",
) -> None:
    target = Target(api=api, rpc=rpc, profile=profile)
    path = "/checkpoint" if size is None else f"/audit/v1/checkpoints/{size}/note"

    def check() -> Outcome:
        try:
            response = httpx.get(api.rstrip("/") + path, timeout=30)
        except httpx.HTTPError as exc:
            return unverified(f"the API at {api} is unreachable: {exc}")
        if response.status_code != 200:
            return unverified(f"GET {path} answered {response.status_code}")
        verdict = verify_checkpoint(
            response.content, vkey, witness or [], chain_for(target, contract, chain_id), chain_id
        )
        print(verdict.summary())
        return Outcome.VALID

    _exit(guarded(check, rpc))


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
    "sign-off",
    help=bi(
        "sign off a closed (or restated) reporting period: a logged record of your opinion",
        "签核已关账（或重述）的报告期：记录审计意见（写入日志）",
    ),
)
def sign_off_command(
    api: ApiOption,
    period: Annotated[str, typer.Option("--period", help=bi("period: 2026-Q3, 2026-07, 2026", "报告期"))],
    opinion: Annotated[
        str,
        typer.Option(
            "--opinion",
            help=bi("unqualified, qualified, adverse or disclaimer", "审计意见：无保留/保留/否定/无法表示"),
        ),
    ],
    token: TokenOption = None,
    revision: Annotated[
        int | None, typer.Option("--revision", help=bi("revision signed (default: latest)", "签核的修订版本"))
    ] = None,
    statement: Annotated[
        str | None,
        typer.Option(
            "--statement", help=bi("your statement (kept by the ledger, only its hash logged)", "审计说明")
        ),
    ] = None,
) -> None:
    code = sign_off(Target(api=api, token=token), period, opinion, revision, statement)
    if code:
        raise typer.Exit(code)


def sign_off(
    target: Target,
    period: str,
    opinion: str,
    revision: int | None,
    statement: str | None,
    client: httpx.Client | None = None,
) -> int:
    """``audit sign-off``: 0 when the sign-off is logged (or already was), 2 with the reason if not."""
    document: dict[str, Any] = {"opinion": opinion}
    if revision is not None:
        document["revision"] = revision
    if statement:
        document["statement"] = statement

    try:
        with open_api(target, client) as session:
            status, signed = session.post(f"/api/v1/scope3/periods/{period}/signoffs", document)
    except Unverifiable as exc:
        print(f"not signed off: {' '.join(exc.reason.split())}")
        return int(Outcome.UNVERIFIED)
    again = " (already signed: the same sign-off)" if status == 200 else ""
    print(
        f"signed off {signed['period']} revision {signed['revision']}: {signed['opinion']}{again}; "
        f"logged as leaf {signed['leaf_index']}, receipt {signed['receipt_url']}"
    )
    return 0


def _cursored(api: Api, path: str, key: str) -> Iterator[dict[str, Any]]:
    after = ""
    while True:
        items = api.get(path, after=after, limit=RECORDS_PAGE)[key]
        if not items:
            return
        yield from items
        after = str(items[-1]["cursor"])


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
    recompute: Annotated[
        bool,
        typer.Option(
            "--recompute",
            help=bi(
                "recompute every activity from its logged quantities with the released factor set it "
                "names, and check that set was the one in force",
                "用记录所用的已发布内置因子集按日志中的数量重新计算每条行为，并核对该因子集当时有效",
            ),
        ),
    ] = False,
) -> None:
    _exit(
        check_log(Target(api, rpc, profile, token), records=not no_records, quiet=quiet, recompute=recompute)
    )


def check_log(
    target: Target,
    *,
    records: bool = True,
    quiet: bool = False,
    client: httpx.Client | None = None,
    recompute: bool = False,
) -> Outcome:
    """``verify-log``; ``client`` lets tests call an in-process app."""
    return guarded(lambda: _check_log(target, records, quiet, client, recompute), target.rpc)


def _released_sets() -> dict[str, FactorSet]:
    """The built-in sets whose pins this tool ships (loading checks each against its pin)."""
    return {version: load_builtin_set(version) for version in pinned_hashes()}


def _check_log(
    target: Target, with_records: bool, quiet: bool, client: httpx.Client | None, recompute: bool = False
) -> Outcome:
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
            records = RecordAudit(
                _paged(api, "/audit/v1/records", "records", "leaf_index", RECORDS_PAGE),
                accounts=_cursored(api, "/audit/v1/accounts", "accounts"),
                redemptions=_cursored(api, "/audit/v1/redemptions", "redemptions"),
            )
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
            factor_sets=FactorSetAudit(pinned_hashes(), superseded_hashes()),
            recompute=RecomputeAudit(_released_sets()) if recompute else None,
            leaves_between=lambda start, stop: [
                bytes.fromhex(item["leaf"][2:])
                for item in api.get("/audit/v1/leaves", start=start, limit=stop - start)["leaves"]
            ],
        )
    plural = "" if report.records_compared == 1 else "s"
    compared = f", {report.records_compared} stored record{plural} compared" if records is not None else ""
    compared += f", {report.factor_set_hashes_checked} factor-set hashes checked"
    if recompute:
        compared += f", {report.recomputed} activities recomputed"
        if report.not_recomputed:
            compared += f" ({report.not_recomputed} on factor sets this tool does not hold)"
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
