"""``carbon-ledger factors …``: list, show, validate, publish and preview emission factor sets.

Publishing and previews work on the database directly (run them where the ledger runs); the
publication is logged exactly as one made over the API.
"""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.domain.errors import InvalidInput
from backend.domain.factors import FactorSet
from backend.domain.records import subject_commitment
from backend.runtime import Runtime
from backend.services import factor_recompute, factor_sets
from backend.settings import Settings
from emission_factors.loader import FACTORS_FILE, METHODOLOGY_FILE, load_factor_set


def add_commands(commands: Any) -> None:
    factors = commands.add_parser("factors", help="emission factor sets: list, show, publish, recompute")
    sub = factors.add_subparsers(dest="factors_command", required=True)
    listing = sub.add_parser(
        "list", help="every factor set, its effective date and hash, and which is in force"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = sub.add_parser("show", help="one factor set with every factor and source")
    show.add_argument("version")
    show.add_argument("--json", action="store_true", help="print the full set as JSON")
    validate = sub.add_parser("validate", help="check a set directory (factors.csv + methodology.toml)")
    validate.add_argument("directory", type=Path)
    publish = sub.add_parser("publish", help="publish a set directory as a new version (logged)")
    publish.add_argument("directory", type=Path)
    publish.add_argument("--effective-from", type=_aware, default=None, help="ISO 8601 with offset")
    publish.add_argument("--operator", default=None, help="who publishes (default: the OS user)")
    recompute = sub.add_parser(
        "recompute", help="show what a set would change in stored activities, without applying it"
    )
    recompute.add_argument("--with", dest="candidate", required=True, help="a version, or a set directory")
    recompute.add_argument("--since", type=_aware, default=None, help="occurred_at from (ISO 8601)")
    recompute.add_argument("--until", type=_aware, default=None, help="occurred_at before (ISO 8601)")
    recompute.add_argument("--baseline", default=None, help="baseline (default: CARBON_BASELINE)")
    recompute.add_argument("--json", action="store_true", help="print JSON")


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("needs a UTC offset, e.g. 2027-01-01T00:00:00+08:00")
    return value


def _runtime(settings: Settings) -> Runtime:
    from backend.bootstrap import build_runtime

    return build_runtime(settings, with_chain=False)


def _print_json(document: Any) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def _list(runtime: Runtime, as_json: bool) -> int:
    infos, in_force = factor_sets.list_sets(runtime.db, datetime.now(UTC))
    if as_json:
        _print_json({"in_force": in_force, "items": [i.public(in_force) for i in infos]})
        return 0
    for info in infos:
        fs = info.factor_set
        marker = "*" if fs.version == in_force else " "
        print(
            f"{marker} {fs.version:<28} from {fs.effective_from.isoformat():<26} {info.origin:<8} "
            f"{len(fs.factors):>4} factors  sha256 0x{fs.content_hash}"
        )
    print(f"* in force now: {in_force or 'none'}")
    return 0


def _show(runtime: Runtime, version: str, as_json: bool) -> int:
    factor_set = factor_sets.find(runtime.db, version).factor_set
    if as_json:
        _print_json(
            {
                **factor_set.public_summary(),
                "methodology": factor_set.methodology,
                "factors": factor_set.content["factors"],
            }
        )
        return 0
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
    return 0


def _candidate(runtime: Runtime, spec: str) -> FactorSet:
    path = Path(spec)
    if path.is_dir():
        return load_factor_set(path)
    return factor_sets.find(runtime.db, spec).factor_set


def _publish(runtime: Runtime, args: argparse.Namespace) -> int:
    factors_csv, methodology_toml = (
        (args.directory / name).read_text(encoding="utf-8") for name in (FACTORS_FILE, METHODOLOGY_FILE)
    )
    candidate = factor_sets.parse_upload(factors_csv, methodology_toml, effective_from=args.effective_from)
    if candidate.version != args.directory.name:
        raise InvalidInput(
            "version", f"{candidate.version!r} differs from its folder {args.directory.name!r}"
        )
    operator = args.operator or getpass.getuser()
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
    return 0


def _kg(grams: int) -> str:
    return f"{grams / 1000:,.3f}"


def _recompute(runtime: Runtime, args: argparse.Namespace) -> int:
    candidate = _candidate(runtime, args.candidate)
    baseline = args.baseline or runtime.settings.baseline
    report = factor_recompute.recompute(
        runtime.db, candidate, baseline=baseline, since=args.since, until=args.until
    )
    if args.json:
        _print_json(report.public())
        return 0
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
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    command = args.factors_command
    if command == "validate":
        factor_set = load_factor_set(args.directory)
        print(
            f"valid: {factor_set.version}, {len(factor_set.factors)} factors, "
            f"{len(factor_set.parameters)} parameters, sha256 0x{factor_set.content_hash}"
        )
        return 0
    runtime = _runtime(settings)
    try:
        if command == "list":
            return _list(runtime, args.json)
        if command == "show":
            return _show(runtime, args.version, args.json)
        if command == "publish":
            return _publish(runtime, args)
        return _recompute(runtime, args)
    finally:
        runtime.db.dispose()
