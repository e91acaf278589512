"""Past results never change: every released set recomputes its golden cases byte for byte, and a
released set's files are pinned by SHA-256 (an edit to them is refused at load)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from backend.domain.accounting.activities import normalize
from backend.domain.canonical import canonical_json
from emission_factors import loader
from emission_factors.loader import SETS_DIR, FactorSetError, check_pinned, load_builtin_set, pinned_hashes

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def test_park_default_2026_1_recomputes_every_golden_case_byte_for_byte() -> None:
    # The golden file was written by the code that recorded 2026.1's results (before schema 2).
    golden = json.loads((FIXTURES / "golden-park-default-2026.1.json").read_text())
    factor_set = load_builtin_set(golden["version"])
    assert len(golden["cases"]) > 150
    for case in golden["cases"]:
        calc = normalize(case["type"], case["quantities"], factor_set, baseline=case["baseline"])
        body = {
            "co2e_avoided_g": calc.co2e_avoided_g,
            "co2e_scope3_g": calc.co2e_scope3_g,
            "scope3_category": calc.scope3_category,
            "calculation": calc.public(),
        }
        assert canonical_json(body).decode() == case["canonical"], (case["type"], case["quantities"])


def test_every_builtin_set_is_pinned_and_matches_its_pin() -> None:
    pins = pinned_hashes()
    assert set(pins) == set(loader.builtin_versions())
    for version, digest in pins.items():
        assert load_builtin_set(version).content_hash == digest
        assert check_pinned(version, "0x" + digest) is None


def test_an_edited_builtin_set_is_refused_at_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sets = tmp_path / "sets"
    shutil.copytree(SETS_DIR, sets)
    csv = sets / "park-default-2026.1" / "factors.csv"
    csv.write_text(csv.read_text().replace('average car, petrol"', 'average car, petrol (edited)"', 1))
    monkeypatch.setattr(loader, "SETS_DIR", sets)
    loader.load_builtin_set.cache_clear()
    loader._pins.cache_clear()
    try:
        with pytest.raises(FactorSetError, match="pinned at 2a0171"):
            loader.load_builtin_set("park-default-2026.1")
    finally:
        loader.load_builtin_set.cache_clear()
        loader._pins.cache_clear()


def test_check_pinned_names_the_mismatch_for_auditors() -> None:
    problem = check_pinned("park-default-2026.1", "0x" + "00" * 32)
    assert problem is not None and "released set is pinned at" in problem
    assert check_pinned("an-operator-set", "0x" + "00" * 32) is None
