"""Unit conversion: exact ratios, round trips, and unknown units refused by name."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain.accounting.units import (
    DISTANCE,
    DURATION,
    ENERGY,
    WEIGHT,
    Dimension,
    plain,
    read_quantity,
)
from backend.domain.errors import InvalidInput

DIMENSIONS = [DISTANCE, WEIGHT, DURATION, ENERGY]
amounts = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10_000_000), places=6)


@pytest.mark.parametrize(
    ("dimension", "value", "unit", "base"),
    [
        (DISTANCE, "5", "mi", "8.04672"),
        (DISTANCE, "2500", "m", "2.5"),
        (WEIGHT, "500", "g", "0.5"),
        (WEIGHT, "1.2", "t", "1200"),
        (DURATION, "1.5", "h", "90"),
        (DURATION, "90", "s", "1.5"),
        (ENERGY, "2.5", "MWh", "2500"),
        (ENERGY, "750", "Wh", "0.75"),
    ],
)
def test_known_conversions(dimension: Dimension, value: str, unit: str, base: str) -> None:
    assert dimension.to_base(Decimal(value), unit) == Decimal(base)


@given(amount=amounts, data=st.data())
def test_conversions_round_trip(amount: Decimal, data: st.DataObject) -> None:
    dimension = data.draw(st.sampled_from(DIMENSIONS))
    unit = data.draw(st.sampled_from(dimension.units))
    back = dimension.from_base(dimension.to_base(amount, unit), unit)
    if unit == "s":  # 1/60 is not a finite decimal: equal to 28 significant digits
        assert abs(back - amount) <= amount * Decimal("1e-25")
    else:
        assert back == amount


@given(amount=amounts)
def test_base_unit_is_identity_and_plain_has_no_exponent(amount: Decimal) -> None:
    for dimension in DIMENSIONS:
        assert dimension.to_base(amount, dimension.base_unit) == amount
    text = plain(amount)
    assert "E" not in text and Decimal(text) == amount


@pytest.mark.parametrize("unit", ["KM", "feet", "", "kilometre"])
def test_unknown_units_are_refused_by_field(unit: str) -> None:
    with pytest.raises(InvalidInput) as err:
        read_quantity({"distance": "3", "distance_unit": unit}, DISTANCE, "distance_km", "distance")
    assert err.value.field == "distance_unit"
    assert "km, m, mi" in err.value.reason


def test_optional_quantity_may_be_absent() -> None:
    assert read_quantity({}, DURATION, "duration_min", "duration", required=False) is None
