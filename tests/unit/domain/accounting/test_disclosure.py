"""Small-group suppression: no group under the minimum is ever shown or derivable on its own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.domain.accounting.disclosure import Group, suppress_small_groups


def _group(key: str, size: int, start: int = 0) -> Group:
    return Group(key, frozenset(f"{key}-{i}" for i in range(start, start + size)), {"activities": size * 3})


def test_groups_at_or_above_the_minimum_are_shown() -> None:
    result = suppress_small_groups([_group("a", 5), _group("b", 9)], 5)
    assert [g.key for g in result.shown] == ["a", "b"] and result.other is None


def test_small_groups_are_pooled_when_the_pool_is_big_enough() -> None:
    result = suppress_small_groups([_group("a", 9), _group("b", 3), _group("c", 2)], 5)
    assert [g.key for g in result.shown] == ["a"]
    assert result.other is not None and result.other.size == 5 and result.pooled == 2
    assert result.other.totals == {"activities": 15}


def test_a_single_small_group_is_never_revealed_by_subtraction() -> None:
    result = suppress_small_groups([_group("a", 9), _group("b", 20), _group("c", 2)], 5)
    # "other" alone would be exactly group c: the smallest shown group joins it.
    assert [g.key for g in result.shown] == ["b"]
    assert result.other is not None and result.other.size == 11 and result.pooled == 2


def test_a_population_below_the_minimum_shows_nothing() -> None:
    result = suppress_small_groups([_group("a", 2), _group("b", 2)], 5)
    assert result.shown == [] and result.other is None and result.suppressed_all


def test_people_are_counted_once_across_groups() -> None:
    shared = frozenset({"p1", "p2", "p3"})
    result = suppress_small_groups([Group("a", shared), Group("b", shared)], 4)
    assert result.suppressed_all  # three distinct people, not six


@given(st.lists(st.integers(min_value=0, max_value=12), max_size=8), st.integers(min_value=1, max_value=8))
def test_nothing_small_is_ever_shown_and_totals_are_kept(sizes: list[int], minimum: int) -> None:
    groups = [_group(f"g{i}", n) for i, n in enumerate(sizes)]
    result = suppress_small_groups(groups, minimum)
    assert all(g.size >= minimum for g in result.shown)
    if result.other is not None:
        assert result.other.size >= minimum and result.pooled >= 2
    if not result.suppressed_all:
        shown = sum(g.totals.get("activities", 0) for g in result.shown)
        pooled = result.other.totals.get("activities", 0) if result.other else 0
        assert shown + pooled == sum(n * 3 for n in sizes)
