from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emission_factors.loader import SETS_DIR, FactorSetError, load_factor_set


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "park-default-2026.1"
    shutil.copytree(SETS_DIR / "park-default-2026.1", target)
    return target


def test_builtin_set_loads_with_sources() -> None:
    factor_set = load_factor_set(SETS_DIR / "park-default-2026.1")
    assert factor_set.content_hash and len(factor_set.content_hash) == 64
    for factor in factor_set.factors.values():
        assert factor.source.publisher and factor.source.document


def test_duplicate_id_names_file_and_row(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    csv = directory / "factors.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(FactorSetError, match=rf"factors.csv: row {len(lines) + 1}: duplicate factor id"):
        load_factor_set(directory)


def test_missing_source_is_rejected(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    csv = directory / "factors.csv"
    text = csv.read_text().replace(
        "DESNZ/DEFRA,GHG Conversion Factors for Company Reporting 2025", "DESNZ/DEFRA,"
    )
    csv.write_text(text)
    with pytest.raises(FactorSetError, match="row 2: a source document is required"):
        load_factor_set(directory)


def test_content_hash_changes_with_any_value(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    before = load_factor_set(directory).content_hash
    csv = directory / "factors.csv"
    csv.write_text(csv.read_text().replace("0.16272", "0.16273"))
    assert load_factor_set(directory).content_hash != before
