"""The disclosure's factor-source table states each factor's document provenance (GRI 305-3-f)."""

from __future__ import annotations

from backend.services.reporting.scope3_disclosure import _provenance
from emission_factors.loader import load_builtin_set


def test_a_factor_read_from_a_report_says_so_and_gives_no_hash() -> None:
    grid = load_builtin_set("park-default-2027.1").factor("grid.cn.national.2023").public()
    text = _provenance(grid)
    assert text.startswith("not_archived: press report: Guangming Daily, republished at www.163.com/")
    assert "not obtainable offline" in text and "sha256" not in text


def test_an_own_methodology_value_and_an_archived_document() -> None:
    own = load_builtin_set("park-default-2027.1").factor("rail.metro.cn-grid").public()
    assert _provenance(own) == "own_methodology"
    archived = {**own, "document_status": "archived", "document_sha256": "ab" * 32}
    assert _provenance(archived) == f"archived, sha256 {'ab' * 32}"


def test_a_set_without_provenance_columns_is_named_as_such() -> None:
    old = load_builtin_set("park-default-2026.1").factor("rail.metro.cn-beijing").public()
    assert _provenance(old) == "not stated (set without provenance columns)"
