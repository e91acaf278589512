"""Normalization rules shared by every activity: rounding, eligibility, bounds and errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.domain.accounting.activities import normalize, points_for, to_grams
from backend.domain.errors import ConfigurationError, InvalidInput
from emission_factors.loader import load_builtin_set

FACTORS = load_builtin_set("park-default-2026.1")


def test_short_trip_gets_no_credit_but_keeps_its_inventory_emissions() -> None:
    # 0.4 km is under the metro's 0.5 km minimum: avoided 0; Scope 3 still 0.4 × 61.4 g = 24.56 → 25 g
    calc = normalize("metro", {"distance_km": "0.4"}, FACTORS)
    assert calc.co2e_avoided_g == 0
    assert calc.co2e_scope3_g == 25
    assert not calc.credited


def test_rounding_is_half_to_even_once() -> None:
    assert to_grams(Decimal("0.0005")) == 0  # 0.5 g → 0 (even)
    assert to_grams(Decimal("0.0015")) == 2  # 1.5 g → 2 (even)
    assert to_grams(Decimal("0.00151")) == 2


def test_points_round_down() -> None:
    assert points_for(1256, 100) == 125  # 1256 g × 100 points/kg = 125.6 → 125
    assert points_for(9, 100) == 0


@pytest.mark.parametrize("distance", ["0", "-1", "250"])
def test_distance_out_of_band_rejected(distance: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalize("metro", {"distance_km": distance}, FACTORS)
    assert err.value.field == "distance_km"


def test_unknown_type_names_the_field() -> None:
    with pytest.raises(InvalidInput) as err:
        normalize("teleport", {"distance_km": "1"}, FACTORS)
    assert err.value.field == "type"


@pytest.mark.parametrize(
    ("activity_type", "quantities", "field", "reason"),
    [
        ("metro", {}, "distance_km", "is required"),
        ("metro", {"distance": "3"}, "distance_unit", "is required with distance"),
        ("metro", {"distance": "3", "distance_unit": "ft"}, "distance_unit", "unknown distance unit 'ft'"),
        ("metro", {"distance_km": "3", "distance": "3"}, "distance", "not both"),
        ("metro", {"distance_unit": "km"}, "distance", "is required with distance_unit"),
        ("walk", {"distance_km": "10", "duration_min": "20"}, "duration_min", "30.0 km/h"),
        (
            "walk",
            {"distance_km": "1", "duration": "2", "duration_unit": "fortnight"},
            "duration_unit",
            "unknown",
        ),
        ("carpool", {"distance_km": "10"}, "occupants", "is required"),
        ("carpool", {"distance_km": "10", "occupants": 1}, "occupants", "between 2 and 8"),
        ("carpool", {"distance_km": "10", "occupants": 2, "fuel": "coal"}, "fuel", "not one of"),
        ("ev", {"distance_km": "10", "region": "mars"}, "region", "not a grid region"),
        ("flight", {"distance_km": "9000"}, "distance_km", "long-haul"),
        ("flight", {"distance_km": "900", "purpose": "commute"}, "purpose", "business travel"),
        ("recycling", {"material": "wood", "weight_kg": "1"}, "material", "not one of"),
        (
            "recycling",
            {"material": "paper", "weight": "2", "weight_unit": "lb"},
            "weight_unit",
            "unknown weight",
        ),
        ("recycling", {"material": "paper", "weight_kg": "2000"}, "weight_kg", "at most 1000 kg"),
        ("recycling", {"material": "paper", "weight_kg": "2", "scope": "moon"}, "scope", "office or home"),
        ("second_hand", {"item": "book"}, "weight_kg", "is required"),
        ("no_disposables", {"item": "cup", "count": "2.5"}, "count", "whole number"),
        ("no_disposables", {"item": "cup", "count": 21}, "count", "between 1 and 20"),
        ("clean_plate", {"meals": 0}, "meals", "between 1 and 5"),
        ("energy_saving", {"kwh": "true"}, "kwh", "not a number"),
        ("energy_saving", {"energy": "1", "energy_unit": "kcal"}, "energy_unit", "unknown energy unit"),
        ("energy_saving", {"kwh": "20000"}, "kwh", "at most 10000 kWh"),
    ],
)
def test_bad_quantities_name_the_field(
    activity_type: str, quantities: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        normalize(activity_type, quantities, FACTORS)
    assert err.value.field == field
    assert reason in err.value.reason


def test_unknown_park_baseline_is_a_configuration_error() -> None:
    with pytest.raises(
        ConfigurationError, match="CARBON_BASELINE 'bicycle_mix': none of these baselines is defined"
    ):
        normalize("metro", {"distance_km": "3"}, FACTORS, baseline="bicycle_mix")


def test_avoided_is_never_negative_even_when_the_mode_emits_more() -> None:
    # a solo taxi (148.61 g/pkm) against the mix (108.1 g/pkm): 0, not −40.51 g/km
    calc = normalize("taxi", {"distance_km": "30"}, FACTORS)
    assert calc.co2e_avoided_g == 0 and calc.co2e_scope3_g == 4458
    assert "at least as much" in calc.note
