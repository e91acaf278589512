"""Hand-computed worked examples for activity normalization (arithmetic written out)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.domain.activities import normalize, points_for, to_grams
from backend.domain.errors import InvalidInput
from emission_factors.loader import load_builtin_set

FACTORS = load_builtin_set("park-default-2026.1")


def test_metro_ten_km_matches_factsheet_worked_example_1() -> None:
    # Baseline: 10 km × 0.16272 kg/vkm ÷ 1 occupant = 1.6272 kg (solo petrol car, DEFRA 2025)
    # Actual:   10 km × 0.0614 kg/pkm = 0.614 kg (Beijing metro)
    # Avoided:  1.6272 − 0.614 = 1.0132 kg → 1013 g; Scope 3 (cat. 7): 614 g
    calc = normalize("metro", {"distance_km": "10"}, FACTORS)
    assert calc.co2e_avoided_g == 1013
    assert calc.co2e_scope3_g == 614
    assert calc.scope3_category == 7
    assert [f["id"] for f in calc.factors] == ["rail.metro.cn-beijing", "car.petrol.avg"]


def test_metro_12_4_km() -> None:
    # 12.4 × 0.16272 = 2.017728 kg; 12.4 × 0.0614 = 0.76136 kg; avoided 1.256368 kg → 1256 g; actual 761 g
    calc = normalize("metro", {"distance_km": "12.4"}, FACTORS)
    assert (calc.co2e_avoided_g, calc.co2e_scope3_g) == (1256, 761)


def test_business_trip_goes_to_category_6() -> None:
    calc = normalize("metro", {"distance_km": "5", "purpose": "business"}, FACTORS)
    assert calc.scope3_category == 6


def test_short_trip_gets_no_credit_but_keeps_its_inventory_emissions() -> None:
    # 0.4 km is under the 0.5 km minimum: avoided 0; Scope 3 still 0.4 × 61.4 g = 24.56 → 25 g
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
