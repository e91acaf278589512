"""Property tests of normalization (hypothesis): linearity in distance, no negative figures."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.accounting.activities import ACTIVITY_TYPES, normalize
from emission_factors.loader import load_builtin_set

FACTORS = load_builtin_set("park-default-2026.1")
BASELINES = st.sampled_from([None, *FACTORS.baseline_names])
TRAVEL = [t for t in ACTIVITY_TYPES if FACTORS.rules(t)["kind"] in ("distance", "electric_distance")]
REGIONS = st.sampled_from(sorted(FACTORS.grid_regions))


def _km(low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=3)


def _weight() -> st.SearchStrategy[dict[str, Any]]:
    kg = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(200), places=3)
    return st.one_of(
        kg.map(lambda w: {"weight_kg": str(w)}),
        kg.map(lambda w: {"weight": str(w * 1000), "weight_unit": "g"}),
    )


def _quantities(activity_type: str) -> st.SearchStrategy[dict[str, Any]]:
    rules = FACTORS.rules(activity_type)
    kind = rules["kind"]
    if kind in ("distance", "electric_distance"):
        base: dict[str, Any] = {"purpose": st.sampled_from(["commute", "business"])}
        if "min_occupants" in rules:
            base["occupants"] = st.integers(2, 8)
        if kind == "electric_distance":
            base["region"] = REGIONS
        fixed = st.fixed_dictionaries(base)
        return st.tuples(fixed, _km("0.001", rules["max_distance_km"])).map(
            lambda pair: {**pair[0], "distance_km": str(pair[1])}
        )
    if kind == "flight":
        return _km("1", "3700").map(lambda d: {"distance_km": str(d)})
    if kind == "recycling":
        extra = st.fixed_dictionaries(
            {
                "material": st.sampled_from(sorted(rules["materials"])),
                "scope": st.sampled_from(["office", "home"]),
            }
        )
        return st.tuples(extra, _weight()).map(lambda pair: {**pair[0], **pair[1]})
    if kind == "reuse":
        return st.tuples(st.sampled_from(sorted(rules["items"])), _weight()).map(
            lambda pair: {"item": pair[0], **pair[1]}
        )
    if kind == "per_item":
        return st.fixed_dictionaries(
            {"item": st.sampled_from(sorted(rules["items"])), "count": st.integers(1, rules["max_count"])}
        )
    if kind == "per_meal":
        return st.fixed_dictionaries({"meals": st.integers(1, rules["max_meals"])})
    return st.fixed_dictionaries(
        {
            "kwh": _km("0.001", "10000").map(str),
            "region": REGIONS,
            "scope": st.sampled_from(["office", "home"]),
        }
    )


activities = st.sampled_from(ACTIVITY_TYPES).flatmap(lambda t: st.tuples(st.just(t), _quantities(t)))


@settings(max_examples=300)
@given(activity=activities, baseline=BASELINES)
def test_no_activity_yields_a_negative_figure(
    activity: tuple[str, dict[str, Any]], baseline: str | None
) -> None:
    activity_type, quantities = activity
    calc = normalize(activity_type, quantities, FACTORS, baseline=baseline)
    assert calc.co2e_scope3_g >= 0
    assert calc.co2e_avoided_g >= 0
    assert all(grams >= 0 for grams in calc.reported_separately.values())
    assert calc.scope3_category in (5, 6, 7, None)
    if calc.scope3_category is None:
        assert calc.co2e_scope3_g == 0


@settings(max_examples=200)
@given(
    activity_type=st.sampled_from(TRAVEL),
    baseline=BASELINES,
    factor=st.integers(2, 5),
    data=st.data(),
)
def test_avoided_scales_linearly_with_distance(
    activity_type: str, baseline: str | None, factor: int, data: st.DataObject
) -> None:
    rules = FACTORS.rules(activity_type)
    low = Decimal(rules["min_distance_km"])
    high = Decimal(rules["max_distance_km"]) / factor
    distance = data.draw(_km(str(low), str(high.quantize(Decimal("0.001"), rounding=ROUND_FLOOR))))
    extra = {"occupants": 3} if "min_occupants" in rules else {}
    one = normalize(activity_type, {"distance_km": str(distance), **extra}, FACTORS, baseline=baseline)
    many = normalize(
        activity_type, {"distance_km": str(distance * factor), **extra}, FACTORS, baseline=baseline
    )
    # each figure is rounded once to ±0.5 g, so k × round(x) and round(k × x) differ by ≤ (k + 1) / 2
    assert abs(many.co2e_avoided_g - factor * one.co2e_avoided_g) <= (factor + 1) / 2
    assert abs(many.co2e_scope3_g - factor * one.co2e_scope3_g) <= (factor + 1) / 2
