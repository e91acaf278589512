"""Hand-computed worked examples for every activity type, arithmetic written out.

Factor values are those of park-default-2026.1 (docs/emission-factors.md). The park baseline is
``city_mode_mix`` = 0.1081 kg CO2/pkm unless a test says otherwise; ``petrol_car_solo`` is
0.16272 kg CO2e/vkm (DEFRA 2025) ÷ 1 occupant. Grams are rounded once, half to even.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from backend.domain.accounting.activities import ACTIVITY_TYPES, Calculation, normalize
from emission_factors.loader import SETS_DIR, load_builtin_set, load_factor_set

VERSION = "park-default-2026.1"
FACTORS = load_builtin_set(VERSION)


def calc(activity_type: str, baseline: str | None = None, **quantities: Any) -> Calculation:
    return normalize(activity_type, quantities, FACTORS, baseline=baseline)


def figures(c: Calculation) -> tuple[int, int, int | None]:
    return c.co2e_avoided_g, c.co2e_scope3_g, c.scope3_category


def _variant(tmp_path: Path, edit_toml: tuple[str, str]) -> Any:
    directory = tmp_path / VERSION
    shutil.copytree(SETS_DIR / VERSION, directory)
    toml = directory / "methodology.toml"
    old, new = edit_toml
    assert old in toml.read_text()
    toml.write_text(toml.read_text().replace(old, new))
    return load_factor_set(directory)


# --- Factsheet worked example 1: 10 km by metro ------------------------------------------------


def test_factsheet_1_metro_against_solo_petrol_car() -> None:
    # baseline 10 × 0.16272 = 1.6272 kg; metro 10 × 0.0614 = 0.614 kg (Beijing: 1.35 kg ÷ 22 km)
    # avoided 1.6272 − 0.614 = 1.0132 kg → 1013 g (factsheet: 1.01 kg); Scope 3 cat. 7: 614 g
    assert figures(calc("metro", "petrol_car_solo", distance_km="10")) == (1013, 614, 7)


def test_factsheet_1_metro_against_the_city_mix_is_the_shenzhen_figure() -> None:
    # mix 0.1081 = Shenzhen's 0.0467 reduction + 0.0614 metro; avoided 10 × (0.1081 − 0.0614)
    # = 10 × 0.0467 = 0.467 kg → 467 g (factsheet: 0.467 kg); Scope 3 still 614 g
    c = calc("metro", distance_km="10")
    assert figures(c) == (467, 614, 7)
    assert c.baseline == "city_mode_mix"
    assert [f["id"] for f in c.factors] == ["rail.metro.cn-beijing", "mix.city.cn"]


def test_factsheet_1_with_the_uk_underground_factor_overstates(tmp_path: Path) -> None:
    # a set using London Underground 0.0278: 1.6272 − 0.278 = 1.3492 kg → 1349 g (factsheet 1.35)
    variant = _variant(
        tmp_path, ('actual_factor = "rail.metro.cn-beijing"', 'actual_factor = "rail.underground.london"')
    )
    c = normalize("metro", {"distance_km": "10"}, variant, baseline="petrol_car_solo")
    assert figures(c) == (1349, 278, 7)


# --- Factsheet worked example 2: 20 km by BEV ---------------------------------------------------


def test_factsheet_2_ev_at_defra_implied_consumption() -> None:
    # kWh/km = 0.04047 ÷ 0.177 = 0.228644 (DEFRA BEV on the UK grid, 6 decimals)
    # actual 20 × 0.228644 × 0.5306 (MEE 2023 national) = 2.426370128 kg → 2426 g
    # baseline fixed to the solo petrol car: 20 × 0.16272 = 3.2544 kg
    # avoided 3.2544 − 2.426370128 = 0.828029872 kg → 828 g (factsheet: 0.83 kg)
    c = calc("ev", distance_km="20")
    assert figures(c) == (828, 2426, 7)
    assert c.baseline == "petrol_car_solo"


def test_factsheet_2_ev_at_0_18_kwh_per_km(tmp_path: Path) -> None:
    # 20 km × 0.18 kWh/km = 3.6 kWh × 0.5306 = 1.91016 kg → 1910 g
    # avoided 3.2544 − 1.91016 = 1.34424 kg → 1344 g (factsheet: 1.34 kg)
    variant = _variant(
        tmp_path,
        (
            'value = "0.228644"\nunit = "kWh/vkm"\nstatus = "derived"\n'
            'derivation = "car.bev.uk / grid.uk.2025"',
            'value = "0.18"\nunit = "kWh/vkm"\nstatus = "provisional"',
        ),
    )
    assert figures(normalize("ev", {"distance_km": "20"}, variant)) == (1344, 1910, 7)


def test_ev_on_the_southwest_grid_saves_more() -> None:
    # 20 × 0.228644 × 0.2472 = 1.130415936 kg → 1130 g; avoided 3.2544 − 1.130415936 = 2.123984064 → 2124 g
    assert figures(calc("ev", distance_km="20", region="southwest")) == (2124, 1130, 7)


# --- Factsheet worked example 4: 10 kg mixed paper recycled -------------------------------------


def test_factsheet_4_paper_recycling() -> None:
    # 10 kg = 0.01 t; landfill 0.01 × 1164.49 = 11.6449 kg; recycling 0.01 × 4.69 = 0.0469 kg
    # avoided 11.6449 − 0.0469 = 11.598 kg → 11598 g (factsheet: 11.60 kg); Scope 3 cat. 5: 46.9 → 47 g
    # virgin-displacement credit 0.01 × (1288.50 − 1068.77) = 2.1973 kg → 2197 g, reported separately
    c = calc("recycling", material="paper", weight_kg="10")
    assert figures(c) == (11598, 47, 5)
    assert c.reported_separately == {"virgin_displacement_credit_g": 2197}


# --- Travel ---------------------------------------------------------------------------------------


def test_metro_12_4_km() -> None:
    # 12.4 × 0.0467 = 0.57908 kg → 579 g; 12.4 × 0.0614 = 0.76136 kg → 761 g
    assert figures(calc("metro", distance_km="12.4")) == (579, 761, 7)


def test_bus_diesel() -> None:
    # actual 8 × 0.10385 = 0.8308 kg → 831 g; baseline 8 × 0.1081 = 0.8648; avoided 0.034 kg → 34 g
    assert figures(calc("bus", distance_km="8")) == (34, 831, 7)


def test_bus_electric_matches_shenzhen_reduction() -> None:
    # e-bus 0.1081 − 0.0269 = 0.0812; actual 8 × 0.0812 = 0.6496 → 650 g; avoided 8 × 0.0269 = 0.2152 → 215 g
    assert figures(calc("bus_electric", distance_km="8")) == (215, 650, 7)


def test_rail() -> None:
    # rail 0.03546 × 0.5306 ÷ 0.177 = 0.10630; actual 120 × 0.10630 = 12.756 kg → 12756 g
    # avoided 120 × (0.1081 − 0.10630) = 0.216 kg → 216 g
    assert figures(calc("rail", distance_km="120")) == (216, 12756, 7)


def test_walk() -> None:
    # zero emission; avoided 2.5 × 0.1081 = 0.27025 kg → 270 g
    assert figures(calc("walk", distance_km="2.5")) == (270, 0, 7)


def test_a_300_m_walk_is_not_a_car_trip_avoided() -> None:
    c = calc("walk", "petrol_car_solo", distance_km="0.3")
    assert figures(c) == (0, 0, 7) and not c.credited
    assert "1 km" in c.note


def test_bike_and_shared_bike() -> None:
    # 6 × 0.1081 = 0.6486 kg → 649 g; 3 × 0.1081 = 0.3243 kg → 324 g
    assert figures(calc("bike", distance_km="6")) == (649, 0, 7)
    assert figures(calc("bike_shared", distance_km="3")) == (324, 0, 7)


def test_ebike() -> None:
    # actual 10 × 0.02 kWh/km × 0.5306 = 0.10612 kg → 106 g; avoided 1.081 − 0.10612 = 0.97488 → 975 g
    assert figures(calc("ebike", distance_km="10")) == (975, 106, 7)


def test_taxi_alone_earns_nothing_against_the_city_mix() -> None:
    # actual 10 × 0.14861 = 1.4861 kg → 1486 g > baseline 1.081 kg: avoided 0 (never negative)
    c = calc("taxi", distance_km="10")
    assert figures(c) == (0, 1486, 7) and c.credited
    # a shared ride: 10 × 0.20806 ÷ 2 = 1.0403 kg → 1040 g; avoided 1.081 − 1.0403 = 0.0407 → 41 g
    assert figures(calc("taxi", distance_km="10", occupants=2)) == (41, 1040, 7)


def test_carpool() -> None:
    # actual per person 20 × 0.16272 ÷ 3 = 1.0848 kg → 1085 g; baseline (each would drive alone)
    # 20 × 0.16272 = 3.2544; avoided 3.2544 − 1.0848 = 2.1696 kg → 2170 g
    assert figures(calc("carpool", distance_km="20", occupants=3)) == (2170, 1085, 7)
    # diesel, 2 people: 10 × 0.17304 ÷ 2 = 0.8652 → 865 g; avoided 1.6272 − 0.8652 = 0.762 → 762 g
    assert figures(calc("carpool", distance_km="10", occupants=2, fuel="diesel")) == (762, 865, 7)


def test_business_trip_goes_to_category_6() -> None:
    # 5 × 0.0614 = 0.307 kg → 307 g, filed under business travel
    assert figures(calc("metro", distance_km="5", purpose="business")) == (234, 307, 6)


def test_flight_is_category_6_only() -> None:
    # 1200 km ≤ 3700: short-haul 1200 × 0.07559 = 90.708 kg → 90708 g; with RF 1200 × 0.12786 = 153.432 kg
    c = calc("flight", distance_km="1200")
    assert figures(c) == (0, 90708, 6)
    assert c.reported_separately == {"co2e_with_radiative_forcing_g": 153432}
    # 400 km ≤ 500: domestic 400 × 0.13552 = 54.208 kg; with RF 400 × 0.22928 = 91.712 kg
    short = calc("flight", distance_km="400")
    assert figures(short) == (0, 54208, 6)
    assert short.reported_separately == {"co2e_with_radiative_forcing_g": 91712}


# --- Waste, goods, meals, energy -----------------------------------------------------------------


def test_plastic_recycled_at_home() -> None:
    # 2 kg = 0.002 t; avoided 0.002 × (8.98 − 4.69) = 0.00858 kg → 9 g; home waste: no Scope 3
    # credit 0.002 × (3172.50 − 1575.39) = 3.19422 kg → 3194 g, reported separately
    c = calc("recycling", material="plastic", weight_kg="2", scope="home")
    assert figures(c) == (9, 0, None)
    assert c.reported_separately == {"virgin_displacement_credit_g": 3194}


def test_textile_recycling_has_no_displacement_credit() -> None:
    # 5 kg = 0.005 t; avoided 0.005 × (8.98 − 4.69) = 0.02145 kg → 21 g; Scope 3 0.005 × 4.69 = 0.02345 → 23 g
    c = calc("recycling", material="textile", weight_kg="5")
    assert figures(c) == (21, 23, 5) and c.reported_separately == {}


def test_second_hand() -> None:
    # book 0.5 kg: 0.0005 t × 1288.50 = 0.64425 kg → 644 g
    # clothing 1.2 kg (reuse floor, the lowest material factor): 0.0012 × 1288.50 = 1.5462 kg → 1546 g
    assert figures(calc("second_hand", item="book", weight_kg="0.5")) == (644, 0, None)
    assert figures(calc("second_hand", item="clothing", weight_kg="1.2")) == (1546, 0, None)


def test_no_disposables() -> None:
    # cup 0.010 kg × 1288.50 kg/t ÷ 1000 = 0.012885 kg; 3 cups = 0.038655 kg → 39 g
    # cutlery 0.010 × 3172.50 ÷ 1000 = 0.031725 kg → 32 g
    # bag 0.006 × 3172.50 ÷ 1000 = 0.019035 kg; 2 bags = 0.03807 kg → 38 g
    assert figures(calc("no_disposables", item="cup", count=3)) == (39, 0, None)
    assert figures(calc("no_disposables", item="cutlery", count=1)) == (32, 0, None)
    assert figures(calc("no_disposables", item="bag", count=2)) == (38, 0, None)


def test_clean_plate() -> None:
    # 0.05 kg plate waste × 700.31 kg/t ÷ 1000 = 0.0350155 kg/meal; 2 meals = 0.070031 kg → 70 g
    assert figures(calc("clean_plate", meals=2)) == (70, 0, None)


def test_energy_saving_uses_the_regional_grid() -> None:
    # 10 kWh × 0.4042 (South 2023) = 4.042 kg → 4042 g; 100 kWh × 0.1073 (Yunnan 2022) = 10.73 kg
    assert figures(calc("energy_saving", kwh="10", region="south")) == (4042, 0, None)
    assert figures(calc("energy_saving", kwh="100", region="yunnan", scope="home")) == (10730, 0, None)


def test_half_gram_rounds_to_even() -> None:
    # 12.5 kWh × 0.5306 = 6.6325 kg = 6632.5 g → 6632 (half to even)
    assert calc("energy_saving", kwh="12.5").co2e_avoided_g == 6632


# --- Units ----------------------------------------------------------------------------------------


def test_miles_metres_grams_and_megawatt_hours() -> None:
    # 5 mi = 8.04672 km; avoided 8.04672 × 0.0467 = 0.375781824 → 376 g; actual × 0.0614 = 0.494068608 → 494 g
    c = calc("metro", distance="5", distance_unit="mi")
    assert figures(c) == (376, 494, 7)
    assert c.inputs["distance_km"] == "8.04672" and c.inputs["distance"] == "5 mi"
    # 2500 m = 2.5 km walk, as above
    assert figures(calc("walk", distance="2500", distance_unit="m")) == (270, 0, 7)
    # 500 g paper = 0.0005 t; avoided 0.0005 × 1159.8 = 0.5799 kg → 580 g
    assert calc("recycling", material="paper", weight="500", weight_unit="g").co2e_avoided_g == 580
    # 2.5 MWh = 2500 kWh × 0.5306 = 1326.5 kg → 1326500 g
    assert calc("energy_saving", energy="2.5", energy_unit="MWh").co2e_avoided_g == 1326500


@pytest.mark.parametrize(
    ("activity_type", "quantities"),
    [
        ("metro", {"distance_km": "10"}),
        ("recycling", {"material": "glass", "weight_kg": "3"}),
        ("energy_saving", {"kwh": "4"}),
    ],
)
def test_every_result_names_its_factors_with_sources(activity_type: str, quantities: dict[str, Any]) -> None:
    c = normalize(activity_type, quantities, FACTORS)
    assert c.factors and all(f["source"] and f["id"] in FACTORS.factors for f in c.factors)
    assert c.public()["rounding"].startswith("exact decimal")


# --- Every activity type under both shipped baselines of 2026.1 ----------------------------------

BASELINES_2026 = ("city_mode_mix", "petrol_car_solo")
# Avoided grams (city_mode_mix, petrol_car_solo) and the Scope 3 grams, which the baseline does not
# change. mix = mix.city.cn 0.1081 kg CO2/pkm; car = car.petrol.avg 0.16272 kg CO2e/vkm ÷ 1.
TRAVEL_2026: list[tuple[str, dict[str, Any], tuple[int, int], int]] = [
    # metro 10 km: actual 10 × 0.0614 = 0.614 → 614; mix 10 × (0.1081 − 0.0614) = 0.467 → 467;
    #   car 1.6272 − 0.614 = 1.0132 → 1013
    ("metro", {"distance_km": "10"}, (467, 1013), 614),
    # bus 8 km: actual 8 × 0.10385 = 0.8308 → 831; mix 0.8648 − 0.8308 = 0.034 → 34;
    #   car 8 × 0.16272 = 1.30176 − 0.8308 = 0.47096 → 471
    ("bus", {"distance_km": "8"}, (34, 471), 831),
    # e-bus 8 km: actual 8 × 0.0812 = 0.6496 → 650; mix 0.8648 − 0.6496 = 0.2152 → 215;
    #   car 1.30176 − 0.6496 = 0.65216 → 652
    ("bus_electric", {"distance_km": "8"}, (215, 652), 650),
    # rail 120 km: actual 12.756 → 12756; mix 12.972 − 12.756 = 0.216 → 216;
    #   car 19.5264 − 12.756 = 6.7704 → 6770
    ("rail", {"distance_km": "120"}, (216, 6770), 12756),
    # walk 2.5 km: mix 0.27025 → 270; car 0.4068 → 407
    ("walk", {"distance_km": "2.5"}, (270, 407), 0),
    # bike 5 km: mix 0.5405 kg = 540.5 g → 540 (half to even); car 0.8136 → 814
    ("bike", {"distance_km": "5"}, (540, 814), 0),
    # shared bike 3 km: mix 0.3243 → 324; car 0.48816 → 488
    ("bike_shared", {"distance_km": "3"}, (324, 488), 0),
    # e-bike 10 km: actual 10 × 0.02 × 0.5306 = 0.10612 → 106; mix 1.081 − 0.10612 = 0.97488 → 975;
    #   car 1.6272 − 0.10612 = 1.52108 → 1521
    ("ebike", {"distance_km": "10"}, (975, 1521), 106),
    # EV 20 km: actual 20 × 0.228644 × 0.5306 = 2.426370128 → 2426; 2026.1 fixes the EV baseline
    #   to the solo petrol car whatever the park's: 3.2544 − 2.426370128 = 0.828029872 → 828
    ("ev", {"distance_km": "20"}, (828, 828), 2426),
    # taxi 10 km without occupants: per pkm at DEFRA's occupancy 10 × 0.14861 = 1.4861 → 1486;
    #   mix 1.081 < 1.4861 → 0; car 1.6272 − 1.4861 = 0.1411 → 141
    ("taxi", {"distance_km": "10"}, (0, 141), 1486),
    # taxi 10 km, 2 people: per vkm 2.0806 ÷ 2 = 1.0403 → 1040; mix 1.081 − 1.0403 = 0.0407 → 41;
    #   car 1.6272 − 1.0403 = 0.5869 → 587
    ("taxi", {"distance_km": "10", "occupants": 2}, (41, 587), 1040),
    # carpool 15 km, 2 people: 15 × 0.16272 ÷ 2 = 1.2204 → 1220; baseline fixed to the solo petrol
    #   car: 2.4408 − 1.2204 = 1.2204 → 1220 under both
    ("carpool", {"distance_km": "15", "occupants": 2}, (1220, 1220), 1220),
]


@pytest.mark.parametrize(("activity_type", "quantities", "avoided", "scope3_g"), TRAVEL_2026)
@pytest.mark.parametrize("index", range(len(BASELINES_2026)), ids=BASELINES_2026)
def test_travel_under_both_2026_1_baselines(
    activity_type: str, quantities: dict[str, Any], avoided: tuple[int, int], scope3_g: int, index: int
) -> None:
    assert sorted(FACTORS.baseline_names) == sorted(BASELINES_2026)
    assert figures(calc(activity_type, BASELINES_2026[index], **quantities)) == (avoided[index], scope3_g, 7)


@pytest.mark.parametrize("baseline", BASELINES_2026)
def test_flights_waste_goods_meals_and_energy_do_not_depend_on_the_2026_1_baseline(baseline: str) -> None:
    # flight 1,200 km: UK short-haul 1,200 × 0.07559 = 90.708 kg → 90708 g, no credit
    assert figures(calc("flight", baseline, distance_km="1200")) == (0, 90708, 6)
    # paper 2.5 kg against landfill: 0.0025 × (1164.49 − 4.69) = 2.8995 kg → 2900 g (half to even);
    #   office by default: Scope 3 0.0025 × 4.69 = 0.011725 kg → 12 g
    assert figures(calc("recycling", baseline, material="paper", weight_kg="2.5")) == (2900, 12, 5)
    # book 1.2 kg: 0.0012 × 1288.50 = 1.5462 kg → 1546 g
    assert figures(calc("second_hand", baseline, item="book", weight_kg="1.2")) == (1546, 0, None)
    # 3 cups: 3 × 0.012885 = 0.038655 kg → 39 g
    assert figures(calc("no_disposables", baseline, item="cup", count=3)) == (39, 0, None)
    # 2 clean plates: 2 × 0.0350155 = 0.070031 kg → 70 g
    assert figures(calc("clean_plate", baseline, meals=2)) == (70, 0, None)
    # 12.5 kWh: 12.5 × 0.5306 = 6.6325 kg → 6632 g (half to even)
    assert figures(calc("energy_saving", baseline, kwh="12.5")) == (6632, 0, None)


def test_the_2026_1_examples_cover_every_activity_type() -> None:
    others = {"flight", "recycling", "second_hand", "no_disposables", "clean_plate", "energy_saving"}
    assert {t for t, *_ in TRAVEL_2026} | others == set(ACTIVITY_TYPES)
