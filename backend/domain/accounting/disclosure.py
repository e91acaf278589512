"""Small-group suppression for every aggregate shown to people (PIPL: no singling out).

One rule for every aggregate surface (aggregates, Scope 3 summaries, explanations, exports, the
disclosure, the dashboard, the park-platform feed, closes, leaderboards): a group (a company, a
department, a month, a board) with fewer distinct people than the minimum (``CARBON_MIN_GROUP_SIZE``)
is *withheld*. Withheld groups are pooled; when the pool is itself too small, or holds a single
group (which a shown total minus the shown groups would reveal), the smallest shown groups join it
until it is large enough (:func:`choose_withheld`). If the whole population is below the minimum
nothing is shown. A withheld group keeps only its name and says ``"withheld": true``
(:func:`withheld_block`), the same way on every surface.

Time windows a caller chooses are snapped to whole days (:func:`snap_window`), so two windows a
microsecond apart cannot isolate one record by difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

OTHER_KEY = "other"
WITHHELD_NOTE_EN = "Withheld: fewer people than the minimum group size, or needed to protect such a group."
WITHHELD_NOTE_ZH = "已隐藏：人数少于最小分组人数，或为保护此类分组而一并隐藏。"


@dataclass(frozen=True)
class Group:
    key: str
    members: frozenset[str]
    totals: Mapping[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class Disclosure:
    shown: list[Group]
    other: Group | None
    """The pool of groups too small to show, with how many groups it holds in ``pooled``."""
    pooled: int
    suppressed_all: bool


def _merge(key: str, groups: Sequence[Group]) -> Group:
    members: frozenset[str] = frozenset().union(*(g.members for g in groups))
    totals: dict[str, int] = {}
    for g in groups:
        for name, value in g.totals.items():
            totals[name] = totals.get(name, 0) + value
    return Group(key, members, totals)


def choose_withheld(
    sizes: Mapping[str, int],
    min_size: int,
    pool_size: Callable[[Sequence[str]], int] | None = None,
    show_empty: bool = True,
) -> tuple[list[str], list[str]]:
    """(shown, withheld) keys of groups of the given sizes (distinct people). ``pool_size`` counts
    the distinct people of several groups (default: the sum, for disjoint groups). Groups of no one
    are shown when ``show_empty`` (their figures are zero); everything is withheld when all
    together are too few."""
    if min_size < 1:
        raise ValueError("min_size must be at least 1")
    count = pool_size or (lambda keys: sum(sizes[k] for k in keys))
    people = [k for k in sizes if sizes[k] > 0 or not show_empty]
    if count(people) < min_size:
        return sorted(k for k in sizes if k not in people), sorted(people)
    shown = sorted((k for k in people if sizes[k] >= min_size), key=lambda k: (sizes[k], k))
    pooled = [k for k in people if sizes[k] < min_size]
    # A single pooled group is revealed exactly by subtraction, so the pool needs two or more groups.
    while pooled and (count(pooled) < min_size or len(pooled) == 1) and shown:
        pooled.append(shown.pop(0))
    return sorted([*shown, *(k for k in sizes if k not in people)]), sorted(pooled)


def is_withheld(people: int, min_size: int) -> bool:
    """Whether a single group of ``people`` (with nothing to pool it with) is withheld."""
    return 0 < people < min_size


def withheld_block(block: Mapping[str, Any], keep: Iterable[str], min_size: int) -> dict[str, Any]:
    """A withheld group as every surface shows it: its name (``keep``), ``withheld``, and why."""
    return {
        **{k: block[k] for k in keep if k in block},
        "withheld": True,
        "privacy": {"min_group_size": min_size, "note_en": WITHHELD_NOTE_EN, "note_zh": WITHHELD_NOTE_ZH},
    }


def snap_window(
    since: datetime | None, until: datetime | None, tz: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """``since`` down to the start of its day, ``until`` up to the start of the next day unless it
    is one already (days in ``tz``, the park's time zone)."""

    def day_start(moment: datetime) -> datetime:
        local = moment.astimezone(tz)
        return datetime.combine(local.date(), time(), tzinfo=tz)

    start = None if since is None else day_start(since)
    end = None
    if until is not None:
        end = day_start(until)
        if end < until.astimezone(tz):
            end = datetime.combine(end.date() + timedelta(days=1), time(), tzinfo=tz)
    return start, end


def suppress_small_groups(groups: Sequence[Group], min_size: int) -> Disclosure:
    """Shown groups, and the withheld ones pooled into "other" (see :func:`choose_withheld`)."""
    if min_size < 1:
        raise ValueError("min_size must be at least 1")
    by_key = {g.key: g for g in groups}
    everyone = _merge(OTHER_KEY, groups)
    if everyone.size < min_size:
        return Disclosure([], None, len(groups), suppressed_all=bool(groups))
    shown_keys, pooled_keys = choose_withheld(
        {g.key: g.size for g in groups},
        min_size,
        lambda keys: _merge(OTHER_KEY, [by_key[k] for k in keys]).size,
        show_empty=False,
    )
    pooled = [by_key[k] for k in pooled_keys]
    other = _merge(OTHER_KEY, pooled) if pooled else None
    return Disclosure([by_key[k] for k in shown_keys], other, len(pooled), suppressed_all=False)
