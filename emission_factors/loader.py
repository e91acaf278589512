"""Loads and validates factor sets: the built-in ones in ``emission_factors/sets/`` and the ones
operators publish (the same two files, sent over the API or from the CLI).

Each set is ``factors.csv`` (one factor a row, with its source) and ``methodology.toml``
(baselines, per-activity rules, parameters). Validation happens on load and every problem names
the file, the row (or the TOML key) and what is wrong, so a data error never reaches a calculation.

The set's *content* is the methodology document plus the factor rows; its SHA-256 over RFC 8785
canonical JSON (rows sorted by id) is the hash anchored in checkpoints and stored with results.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tomllib
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import rfc8785

from backend.domain.accounting.factors import (
    GASES,
    QUALITY_INDICATORS,
    QUALITY_LABELS,
    Factor,
    FactorSet,
    Provenance,
    Source,
)
from emission_factors.errors import FactorSetError
from emission_factors.validate import check_derivations, check_methodology, parse_parameters

__all__ = [
    "FACTORS_FILE",
    "METHODOLOGY_FILE",
    "SETS_DIR",
    "FactorSetError",
    "build_factor_set",
    "builtin_versions",
    "check_pinned",
    "content_hash",
    "load_builtin_set",
    "load_factor_set",
    "parse_texts",
    "pinned_hashes",
    "superseded_hashes",
]

SETS_DIR = Path(__file__).resolve().parent / "sets"
FACTORS_FILE = "factors.csv"
METHODOLOGY_FILE = "methodology.toml"
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
    "notes",
)
QUALITY_COLUMNS = tuple(f"dq_{name}" for name in QUALITY_INDICATORS)
GAS_COLUMNS = ("co2", "ch4", "n2o")
EXTENDED_COLUMNS = (*GAS_COLUMNS, *QUALITY_COLUMNS, "document_sha256", "document_status", "read_from")
"""Columns of the second file format (park-default-2027.1 on): the gases a value splits into,
data quality scores, and the primary document's provenance (its hash, whether it is archived,
and where the value was read when it is not). A set has all of them or none."""
DOCUMENT_STATUSES = {
    "archived": "the primary document is archived with the set: document_sha256 is its hash",
    "not_archived": "the primary document is named but not obtainable offline: read_from says where "
    "the value was read",
    "not_identified": "only secondary reports were found: read_from names them",
    "own_methodology": "the set's own methodology is the document (derivations and assumptions)",
}
"""``document_status`` values. A hash is never given for a document that was not archived."""
MAX_FACTORS = 5000
"""A factor set is a curated library, not a database dump; a bigger file is a mistake."""
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
GAS_BASES = frozenset({"CO2", "CO2e"})
GWP_SETS = frozenset({"AR4", "AR5", "AR6", "-"})
SCOPES = frozenset({"direct", "wtt", "lifecycle"})
STATUSES = frozenset({"verified", "derived", "provisional"})
UNITS = frozenset({"vkm", "pkm", "km", "kWh", "t", "kg", "item", "meal", "trip"})
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
YEARS = range(1990, 2101)


def _row_error(file: str, row: int, problem: str) -> FactorSetError:
    return FactorSetError(file, f"row {row}: {problem}")


def _parse_factor(file: str, row_no: int, row: dict[str, str]) -> Factor:
    for column in ("id", "activity", "unit", "value", "gas_basis", "scope", "region", "year", "publisher"):
        if not (row.get(column) or "").strip():
            raise _row_error(file, row_no, f"column {column!r} is empty")
    if not ID_PATTERN.fullmatch(row["id"]):
        raise _row_error(file, row_no, f"id {row['id']!r} must be 1–64 of a–z, 0–9, '_', '.', '-'")
    if not row["document"].strip():
        raise _row_error(file, row_no, "a source document is required for every factor")
    try:
        value = Decimal(row["value"])
    except InvalidOperation:
        raise _row_error(file, row_no, f"value {row['value']!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise _row_error(file, row_no, f"value {row['value']!r} must be a finite number >= 0")
    checks = (
        ("unit", UNITS),
        ("gas_basis", GAS_BASES),
        ("gwp", GWP_SETS),
        ("scope", SCOPES),
        ("status", STATUSES),
    )
    for column, allowed in checks:
        if row[column] not in allowed:
            raise _row_error(file, row_no, f"{column} {row[column]!r} is not one of {sorted(allowed)}")
    if row["gas_basis"] == "CO2e" and row["gwp"] == "-":
        raise _row_error(file, row_no, "a CO2e factor must name its GWP set (AR4, AR5 or AR6)")
    if row["gas_basis"] == "CO2" and row["gwp"] != "-":
        raise _row_error(file, row_no, "a CO2-only factor has no GWP set: write '-'")
    if row["status"] == "derived" and not row["derivation"].strip():
        raise _row_error(file, row_no, "a derived factor must state its derivation")
    try:
        year = int(row["year"])
    except ValueError:
        raise _row_error(file, row_no, f"year {row['year']!r} is not an integer") from None
    if year not in YEARS:
        raise _row_error(file, row_no, f"year {year} is outside {YEARS.start}–{YEARS.stop - 1}")
    gases, quality, provenance = _extended(file, row_no, row, value)
    return Factor(
        id=row["id"],
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
        notes=row["notes"].strip(),
        gases=gases,
        quality=quality,
        provenance=provenance,
    )


def _extended(
    file: str, row_no: int, row: dict[str, str], value: Decimal
) -> tuple[dict[str, Decimal] | None, dict[str, int] | None, Provenance | None]:
    """The second format's columns: per-gas split, data quality scores, document provenance."""
    if "co2" not in row:
        return None, None, None
    raw = [row[c].strip() for c in GAS_COLUMNS]
    gases: dict[str, Decimal] | None = None
    if any(raw):
        if not all(raw):
            raise _row_error(
                file, row_no, "give co2, ch4 and n2o together (0 for a gas the source lists as 0)"
            )
        try:
            gases = {gas: Decimal(text) for gas, text in zip(GASES, raw, strict=True)}
        except InvalidOperation:
            raise _row_error(file, row_no, f"co2/ch4/n2o {raw} are not decimal numbers") from None
        if any(not v.is_finite() or v < 0 for v in gases.values()):
            raise _row_error(file, row_no, "co2/ch4/n2o must be finite numbers >= 0")
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        # The source rounds each gas and the total separately: they agree to the total's last digit.
        if abs(sum(gases.values()) - value) > Decimal(1).scaleb(exponent):
            raise _row_error(
                file, row_no, f"co2 + ch4 + n2o = {sum(gases.values())} differs from value {value}"
            )
    quality: dict[str, int] = {}
    for name, column in zip(QUALITY_INDICATORS, QUALITY_COLUMNS, strict=True):
        text = row[column].strip()
        if not text.isdigit() or int(text) not in QUALITY_LABELS:
            raise _row_error(file, row_no, f"{column} {text!r} must be a score 1 (very good) to 4 (poor)")
        quality[name] = int(text)
    digest = row["document_sha256"].strip()
    if digest and not SHA256_HEX.fullmatch(digest):
        raise _row_error(file, row_no, "document_sha256 must be 64 lowercase hex digits")
    status, read_from = row["document_status"].strip(), row["read_from"].strip()
    if status not in DOCUMENT_STATUSES:
        raise _row_error(
            file, row_no, f"document_status {status!r} is not one of {sorted(DOCUMENT_STATUSES)}"
        )
    if (status == "archived") != bool(digest):
        raise _row_error(file, row_no, "document_sha256 is given exactly when document_status is 'archived'")
    if status in ("not_archived", "not_identified") and not read_from:
        raise _row_error(file, row_no, f"read_from must say where a {status} value was read")
    if status == "own_methodology" and read_from:
        raise _row_error(file, row_no, "an own_methodology value has no read_from")
    return gases, quality, Provenance(status, digest, read_from)


