"""``carbon-ledger factors …``: list, show, validate, publish and preview emission factor sets.

Publishing and previews work on the database directly (run them where the ledger runs); the
publication is logged exactly as one made over the API.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from backend.bootstrap.runtime import Runtime
from backend.domain.accounting.factors import FactorSet
from backend.domain.errors import InvalidInput
from backend.domain.log.records import subject_commitment
from backend.entrypoints.cli.common import aware, bi, runtime
from backend.services.accounting import factor_recompute, factor_sets
from emission_factors.loader import FACTORS_FILE, METHODOLOGY_FILE, load_factor_set

app = typer.Typer(
    help=bi(
        "emission factor sets: list, show, validate, publish, recompute",
        "排放因子集：查看、校验、发布、重算预览",
    ),
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help=bi("print JSON", "输出 JSON"))]
SetDirectory = Annotated[
    Path,
    typer.Argument(
        exists=True,
        file_okay=False,
        help=bi("a set directory (factors.csv + methodology.toml)", "因子集目录"),
    ),
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="factors")


def _print_json(document: Any) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2, default=str))


@app.command(
    "list", help=bi("every factor set, its effective date and hash, and which is in force", "列出所有因子集")
)
def list_sets(as_json: JsonOption = False) -> None:
    with runtime() as built:
        _list(built, as_json)


@app.command(help=bi("one factor set with every factor and source", "显示一个因子集的全部因子及出处"))
def show(
    version: Annotated[str, typer.Argument(help=bi("the set's version", "因子集版本"))],
    as_json: JsonOption = False,
) -> None:
    with runtime() as built:
        _show(built, version, as_json)


@app.command(help=bi("check a set directory (factors.csv + methodology.toml)", "校验因子集目录"))
def validate(directory: SetDirectory) -> None:
    factor_set = load_factor_set(directory)
    print(
        f"valid: {factor_set.version}, {len(factor_set.factors)} factors, "
        f"{len(factor_set.parameters)} parameters, sha256 0x{factor_set.content_hash}"
    )


@app.command(help=bi("publish a set directory as a new version (logged)", "发布因子集新版本（写入日志）"))
def publish(
    directory: SetDirectory,
    effective_from: Annotated[
        datetime | None,
        typer.Option(
            parser=aware, metavar="ISO-8601", help=bi("ISO 8601 with offset", "生效时间（带时区的 ISO 8601）")
        ),
    ] = None,
    operator: Annotated[
        str | None,
        typer.Option(help=bi("who publishes (default: the OS user)", "发布人（默认当前系统用户）")),
    ] = None,
) -> None:
    with runtime() as built:
        _publish(built, directory, effective_from, operator)


@app.command(
    help=bi(
        "show what a set would change in stored activities, without applying it",
        "预览新因子集对已存活动的影响（不做修改）",
    )
)
def recompute(
    candidate: Annotated[
        str, typer.Option("--with", help=bi("a version, or a set directory", "因子集版本或目录"))
    ],
    since: Annotated[
        datetime | None,
        typer.Option(parser=aware, metavar="ISO-8601", help=bi("occurred_at from", "活动时间起")),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(parser=aware, metavar="ISO-8601", help=bi("occurred_at before", "活动时间止")),
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help=bi("baseline (default: CARBON_BASELINE)", "基准情景"))
    ] = None,
    as_json: JsonOption = False,
) -> None:
    with runtime() as built:
        _recompute(built, candidate, baseline, since, until, as_json)


def _list(runtime: Runtime, as_json: bool) -> None:
    infos, in_force = factor_sets.list_sets(runtime.db, datetime.now(UTC))
    if as_json:
        _print_json({"in_force": in_force, "items": [i.public(in_force) for i in infos]})
        return
    for info in infos:
        fs = info.factor_set
        marker = "*" if fs.version == in_force else " "
        print(
            f"{marker} {fs.version:<28} from {fs.effective_from.isoformat():<26} {info.origin:<8} "
            f"{len(fs.factors):>4} factors  sha256 0x{fs.content_hash}"
        )
    print(f"* in force now: {in_force or 'none'}")


def _show(runtime: Runtime, version: str, as_json: bool) -> None:
    factor_set = factor_sets.find(runtime.db, version).factor_set
    if as_json:
        _print_json(
            {
                **factor_set.public_summary(),
                "methodology": factor_set.methodology,
                "factors": factor_set.content["factors"],
            }
        )
        return
    summary = factor_set.public_summary()
    print(f"{summary['version']}  effective {summary['effective_from']}  sha256 {summary['sha256']}")
    print(f"{summary['description']}\ndefault baseline: {summary['default_baseline']}")
    for factor in factor_set.factors.values():
        print(
            f"  {factor.id:<36} {factor.value_kg!s:>10} kg {factor.gas_basis}/{factor.unit:<5} "
            f"{factor.region:<13} {factor.year} {factor.status:<11} {factor.source.publisher}"
        )
    for parameter in factor_set.parameters.values():
        print(f"  {parameter.id:<36} {parameter.value!s:>10} {parameter.unit:<14} {parameter.status}")


def _candidate(runtime: Runtime, spec: str) -> FactorSet:
    path = Path(spec)
    if path.is_dir():
        return load_factor_set(path)
    return factor_sets.find(runtime.db, spec).factor_set


def _publish(
    runtime: Runtime, directory: Path, effective_from: datetime | None, operator: str | None
) -> None:
    factors_csv, methodology_toml = (
        (directory / name).read_text(encoding="utf-8") for name in (FACTORS_FILE, METHODOLOGY_FILE)
    )
    candidate = factor_sets.parse_upload(factors_csv, methodology_toml, effective_from=effective_from)
    if candidate.version != directory.name:
        raise InvalidInput("version", f"{candidate.version!r} differs from its folder {directory.name!r}")
    operator = operator or getpass.getuser()
    result = factor_sets.publish(
        runtime.db,
        candidate,
        publisher=subject_commitment(runtime.subject_key, operator),
        origin="cli",
        now=datetime.now(UTC),
        park_baseline=runtime.settings.baseline,
    )
    info = result.info
    verb = "published" if result.created else "already published (same content)"
    print(
        f"{verb}: {candidate.version} effective {candidate.effective_from.isoformat()} "
        f"sha256 0x{candidate.content_hash} (log leaf {info.leaf_index})"
    )


def _kg(grams: int) -> str:
    return f"{grams / 1000:,.3f}"


def _recompute(
    runtime: Runtime,
    spec: str,
    baseline: str | None,
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
) -> None:
    candidate = _candidate(runtime, spec)
    baseline = baseline or runtime.settings.baseline
    report = factor_recompute.recompute(runtime.db, candidate, baseline=baseline, since=since, until=until)
    if as_json:
        _print_json(report.public())
        return
    print(f"preview under {candidate.version} (sha256 0x{candidate.content_hash}); nothing is changed")
    header = f"{'type':<16}{'activities':>11}{'changed':>9}{'avoided kg before → after':>34}"
    print(header + f"{'scope 3 kg before → after':>34}{'not computable':>16}")
    rows = [*sorted(report.by_type.items()), ("total", report.totals)]
    for name, diff in rows:
        print(
            f"{name:<16}{diff.activities:>11}{diff.changed:>9}"
            f"{_kg(diff.avoided_before_g) + ' → ' + _kg(diff.avoided_after_g):>34}"
            f"{_kg(diff.scope3_before_g) + ' → ' + _kg(diff.scope3_after_g):>34}{diff.not_computable:>16}"
        )
    for problem in report.problems:
        print(f"not computable: {problem['type']} {problem['id']}: {problem['reason']}")
