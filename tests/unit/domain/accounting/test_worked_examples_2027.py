"""Worked examples of park-default-2027.1: every activity type under every shipped baseline, the
arithmetic written out. Grams are rounded once, half to even.

Values used (factors.csv of park-default-2027.1):
  bus   = bus.local.avg 0.10385 kg CO2e/pkm   (national_conservative baseline; bus and e-bus actual)
  car   = car.petrol.avg 0.16272 kg CO2e/vkm  (petrol_car_solo baseline)
  metro = rail.metro.cn-grid 0.08334 = 0.0278 × 0.5306 ÷ 0.177
  rail  = rail.national.cn-grid 0.10630 = 0.03546 × 0.5306 ÷ 0.177
  grid  = grid.cn.national.2023 0.5306 kg CO2/kWh
  Shenzhen: metro 0.0467, e-bus 0.0269 kg CO2/pkm; Hubei: metro 0.137, bus 0.052 kg CO2/trip;
  Beijing: metro 0.21042 = 5.98 ÷ 22 − 0.0614 kg CO2/pkm (provisional)
"""

from __future__ import annotations

from typing import Any

import pytest

from backend.domain.accounting.activities import ACTIVITY_TYPES, Calculation, choose_baseline, normalize
from backend.domain.errors import ConfigurationError, InvalidInput
from emission_factors.loader import load_builtin_set

FACTORS = load_builtin_set("park-default-2027.1")
BASELINES = ("national_conservative", "shenzhen", "hubei", "beijing", "petrol_car_solo")


def calc(activity_type: str, baseline: str | None = None, **quantities: Any) -> Calculation:
    return normalize(activity_type, quantities, FACTORS, baseline=baseline)


def figures(c: Calculation) -> tuple[int, int, int | None]:
    return c.co2e_avoided_g, c.co2e_scope3_g, c.scope3_category


def test_the_set_ships_exactly_these_baselines_and_defaults_to_the_national_one() -> None:
    assert sorted(FACTORS.baseline_names) == sorted(BASELINES)
    assert FACTORS.default_baseline == "national_conservative"


# Avoided grams per baseline, in the order of BASELINES; the Scope 3 figure does not depend on it.
TRAVEL: list[tuple[str, dict[str, Any], tuple[int, ...], int]] = [
    # metro 10 km: actual 10 × 0.08334 = 0.8334 → 833 g
    #   national 10 × (0.10385 − 0.08334) = 0.2051 → 205; Shenzhen 10 × 0.0467 = 0.467 → 467;
    #   Hubei 0.137 per trip → 137; Beijing 10 × 0.21042 = 2.1042 → 2104;
    #   petrol car 10 × (0.16272 − 0.08334) = 0.7938 → 794
    ("metro", {"distance_km": "10"}, (205, 467, 137, 2104, 794), 833),
    # bus 8 km: actual 8 × 0.10385 = 0.8308 → 831; national: bus vs bus = 0; Shenzhen and Beijing do
    #   not cover the diesel bus → national 0; Hubei 0.052 per trip → 52;
    #   petrol car 8 × (0.16272 − 0.10385) = 0.47096 → 471
    ("bus", {"distance_km": "8"}, (0, 0, 52, 0, 471), 831),
    # e-bus 8 km: actual (proxy) 831; Shenzhen 8 × 0.0269 = 0.2152 → 215; Hubei 52; others as the bus
    ("bus_electric", {"distance_km": "8"}, (0, 215, 52, 0, 471), 831),
    # rail 120 km: actual 120 × 0.10630 = 12.756 → 12756; bus baseline 120 × 0.10385 = 12.462 < actual
    #   → 0 (all but the car); car 120 × (0.16272 − 0.10630) = 6.7704 → 6770
    ("rail", {"distance_km": "120"}, (0, 0, 0, 0, 6770), 12756),
    # walk 2.5 km: 0 emitted; bus 2.5 × 0.10385 = 0.259625 → 260 (cities fall back); car 0.4068 → 407
    ("walk", {"distance_km": "2.5"}, (260, 260, 260, 260, 407), 0),
    # bike 5 km: 5 × 0.10385 = 0.51925 → 519; car 5 × 0.16272 = 0.8136 → 814
    ("bike", {"distance_km": "5"}, (519, 519, 519, 519, 814), 0),
    # shared bike 3 km: 3 × 0.10385 = 0.31155 → 312 (half to even); car 0.48816 → 488
    ("bike_shared", {"distance_km": "3"}, (312, 312, 312, 312, 488), 0),
    # e-bike 10 km: actual 10 × 0.02 kWh × 0.5306 = 0.10612 → 106; bus 1.0385 − 0.10612 = 0.93238
    #   → 932; car 1.6272 − 0.10612 = 1.52108 → 1521 (0.02 kWh/km is provisional: no points)
    ("ebike", {"distance_km": "10"}, (932, 932, 932, 932, 1521), 106),
    # EV 20 km: actual 20 × 0.228644 × 0.5306 = 2.426370128 → 2426; bus 2.077 < actual → 0;
    #   car 3.2544 − 2.426370128 = 0.828029872 → 828
    ("ev", {"distance_km": "20"}, (0, 0, 0, 0, 828), 2426),
    # taxi 10 km, one explicit default occupant: 10 × 0.20806 ÷ 1 = 2.0806 → 2081; more than the bus
    #   (1.0385) and the car (1.6272) → 0 everywhere
    ("taxi", {"distance_km": "10"}, (0, 0, 0, 0, 0), 2081),
    # shared taxi, 2 people: 2.0806 ÷ 2 = 1.0403 → 1040; bus 1.0385 < 1.0403 → 0; car 1.6272 − 1.0403
    #   = 0.5869 → 587
    ("taxi", {"distance_km": "10", "occupants": 2}, (0, 0, 0, 0, 587), 1040),
    # carpool 15 km, 2 people, petrol: 15 × 0.16272 ÷ 2 = 1.2204 → 1220; bus 15 × 0.10385 = 1.55775
    #   − 1.2204 = 0.33735 → 337; car 2.4408 − 1.2204 = 1.2204 → 1220
    ("carpool", {"distance_km": "15", "occupants": 2}, (337, 337, 337, 337, 1220), 1220),
]


