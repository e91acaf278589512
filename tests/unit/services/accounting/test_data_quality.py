"""Data quality roll-up per category (GHG Protocol Scope 3 Standard ch. 7): emission-weighted scores
of the factors behind the inventory, proxy and provisional shares, and an uncertainty range that
covers the whole inventory, including emissions computed with a set that scores nothing."""

from __future__ import annotations

from backend.domain.accounting.scope3 import Group
from backend.services.accounting.scope3 import data_quality


def group(factor_set: str, activity_type: str, category: int, scope3_g: int) -> Group:
    return Group("acme", "eng", category, activity_type, factor_set, False, 0, 1, scope3_g, 0)


def test_a_category_mixing_scored_and_unscored_sets_has_a_range_over_all_of_it() -> None:
    # metro under 2027.1: rail.metro.cn-grid scores 3/2/3/3/2, worst 3 → ±30 %: 833 × 0.30 = 249.9
    # metro under 2026.1 (no scores): ±50 %, the poorest: 614 × 0.50 = 307
    # half-width 249.9 + 307 = 556.9 → 557 g (half to even); inventory 833 + 614 = 1,447 g
    # → 1,447 − 557 = 890 to 1,447 + 557 = 2,004 g
    groups = [group("park-default-2027.1", "metro", 7, 833), group("park-default-2026.1", "metro", 7, 614)]
    (cat7,) = data_quality(groups)["by_category"]
    assert cat7["inventory_g"] == 1447
    assert cat7["uncertainty_g"] == {"low": 890, "high": 2004}
    # scores weight the scored part only; shares are of the whole category
    assert cat7["scores"] == {
        "technology": 3.0,
        "time": 2.0,
        "geography": 3.0,
        "completeness": 3.0,
        "reliability": 2.0,
    }
    assert (cat7["share_on_proxies"], cat7["share_unscored"]) == (round(833 / 1447, 4), round(614 / 1447, 4))


def test_provisional_and_proxy_shares_and_per_category_rows() -> None:
    # flight: flight.international scores 2/1/3/2/1, worst 3 → 101,040 ± 30,312 g, a proxy
    # (geography 3: DEFRA's non-UK average, not a Chinese factor)
    # e-bike: its Scope 3 figure rests on the provisional 0.02 kWh/km → on provisional values, and
    # the unverified assumption scores reliability 4 (poor) beside grid.cn.national.2023's 1/2/2/1/2,
    # so worst 4 → 106 × 50 % = 53; metro 833 × 30 % = 249.9; 53 + 249.9 = 302.9 → 303;
    # 939 ± 303 g
    groups = [
        group("park-default-2027.1", "flight", 6, 101040),
        group("park-default-2027.1", "ebike", 7, 106),
        group("park-default-2027.1", "metro", 7, 833),
        group("park-default-2026.1", "walk", 7, 0),
    ]
    cat6, cat7 = data_quality(groups)["by_category"]
    assert (cat6["category"], cat6["uncertainty_g"]) == (6, {"low": 70728, "high": 131352})
    assert (cat6["share_on_proxies"], cat6["share_on_provisional"], cat6["share_unscored"]) == (1.0, 0.0, 0.0)
    assert cat7["uncertainty_g"] == {"low": 636, "high": 1242}
    # reliability weighted by emissions: (106 × 4 + 833 × 2) ÷ 939 = 2090 ÷ 939 = 2.2258 → 2.23
    assert cat7["scores"]["reliability"] == 2.23
    assert cat7["share_on_provisional"] == round(106 / 939, 4)
    assert cat7["share_on_proxies"] == round(833 / 939, 4)
