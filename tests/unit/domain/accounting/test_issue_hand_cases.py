"""The reviewed hand cases, before (park-default-2026.1, kept for the records computed with it) and
after (park-default-2027.1), and the README's worked example, each with its arithmetic."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from backend.domain.accounting.activities import Calculation, normalize
from emission_factors.loader import load_builtin_set

OLD = load_builtin_set("park-default-2026.1")
NEW = load_builtin_set("park-default-2027.1")
README = (Path(__file__).resolve().parents[4] / "README.md").read_text(encoding="utf-8")


def calc(factor_set: Any, activity_type: str, **quantities: Any) -> Calculation:
    return normalize(activity_type, quantities, factor_set)


def test_the_hybrid_baseline_is_gone_from_the_new_set() -> None:
    # mix.city.cn 0.1081 = Shenzhen's 2021 metro reduction 0.0467 + Beijing's 2019 metro 0.0614
    assert "city_mode_mix" in OLD.baseline_names and "mix.city.cn" in OLD.factors
    assert "city_mode_mix" not in NEW.baseline_names and "mix.city.cn" not in NEW.factors


def test_paper_recycling_against_the_treatment_mix() -> None:
    # before: against landfill, 0.0025 t × (1164.49 − 4.69) = 2.8995 kg → 2900 g
    assert calc(OLD, "recycling", material="paper", weight_kg="2.5").co2e_avoided_g == 2900
    # after: 0.0025 × (0.2747 × 1164.4894 + 0.7253 × 4.68568 − 4.68568) = 0.79649520471 kg → 796 g
    assert calc(NEW, "recycling", material="paper", weight_kg="2.5").co2e_avoided_g == 796


def test_a_1200_km_flight_outside_the_uk() -> None:
    # before: UK short-haul 1,200 × 0.07559 = 90.708 kg; after: international, to/from non-UK
    # 1,200 × 0.0842 = 101.04 kg, with radiative forcing 1,200 × 0.14253 = 171.036 kg as a memo
    assert calc(OLD, "flight", distance_km="1200").co2e_scope3_g == 90708
    after = calc(NEW, "flight", distance_km="1200")
    assert after.co2e_scope3_g == 101040
    assert after.reported_separately == {"co2e_with_radiative_forcing_g": 171036}


def test_a_taxi_has_one_explicit_occupancy_default() -> None:
    # before: without occupants 10 × 0.14861 (per pkm) = 1.4861 kg, with occupants=1
    # 10 × 0.20806 ÷ 1 = 2.0806 kg; after: both 2.0806 kg → 2081 g
    assert calc(OLD, "taxi", distance_km="10").co2e_scope3_g == 1486
    assert calc(OLD, "taxi", distance_km="10", occupants=1).co2e_scope3_g == 2081
    assert calc(NEW, "taxi", distance_km="10").co2e_scope3_g == 2081
    assert calc(NEW, "taxi", distance_km="10", occupants=1).co2e_scope3_g == 2081


def test_ev_and_carpool_follow_the_park_baseline() -> None:
    # before: fixed to the solo petrol car whatever the park chose; after: the park's baseline
    assert calc(OLD, "carpool", distance_km="15", occupants=2).baseline == "petrol_car_solo"
    assert calc(NEW, "carpool", distance_km="15", occupants=2).baseline == "national_conservative"
    assert calc(NEW, "ev", distance_km="20").baseline == "national_conservative"


def test_household_recycling_is_not_the_employer_s() -> None:
    # before: without scope, office (category 5: 0.0025 × 4.69 = 11.725 g → 12 g); after: home
    assert calc(OLD, "recycling", material="paper", weight_kg="2.5").scope3_category == 5
    after = calc(NEW, "recycling", material="paper", weight_kg="2.5")
    assert (after.co2e_scope3_g, after.scope3_category) == (0, None)


def test_the_readme_worked_example_of_2027_1() -> None:
    # 12.4 × (0.10385 − 0.08334) = 0.254324 kg → 254 g, 25 points at 1 point per 10 g;
    # 12.4 × 0.08334 = 1.033416 kg → 1033 g; Shenzhen 12.4 × 0.0467 = 0.57908 kg → 579 g
    c = calc(NEW, "metro", distance_km="12.4")
    assert (c.co2e_avoided_g, c.co2e_scope3_g) == (254, 1033)
    shenzhen = normalize("metro", {"distance_km": "12.4"}, NEW, baseline="shenzhen")
    assert shenzhen.co2e_avoided_g == 579
    assert "**254 g avoided, 25 points**" in README and "1.033416 kg → 1033 g" in README
    assert re.search(r"12\.4 × 0\.0467 → 579 g", README)