def _read_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FactorSetError(FACTORS_FILE, f"header lacks columns {missing}")
    extra = [c for c in header if c not in REQUIRED_COLUMNS]
    columns: tuple[str, ...] = REQUIRED_COLUMNS
    if extra:
        unknown = [c for c in extra if c not in EXTENDED_COLUMNS]
        if unknown:
            raise FactorSetError(FACTORS_FILE, f"header has unknown columns {unknown}")
        lacking = [c for c in EXTENDED_COLUMNS if c not in header]
        if lacking:
            raise FactorSetError(FACTORS_FILE, f"header has {extra} but lacks {lacking}: give all or none")
        columns = (*REQUIRED_COLUMNS, *EXTENDED_COLUMNS)
    rows: list[dict[str, str]] = []
    for row_no, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            raise _row_error(FACTORS_FILE, row_no, f"expected {len(columns)} columns")
        if len(rows) >= MAX_FACTORS:
            raise _row_error(FACTORS_FILE, row_no, f"more than {MAX_FACTORS} factors")
        rows.append({c: row[c] for c in columns})
    return rows


def _plain_toml(value: Any, path: str) -> Any:
    """TOML floats and dates do not survive JSON exactly: the methodology uses strings instead."""
    if isinstance(value, dict):
        return {k: _plain_toml(v, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_toml(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (str, bool, int)):
        return value
    kind = "float" if isinstance(value, float) else type(value).__name__
    raise FactorSetError(METHODOLOGY_FILE, f"{path}: a TOML {kind} is not allowed; quote it as a string")


def parse_texts(factors_csv: str, methodology_toml: str) -> dict[str, Any]:
    """The set's content from the text of its two files (syntax checks only)."""
    try:
        methodology = tomllib.loads(methodology_toml)
    except tomllib.TOMLDecodeError as exc:
        raise FactorSetError(METHODOLOGY_FILE, str(exc)) from None
    return {"methodology": _plain_toml(methodology, ""), "factors": _read_rows(factors_csv)}


def content_hash(content: dict[str, Any]) -> str:
    rows = sorted(content["factors"], key=lambda r: r["id"])
    return hashlib.sha256(rfc8785.dumps({"methodology": content["methodology"], "factors": rows})).hexdigest()


def build_factor_set(content: dict[str, Any]) -> FactorSet:
    """Validates a set's content and builds the :class:`FactorSet` calculations use."""
    factors: dict[str, Factor] = {}
    rows: dict[str, int] = {}
    for row_no, row in enumerate(content["factors"], start=2):
        factor = _parse_factor(FACTORS_FILE, row_no, row)
        if factor.id in factors:
            raise _row_error(FACTORS_FILE, row_no, f"duplicate factor id {factor.id!r}")
        factors[factor.id] = factor
        rows[factor.id] = row_no
    if not factors:
        raise FactorSetError(FACTORS_FILE, "no factors")
    methodology = content["methodology"]
    parameters = parse_parameters(methodology, factors)
    check_derivations(factors, parameters, rows)
    effective_from = check_methodology(methodology, factors, parameters)
    return FactorSet(
        version=str(methodology["version"]),
        effective_from=effective_from,
        description=str(methodology.get("description", "")),
        factors=factors,
        methodology=methodology,
        content_hash=content_hash(content),
        parameters=parameters,
        content=content,
    )


def load_factor_set(directory: Path) -> FactorSet:
    texts = []
    for name in (FACTORS_FILE, METHODOLOGY_FILE):
        path = directory / name
        if not path.is_file():
            raise FactorSetError(str(path), "missing")
        texts.append(path.read_text(encoding="utf-8"))
    try:
        factor_set = build_factor_set(parse_texts(*texts))
    except FactorSetError as exc:
        raise FactorSetError(str(directory / exc.file), exc.problem) from None
    if factor_set.version != directory.name:
        raise FactorSetError(
            str(directory / METHODOLOGY_FILE),
            f"version {factor_set.version!r} differs from its folder {directory.name!r}",
        )
    return factor_set


PINS_FILE = "SHA256SUMS"
"""``<sha256>  <version>`` per built-in set: the hash each set had when it was released. A built-in
set whose files no longer give that hash is refused at load, so an edit to a released set (which
would silently change how its stored results were computed) cannot ship; a correction is a new
version. A set revised while still scheduled (before its effective date, so no result was ever
computed with it) keeps its earlier hash on a line ``<sha256>  <version>  superseded-before-effect``:
checkpoints anchored while the earlier content was scheduled list it, and an auditor accepts it
there, never on an activity."""
SUPERSEDED = "superseded-before-effect"


@lru_cache(maxsize=1)
def _pins() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    pins: dict[str, str] = {}
    superseded: dict[str, set[str]] = {}
    path = SETS_DIR / PINS_FILE
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, _, rest = line.partition("  ")
        version, _, mark = rest.strip().partition("  ")
        if not SHA256_HEX.fullmatch(digest) or not version.strip() or mark not in ("", SUPERSEDED):
            raise FactorSetError(str(path), f"line {line_no}: expected '<sha256>  <version>[  {SUPERSEDED}]'")
        if mark:
            superseded.setdefault(version.strip(), set()).add(digest)
        elif version.strip() in pins:
            raise FactorSetError(str(path), f"line {line_no}: {version.strip()} is pinned twice")
        else:
            pins[version.strip()] = digest
    return pins, {v: frozenset(d) for v, d in superseded.items()}


def pinned_hashes() -> dict[str, str]:
    """The released hash of every built-in set (version → hex SHA-256)."""
    return dict(_pins()[0])


def superseded_hashes() -> dict[str, frozenset[str]]:
    """Earlier hashes of built-in sets revised before they took effect (version → hex SHA-256s)."""
    return dict(_pins()[1])


def check_pinned(version: str, content_hash: str) -> str | None:
    """Why a set claiming to be built-in ``version`` with ``content_hash`` is not the released
    one, or None when it is. For auditors' tools too (verify-log compares logged and anchored
    factor-set hashes with the released ones); a version that is not built in gives None."""
    pinned = pinned_hashes().get(version)
    if pinned is None:
        if version in builtin_versions():
            return f"built-in factor set {version} has no pinned hash in {PINS_FILE}"
        return None
    digest = content_hash.removeprefix("0x")
    if digest != pinned:
        return f"factor set {version} has SHA-256 {digest}, but the released set is pinned at {pinned}"
    return None


@lru_cache(maxsize=32)
def load_builtin_set(version: str) -> FactorSet:
    directory = SETS_DIR / version
    if not directory.is_dir():
        raise FactorSetError(str(SETS_DIR), f"no factor set {version!r}")
    factor_set = load_factor_set(directory)
    problem = check_pinned(version, factor_set.content_hash)
    if problem is not None:
        raise FactorSetError(str(directory), problem)
    return factor_set


@lru_cache(maxsize=1)
def builtin_versions() -> tuple[str, ...]:
    """The sets shipped with the code (they change only with a release, so listed once)."""
    return tuple(sorted(p.name for p in SETS_DIR.iterdir() if p.is_dir() and not p.name.startswith(".")))