@pytest.mark.parametrize(("activity_type", "quantities", "avoided", "scope3_g"), TRAVEL)
@pytest.mark.parametrize("index", range(len(BASELINES)), ids=BASELINES)
def test_travel_under_every_baseline(
    activity_type: str, quantities: dict[str, Any], avoided: tuple[int, ...], scope3_g: int, index: int
) -> None:
    c = calc(activity_type, BASELINES[index], **quantities)
    assert figures(c) == (avoided[index], scope3_g, 7)


def test_city_baselines_say_when_their_methodology_does_not_cover_a_mode() -> None:
    c = calc("walk", "shenzhen", distance_km="2.5")
    assert c.baseline == "national_conservative"
    assert "the shenzhen methodology (Shenzhen) does not cover walk" in c.note
    assert [f["role"] for f in calc("metro", "hubei", distance_km="4").factors] == ["actual", "reduction"]


def test_provisional_values_are_marked_and_verified_ones_are_not() -> None:
    assert calc("metro", "beijing", distance_km="10").provisional is True
    assert calc("ebike", distance_km="10").provisional is True  # 0.02 kWh/km is an assumption
    assert calc("metro", "shenzhen", distance_km="10").provisional is False
    assert calc("no_disposables", item="cup", count=3).provisional is True
    assert calc("second_hand", item="book", weight_kg="1.2").provisional is False


# --- Flights: DEFRA "International, to/from non-UK", any distance -------------------------------


@pytest.mark.parametrize("baseline", BASELINES)
def test_flight_1200_km_is_the_non_uk_factor(baseline: str) -> None:
    # 1,200 × 0.0842 = 101.04 kg → 101040 g (the UK short-haul 0.07559 gave 90.7 kg); no credit
    # with radiative forcing 1,200 × 0.14253 = 171.036 kg, reported separately
    # per gas: CO2 1,200 × 0.08333 = 99.996 kg, CH4 × 0.00001 = 0.012, N2O × 0.00086 = 1.032
    c = calc("flight", baseline, distance_km="1200")
    assert figures(c) == (0, 101040, 6)
    assert c.reported_separately == {"co2e_with_radiative_forcing_g": 171036}
    assert c.scope3_by_gas == {"CO2": 99996, "CH4": 12, "N2O": 1032, "gwp": "AR5"}


def test_long_haul_flights_have_a_factor_now() -> None:
    # 8,000 × 0.0842 = 673.6 kg; 2026.1 refused flights over 3,700 km
    assert figures(calc("flight", distance_km="8000")) == (0, 673600, 6)


# --- Recycling: against the treatment mix, household by default --------------------------------


@pytest.mark.parametrize("baseline", BASELINES)
def test_paper_recycling_against_the_national_treatment_mix(baseline: str) -> None:
    # counterfactual per t = 0.2747 × 1164.4894 + 0.7253 × 4.68568 + 0 × 8.98311
    #   = 319.88523818 + 3.398523704 = 323.283761884 kg/t; minus recycling 4.68568 = 318.598081884
    # 2.5 kg = 0.0025 t → 0.79649520471 kg → 796 g (against landfill alone 2026.1 gave 2,900 g)
    # household by default: no Scope 3; virgin credit 0.0025 × (1288.50 − 1068.77) = 0.549325 → 549
    c = calc("recycling", baseline, material="paper", weight_kg="2.5")
    assert figures(c) == (796, 0, None)
    assert c.inputs["scope"] == "home" and c.inputs["share_landfill"] == "0.2747"
    assert c.reported_separately == {"virgin_displacement_credit_g": 549}


