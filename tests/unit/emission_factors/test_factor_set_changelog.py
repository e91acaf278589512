"""The changelog between factor sets: the diff is complete, and docs/factor-set-changelog.md
names every factor it reports."""

from __future__ import annotations

import shutil
from pathlib import Path

from emission_factors.changelog import diff_sets
from emission_factors.loader import SETS_DIR, load_builtin_set, load_factor_set

DOC = (Path(__file__).resolve().parents[3] / "docs" / "factor-set-changelog.md").read_text()
OLD = load_builtin_set("park-default-2026.1")
NEW = load_builtin_set("park-default-2027.1")


def test_the_diff_accounts_for_every_factor() -> None:
    diff = diff_sets(OLD, NEW)
    added = {f["id"] for f in diff["factors_added"]}
    removed = {f["id"] for f in diff["factors_removed"]}
    changed = {c["id"] for c in diff["factors_changed"]}
    assert added == set(NEW.factors) - set(OLD.factors)
    assert removed == set(OLD.factors) - set(NEW.factors)
    assert "mix.city.cn" in removed and "flight.international" in added
    assert diff["default_baseline"] == {"before": "city_mode_mix", "after": "national_conservative"}
    paper = next(c for c in diff["factors_changed"] if c["id"] == "waste.paper.landfill")
    assert paper["changes"]["value"] == {"before": "1164.49", "after": "1164.4894"}
    keys = {m["key"] for m in diff["methodology_changed"]}
    assert {"default_baseline", "activities.taxi.default_occupants", "schema"} <= keys
    assert changed and not (changed & (added | removed))


def test_the_changelog_page_names_every_factor_added_removed_or_changed() -> None:
    diff = diff_sets(OLD, NEW)
    ids = [f["id"] for f in diff["factors_added"] + diff["factors_removed"]]
    ids += [c["id"] for c in diff["factors_changed"]]
    missing = [i for i in ids if f"`{i}`" not in DOC]
    assert not missing, f"docs/factor-set-changelog.md does not name {missing}"
    top = {
        m["key"].split(".")[0] + ("." + m["key"].split(".")[1] if m["key"].startswith("activities.") else "")
        for m in diff["methodology_changed"]
        if not m["key"].startswith("baselines.")
    }
    absent = [k for k in top if k.split(".")[-1] not in DOC]
    assert not absent, f"methodology keys not described: {absent}"


def test_a_set_diffed_with_itself_is_empty() -> None:
    diff = diff_sets(NEW, NEW)
    assert diff["factors_added"] == diff["factors_removed"] == diff["factors_changed"] == []
    assert diff["methodology_changed"] == []


def test_provenance_changes_show_where_both_sets_state_it(tmp_path: Path) -> None:
    directory = tmp_path / "park-default-2027.1"
    shutil.copytree(SETS_DIR / "park-default-2027.1", directory)
    csv_path = directory / "factors.csv"
    text = csv_path.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("grid.cn.north.2023,"))
    archived = line.rsplit(",not_archived,", 1)[0].removesuffix(",") + "," + "cd" * 32 + ",archived,"
    csv_path.write_text(text.replace(line, archived), encoding="utf-8")
    (change,) = diff_sets(NEW, load_factor_set(directory))["factors_changed"]
    assert change["id"] == "grid.cn.north.2023"
    assert change["changes"]["document_status"] == {"before": "not_archived", "after": "archived"}
    assert change["changes"]["document_sha256"] == {"before": "", "after": "cd" * 32}
    assert "obtainable offline" in change["changes"]["read_from"]["before"]
    # 2026.1 states no provenance, so its diff with 2027.1 does not list it for every factor
    assert all("document_status" not in c["changes"] for c in diff_sets(OLD, NEW)["factors_changed"])
