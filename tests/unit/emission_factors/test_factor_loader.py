"""Loading and validating factor sets: every problem names the file, the row (or key) and why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backend.domain.accounting.activities import ACTIVITY_TYPES
from emission_factors.loader import SETS_DIR, FactorSetError, load_factor_set

VERSION = "park-default-2026.1"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / VERSION
    shutil.copytree(SETS_DIR / VERSION, target)
    return target


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _row_of(directory: Path, factor_id: str) -> int:
    lines = (directory / "factors.csv").read_text().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if line.startswith(factor_id + ","))


def test_builtin_set_loads_with_sources_and_covers_every_activity() -> None:
    factor_set = load_factor_set(SETS_DIR / VERSION)
    assert factor_set.content_hash and len(factor_set.content_hash) == 64
    for factor in factor_set.factors.values():
        assert factor.source.publisher and factor.source.document
        assert factor.gas_basis in ("CO2", "CO2e") and factor.year >= 2019
    for parameter in factor_set.parameters.values():
        assert parameter.source.publisher and parameter.source.document
    assert all(factor_set.rules(t) for t in ACTIVITY_TYPES)
    assert factor_set.default_baseline == "city_mode_mix"


def test_duplicate_id_names_file_and_row(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    csv = directory / "factors.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(FactorSetError, match=rf"factors.csv: row {len(lines) + 1}: duplicate factor id"):
        load_factor_set(directory)


def test_missing_source_is_rejected(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _replace(
        directory / "factors.csv",
        "DESNZ/DEFRA,Greenhouse gas reporting: conversion factors 2025 (flat file)",
        "DESNZ/DEFRA,",
    )
    with pytest.raises(FactorSetError, match=r"factors\.csv: row 2: a source document is required"):
        load_factor_set(directory)


@pytest.mark.parametrize(
    ("factor_id", "old", "new", "problem"),
    [
        ("car.petrol.avg", ",vkm,0.16272,", ",furlong,0.16272,", "unit 'furlong' is not one of"),
        ("car.petrol.avg", ",0.16272,", ",0.16x,", "value '0.16x' is not a decimal number"),
        ("car.petrol.avg", ",0.16272,", ",-1,", "must be a finite number >= 0"),
        ("car.petrol.avg", ",CO2e,AR5,", ",CO2e,-,", "must name its GWP set"),
        ("car.petrol.avg", ",GB,2025,", ",GB,twenty,", "year 'twenty' is not an integer"),
        ("rail.metro.cn-beijing", ",0.0614,", ",0.0615,", "does not match its derivation 1.35 / 22"),
        ("mix.city.cn", "sz.metro.reduction + ", "sz.metro.nothing + ", "unknown id 'sz.metro.nothing'"),
    ],
)
def test_row_problems_name_file_row_and_problem(
    tmp_path: Path, factor_id: str, old: str, new: str, problem: str
) -> None:
    directory = _copy(tmp_path)
    row = _row_of(directory, factor_id)
    lines = (directory / "factors.csv").read_text().splitlines()
    assert old in lines[row - 1]
    lines[row - 1] = lines[row - 1].replace(old, new, 1)
    (directory / "factors.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(FactorSetError) as err:
        load_factor_set(directory)
    assert str(err.value).startswith(f"{directory / 'factors.csv'}: row {row}: ")
    assert problem in str(err.value)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            '[activities.clean_plate]\nkind = "per_meal"',
            '[activities.clean_platter]\nkind = "per_meal"',
            "activities: unknown activity types ['clean_platter']",
        ),
        (
            'actual_factor = "bus.local.avg"',
            'actual_factor = "grid.cn.national.2023"',
            "activities.bus.actual_factor: factor 'grid.cn.national.2023' is per kWh; "
            "expected per pkm or vkm",
        ),
        (
            'min_distance_km = "1"\nmax_distance_km = "30"',
            'min_distance_km = 1.5\nmax_distance_km = "30"',
            "activities.walk.min_distance_km: a TOML float is not allowed",
        ),
        (
            'default_baseline = "city_mode_mix"',
            'default_baseline = "horse"',
            "default_baseline: 'horse' is not a defined baseline",
        ),
        ('cup = "disposable.cup"\n', "", "activities.no_disposables.items: lacks ['cup']"),
        (
            'kind = "flight"\nscope3_category = 6',
            'kind = "flight"\nscope3_category = 7',
            "activities.flight.scope3_category: must be 6",
        ),
        (
            "max_meals = 5",
            "max_meals = 5\nmax_mealz = 6",
            "activities.clean_plate: unknown keys ['max_mealz']",
        ),
        (
            'effective_from = "2026-01-01T00:00:00+08:00"',
            'effective_from = "2026-01-01T00:00:00"',
            "effective_from: '2026-01-01T00:00:00' must be an ISO 8601 time with a UTC offset",
        ),
        (
            'value = "0.228644"',
            'value = "0.228643"',
            "parameters.ev_kwh_per_vkm.derivation: value 0.228643 does not match its derivation",
        ),
        (
            'kind = "electric_distance"\nconsumption_parameter = "ev_kwh_per_vkm"',
            'kind = "per_meal"\nconsumption_parameter = "ev_kwh_per_vkm"',
            "activities.ev.kind: 'per_meal' is not one of ['distance', 'electric_distance']",
        ),
    ],
)
def test_methodology_problems_name_file_key_and_problem(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    directory = _copy(tmp_path)
    _replace(directory / "methodology.toml", old, new)
    with pytest.raises(FactorSetError) as err:
        load_factor_set(directory)
    assert str(err.value).startswith(f"{directory / 'methodology.toml'}: ")
    assert problem in str(err.value)


def test_every_activity_must_be_covered(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    toml = directory / "methodology.toml"
    text = toml.read_text()
    start = text.index("[activities.energy_saving]")
    toml.write_text(text[:start])
    with pytest.raises(FactorSetError, match=r"every activity type needs rules; missing \['energy_saving'\]"):
        load_factor_set(directory)


def test_unknown_csv_column_and_short_rows(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    csv = directory / "factors.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([*lines, "x.short,car,vkm,1"]) + "\n")
    with pytest.raises(FactorSetError, match=f"factors.csv: row {len(lines) + 1}: expected 16 columns"):
        load_factor_set(directory)
    csv.write_text("\n".join([lines[0] + ",comment", *lines[1:]]) + "\n")
    with pytest.raises(FactorSetError, match=r"header has unknown columns \['comment'\]"):
        load_factor_set(directory)


def test_version_must_match_folder(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    renamed = directory.rename(tmp_path / "park-2027.1")
    with pytest.raises(FactorSetError, match=r"version 'park-default-2026\.1' differs from its folder"):
        load_factor_set(renamed)


def test_content_hash_changes_with_any_value_and_not_with_row_order(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    before = load_factor_set(directory).content_hash
    csv = directory / "factors.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    assert load_factor_set(directory).content_hash == before
    csv.write_text(csv.read_text().replace("0.16272", "0.16273"))
    assert load_factor_set(directory).content_hash != before
