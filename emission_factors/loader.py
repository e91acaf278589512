"""Loads and validates the versioned factor sets in ``emission_factors/sets/``.

Each set is a folder with ``factors.csv`` (one factor a row, with its source) and
``methodology.toml`` (baselines and per-activity rules). Validation happens on load and every
problem names the file, the row and what is wrong, so a data error never reaches a calculation.
"""

from __future__ import annotations

import csv
import hashlib
import tomllib
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import rfc8785

from backend.domain.errors import ConfigurationError
from backend.domain.factors import Factor, FactorSet, Source

SETS_DIR = Path(__file__).resolve().parent / "sets"
REQUIRED_COLUMNS = (
    "id",
    "activity",
    "unit",
    "value",
    "gas_basis",
    "gwp",
    "scope",
    "region",
    "year",
    "publisher",
    "document",
    "table",
    "url",
    "status",
    "derivation",
)
GAS_BASES = frozenset({"CO2", "CO2e"})
GWP_SETS = frozenset({"AR4", "AR5", "AR6", "-"})
SCOPES = frozenset({"direct", "wtt", "lifecycle"})
STATUSES = frozenset({"verified", "derived", "provisional"})
UNITS = frozenset({"vkm", "pkm", "km", "kWh", "t", "kg", "item", "meal"})


class FactorSetError(ConfigurationError):
    """A factor set file is malformed; the message names the file, row and problem."""


def _row_error(path: Path, row: int, problem: str) -> FactorSetError:
    return FactorSetError(f"{path}: row {row}: {problem}")


def _parse_factor(path: Path, row_no: int, row: dict[str, str]) -> Factor:
    for column in ("id", "activity", "unit", "value", "gas_basis", "scope", "region", "year", "publisher"):
        if not (row.get(column) or "").strip():
            raise _row_error(path, row_no, f"column {column!r} is empty")
    if not row["document"].strip():
        raise _row_error(path, row_no, "a source document is required for every factor")
    try:
        value = Decimal(row["value"])
    except InvalidOperation:
        raise _row_error(path, row_no, f"value {row['value']!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise _row_error(path, row_no, f"value {row['value']!r} must be a finite number >= 0")
    checks = (
        ("unit", UNITS),
        ("gas_basis", GAS_BASES),
        ("gwp", GWP_SETS),
        ("scope", SCOPES),
        ("status", STATUSES),
    )
    for column, allowed in checks:
        if row[column] not in allowed:
            raise _row_error(path, row_no, f"{column} {row[column]!r} is not one of {sorted(allowed)}")
    if row["gas_basis"] == "CO2e" and row["gwp"] == "-":
        raise _row_error(path, row_no, "a CO2e factor must name its GWP set (AR4, AR5 or AR6)")
    if row["status"] == "derived" and not row["derivation"].strip():
        raise _row_error(path, row_no, "a derived factor must state its derivation")
    try:
        year = int(row["year"])
    except ValueError:
        raise _row_error(path, row_no, f"year {row['year']!r} is not an integer") from None
    return Factor(
        id=row["id"].strip(),
        activity=row["activity"].strip(),
        unit=row["unit"],
        value_kg=value,
        gas_basis=row["gas_basis"],
        gwp=row["gwp"],
        scope=row["scope"],
        region=row["region"].strip(),
        year=year,
        source=Source(
            row["publisher"].strip(), row["document"].strip(), row["table"].strip(), row["url"].strip()
        ),
        status=row["status"],
        derivation=row["derivation"].strip(),
    )


def _load_factors(path: Path) -> tuple[dict[str, Factor], list[dict[str, str]]]:
    factors: dict[str, Factor] = {}
    rows: list[dict[str, str]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise FactorSetError(f"{path}: header lacks columns {missing}")
        for row_no, row in enumerate(reader, start=2):
            factor = _parse_factor(path, row_no, row)
            if factor.id in factors:
                raise _row_error(path, row_no, f"duplicate factor id {factor.id!r}")
            factors[factor.id] = factor
            rows.append({c: row[c] for c in REQUIRED_COLUMNS})
    return factors, rows


def _check_methodology(path: Path, methodology: dict[str, Any], factors: dict[str, Factor]) -> None:
    for name, baseline in methodology.get("baselines", {}).items():
        if baseline.get("factor") not in factors:
            raise FactorSetError(f"{path}: baselines.{name}: unknown factor {baseline.get('factor')!r}")
    default = methodology.get("default_baseline")
    if default not in methodology.get("baselines", {}):
        raise FactorSetError(f"{path}: default_baseline {default!r} is not a defined baseline")
    for activity, rules in methodology.get("activities", {}).items():
        for key, value in rules.items():
            if key.endswith("_factor") and value not in factors:
                raise FactorSetError(f"{path}: activities.{activity}.{key}: unknown factor {value!r}")


def load_factor_set(directory: Path) -> FactorSet:
    methodology_path = directory / "methodology.toml"
    factors_path = directory / "factors.csv"
    for required in (methodology_path, factors_path):
        if not required.is_file():
            raise FactorSetError(f"{required}: missing")
    try:
        methodology = tomllib.loads(methodology_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise FactorSetError(f"{methodology_path}: {exc}") from None
    factors, rows = _load_factors(factors_path)
    _check_methodology(methodology_path, methodology, factors)
    version = methodology.get("version")
    if version != directory.name:
        raise FactorSetError(
            f"{methodology_path}: version {version!r} differs from its folder {directory.name!r}"
        )
    try:
        effective_from = datetime.fromisoformat(methodology["effective_from"])
    except (KeyError, ValueError):
        raise FactorSetError(
            f"{methodology_path}: effective_from must be an ISO 8601 time with offset"
        ) from None
    if effective_from.tzinfo is None:
        raise FactorSetError(f"{methodology_path}: effective_from must carry a UTC offset")
    content: dict[str, Any] = {"methodology": methodology, "factors": sorted(rows, key=lambda r: r["id"])}
    content_hash = hashlib.sha256(rfc8785.dumps(content)).hexdigest()
    return FactorSet(
        version=version,
        effective_from=effective_from,
        description=str(methodology.get("description", "")),
        factors=factors,
        methodology=methodology,
        content_hash=content_hash,
    )


@lru_cache(maxsize=32)
def load_builtin_set(version: str) -> FactorSet:
    directory = SETS_DIR / version
    if not directory.is_dir():
        raise FactorSetError(f"no factor set {version!r} in {SETS_DIR}")
    return load_factor_set(directory)


def builtin_versions() -> list[str]:
    return sorted(p.name for p in SETS_DIR.iterdir() if p.is_dir())