def test_office_recycling_is_category_5() -> None:
    # Scope 3 cat. 5: 0.0025 × 4.68568 = 0.0117142 kg → 12 g (DEFRA gives no per-gas split)
    c = calc("recycling", material="paper", weight_kg="2.5", scope="office")
    assert figures(c) == (796, 12, 5)
    assert c.scope3_by_gas == {"unsplit_g": 12, "gwp": "AR5"}


def test_plastic_recycling_earns_little_where_it_would_be_incinerated() -> None:
    # (0.2747 × 8.98311 + 0.7253 × 4.68568 − 4.68568) × 0.01 = (2.467660317 + 3.398523704
    #   − 4.68568) × 0.01 = 0.01180504021 kg → 12 g
    assert figures(calc("recycling", material="plastic", weight_kg="10")) == (12, 0, None)


def test_textile_and_electronics_use_defra_rows_not_assumptions() -> None:
    # clothing: (0.2747 × 496.78228 + 0.7253 × 4.68568 − 4.68568) × 0.004
    #   = (136.466092316 + 3.398523704 − 4.68568) × 0.004 = 0.54071774128 kg → 541 g
    c = calc("recycling", material="textile", weight_kg="4")
    assert figures(c) == (541, 0, None) and c.provisional is False


# --- Consumption -----------------------------------------------------------------------------------


@pytest.mark.parametrize("baseline", BASELINES)
def test_consumption_does_not_depend_on_the_travel_baseline(baseline: str) -> None:
    # second-hand book 1.2 kg: 0.0012 × 1288.50 = 1.5462 kg → 1546 g
    assert figures(calc("second_hand", baseline, item="book", weight_kg="1.2")) == (1546, 0, None)
    # three cups not used: 3 × 0.012885 = 0.038655 kg → 39 g (provisional mass: no points)
    assert figures(calc("no_disposables", baseline, item="cup", count=3)) == (39, 0, None)
    # two clean plates: 2 × 0.0350154 = 0.0700308 kg → 70 g
    assert figures(calc("clean_plate", baseline, meals=2)) == (70, 0, None)
    # 12.5 kWh on the national grid: 12.5 × 0.5306 = 6.6325 kg → 6632 g (half to even)
    assert figures(calc("energy_saving", baseline, kwh="12.5")) == (6632, 0, None)


# --- Company vehicles: Scope 1/2, not Scope 3 ----------------------------------------------------


def test_a_company_car_trip_is_scope_1_and_out_of_scope_3() -> None:
    # 15 km, 3 people, petrol, company car: 15 × 0.16272 ÷ 3 = 0.8136 kg → 814 g of Scope 1
    c = calc("carpool", distance_km="15", occupants=3, vehicle_owner="company", purpose="business")
    assert (c.co2e_scope3_g, c.scope3_category, c.reported_separately) == (0, None, {"scope1_g": 814})
    # a company EV charged on the grid: 20 × 0.228644 × 0.5306 → 2426 g of Scope 2
    c = calc("ev", distance_km="20", vehicle_owner="company")
    assert (c.co2e_scope3_g, c.scope3_category, c.reported_separately) == (0, None, {"scope2_g": 2426})


def test_vehicle_owner_is_refused_where_it_means_nothing() -> None:
    with pytest.raises(InvalidInput) as err:
        calc("metro", distance_km="5", vehicle_owner="company")
    assert err.value.field == "vehicle_owner"
    with pytest.raises(InvalidInput):
        calc("carpool", distance_km="5", occupants=2, vehicle_owner="neighbour")


# --- Per-gas split ----------------------------------------------------------------------------------


def test_gases_split_the_scope_3_figure() -> None:
    # taxi 10 km: CO2 10 × 0.20638 = 2.0638 → 2064, CH4 10 × 0.000005 = 0.00005 → 0,
    # N2O 10 × 0.00167 = 0.0167 → 17; total 2081 (each gas rounded on its own)
    assert calc("taxi", distance_km="10").scope3_by_gas == {"CO2": 2064, "CH4": 0, "N2O": 17, "gwp": "AR5"}
    # metro on the China grid is CO2 only
    assert calc("metro", distance_km="10").scope3_by_gas == {"CO2": 833, "CH4": 0, "N2O": 0, "gwp": "-"}


# --- The park's choice ------------------------------------------------------------------------------


def test_carbon_baseline_lists_choices_in_order_of_preference() -> None:
    old = load_builtin_set("park-default-2026.1")
    assert choose_baseline("shenzhen,city_mode_mix", FACTORS) == "shenzhen"
    assert choose_baseline("shenzhen,city_mode_mix", old) == "city_mode_mix"
    assert choose_baseline(None, FACTORS) == "national_conservative"
    with pytest.raises(ConfigurationError, match="none of these baselines"):
        choose_baseline("city_mode_mix", FACTORS)


def test_the_examples_cover_every_activity_type() -> None:
    others = {"flight", "recycling", "second_hand", "no_disposables", "clean_plate", "energy_saving"}
    assert {t for t, *_ in TRAVEL} | others == set(ACTIVITY_TYPES)
