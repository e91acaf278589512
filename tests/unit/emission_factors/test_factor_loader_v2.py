"""The second factor file format (park-default-2027.1): per-gas split, data quality scores and the
primary document's provenance are validated row by row, each problem naming file, row and why."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from emission_factors.loader import SETS_DIR, FactorSetError, load_builtin_set, load_factor_set

VERSION = "park-default-2027.1"


def _edited(tmp_path: Path, factor_id: str, **values: str) -> tuple[Path, int]:
    directory = tmp_path / VERSION
    shutil.copytree(SETS_DIR / VERSION, directory)
    path = directory / "factors.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    index = next(i for i, r in enumerate(rows) if r["id"] == factor_id)
    rows[index].update(values)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return directory, index + 2  # the header is row 1


def test_every_factor_states_its_document_s_provenance() -> None:
    # No hash is given for a document that was not archived; where it was not, the row says so
    # and names what the value was read from.
    factors = load_builtin_set(VERSION).factors.values()
    statuses = {f.id: f.provenance.document_status for f in factors if f.provenance is not None}
    assert len(statuses) == len(factors)
    assert statuses["flight.international"] == "not_archived"
    assert statuses["grid.cn.national.2023"] == "not_archived"
    assert statuses["bj.metro.reduction"] == "not_identified"
    assert statuses["rail.metro.cn-grid"] == "own_methodology"
    for factor in factors:
        assert factor.provenance is not None and not factor.provenance.document_sha256
        if factor.provenance.document_status != "own_methodology":
            assert "not obtainable offline" in factor.provenance.read_from or (
                "no primary document was identified" in factor.provenance.read_from
            )
    public = load_builtin_set(VERSION).factor("grid.cn.national.2023").public()
    assert public["document_status"] == "not_archived" and "163.com" in public["read_from"]
    assert "document_sha256" not in public


@pytest.mark.parametrize(
    ("factor_id", "values", "problem"),
    [
        ("bus.local.avg", {"document_status": "lost"}, "document_status 'lost' is not one of"),
        (
            "bus.local.avg",
            {"document_sha256": "ab" * 32},
            "document_sha256 is given exactly when document_status is 'archived'",
        ),
        (
            "bus.local.avg",
            {"document_status": "archived"},
            "document_sha256 is given exactly when document_status is 'archived'",
        ),
        ("bus.local.avg", {"document_sha256": "AB" * 32}, "document_sha256 must be 64 lowercase hex digits"),
        ("grid.cn.north.2023", {"read_from": ""}, "read_from must say where a not_archived value was read"),
        ("reuse.floor", {"read_from": "somewhere"}, "an own_methodology value has no read_from"),
        ("taxi.regular.vkm", {"co2": "0.3"}, "co2 + ch4 + n2o = 0.301675 differs from value 0.20806"),
        ("taxi.regular.vkm", {"ch4": ""}, "give co2, ch4 and n2o together"),
        ("bus.local.avg", {"dq_time": "5"}, "dq_time '5' must be a score 1 (very good) to 4 (poor)"),
        ("bus.local.avg", {"dq_geography": ""}, "dq_geography '' must be a score"),
    ],
)
def test_row_problems_name_file_row_and_problem(
    tmp_path: Path, factor_id: str, values: dict[str, str], problem: str
) -> None:
    directory, row = _edited(tmp_path, factor_id, **values)
    with pytest.raises(FactorSetError) as err:
        load_factor_set(directory)
    assert str(err.value).startswith(f"{directory / 'factors.csv'}: row {row}: ")
    assert problem in str(err.value)


def test_an_archived_document_carries_its_hash_into_every_result(tmp_path: Path) -> None:
    directory, _ = _edited(tmp_path, "bus.local.avg", document_status="archived", document_sha256="ab" * 32)
    public = load_factor_set(directory).factor("bus.local.avg").public()
    assert public["document_status"] == "archived" and public["document_sha256"] == "ab" * 32
