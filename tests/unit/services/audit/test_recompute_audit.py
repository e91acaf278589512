"""verify-log --recompute: every activity recomputed from its logged quantities with the released
set it names, and that set checked to be the one in force when the activity occurred."""

from __future__ import annotations

from typing import Any

from backend.domain.accounting.activities import normalize
from backend.services.audit.record_audit import RecomputeAudit
from emission_factors.loader import load_builtin_set

OLD = load_builtin_set("park-default-2026.1")
NEW = load_builtin_set("park-default-2027.1")


def leaf(
    record_id: str, occurred_at: str, factor_set: Any, baseline: str | None = None, **quantities: Any
) -> dict[str, Any]:
    activity_type = quantities.pop("type")
    calc = normalize(activity_type, quantities, factor_set, baseline=baseline)
    body = {
        "type": activity_type,
        "occurred_at": occurred_at,
        "quantities": quantities,
        "co2e_avoided_g": calc.co2e_avoided_g,
        "co2e_scope3_g": calc.co2e_scope3_g,
        "scope3_category": calc.scope3_category,
        "factor_set": {"version": factor_set.version, "sha256": "0x" + factor_set.content_hash},
        "calculation": calc.public(),
    }
    return {"kind": "activity", "id": record_id, "body": body}


def audit() -> RecomputeAudit:
    return RecomputeAudit({OLD.version: OLD, NEW.version: NEW})


def test_honest_records_recompute_under_each_set_and_baseline() -> None:
    a = audit()
    a.leaf(0, leaf("a0", "2026-11-03T08:30:00+08:00", OLD, type="metro", distance_km="12.4"))
    a.leaf(1, leaf("a1", "2027-01-12T08:30:00+08:00", NEW, "shenzhen", type="metro", distance_km="12.4"))
    # a city baseline that does not cover walking logs the fallback it used
    a.leaf(2, leaf("a2", "2027-01-12T09:30:00+08:00", NEW, "shenzhen", type="walk", distance_km="2.5"))
    a.leaf(
        3, leaf("a3", "2027-01-12T10:30:00+08:00", NEW, type="flight", distance_km="1200", purpose="business")
    )
    assert (a.problems, a.recomputed, a.not_recomputed) == ([], 4, 0)


def test_a_figure_the_set_does_not_give_is_named() -> None:
    # 12.4 × (0.1081 − 0.0614) = 0.57908 kg → 579 g; 12.4 × 0.0614 = 0.76136 kg → 761 g
    record = leaf("a0", "2026-11-03T08:30:00+08:00", OLD, type="metro", distance_km="12.4")
    record["body"]["co2e_avoided_g"] = 5790
    a = audit()
    a.leaf(7, record)
    assert a.problems == [
        "leaf 7 (activity record a0): recomputed with park-default-2026.1 (baseline city_mode_mix) it gives "
        "avoided 579 g, Scope 3 761 g, category 7; the leaf says avoided 5790 g, Scope 3 761 g, category 7"
    ]


def test_a_set_not_in_force_when_the_activity_occurred_is_named() -> None:
    # 2027.1 is in force from 2027-01-01T00:00:00+08:00: a trip a minute earlier takes 2026.1
    a = audit()
    a.leaf(0, leaf("a0", "2026-12-31T23:59:00+08:00", NEW, type="metro", distance_km="5"))
    assert a.problems == [
        "leaf 0 (activity record a0): computed with factor set park-default-2027.1, but the set in force "
        "at 2026-12-31T23:59:00+08:00 was park-default-2026.1"
    ]


def test_an_operator_set_is_followed_for_force_but_not_recomputed() -> None:
    a = audit()
    published = {
        "version": "park-2027.2",
        "effective_from": "2027-03-01T00:00:00+08:00",
        "sha256": "0x" + "1" * 64,
    }
    a.leaf(0, {"kind": "factor_set", "id": "park-2027.2", "body": published})
    on_it = leaf("a1", "2027-03-02T08:00:00+08:00", NEW, type="metro", distance_km="5")
    on_it["body"]["factor_set"]["version"] = "park-2027.2"
    a.leaf(1, on_it)
    assert (a.problems, a.recomputed, a.not_recomputed) == ([], 0, 1)
    a.leaf(2, leaf("a2", "2027-03-02T09:00:00+08:00", NEW, type="metro", distance_km="5"))
    assert a.problems == [
        "leaf 2 (activity record a2): computed with factor set park-default-2027.1, but the set in force "
        "at 2027-03-02T09:00:00+08:00 was park-2027.2"
    ]
