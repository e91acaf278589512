"""Small-group suppression for aggregates shown to managers (PIPL: no singling out).

A group (a company, a department) with fewer distinct people than the minimum is never shown on
its own: small groups are pooled into one "other" group, and when that pool is itself too small
(or would reveal a single small group by subtraction from the total) the smallest shown groups
join it until it is large enough. If the whole population is below the minimum nothing is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

OTHER_KEY = "other"


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


def suppress_small_groups(groups: Sequence[Group], min_size: int) -> Disclosure:
    if min_size < 1:
        raise ValueError("min_size must be at least 1")
    everyone = _merge(OTHER_KEY, groups)
    if everyone.size < min_size:
        return Disclosure([], None, len(groups), suppressed_all=bool(groups))
    shown = sorted((g for g in groups if g.size >= min_size), key=lambda g: (g.size, g.key))
    pooled = [g for g in groups if g.size < min_size]
    # A single pooled group is revealed exactly by "other", so the pool needs two or more groups.
    while pooled and (_merge(OTHER_KEY, pooled).size < min_size or len(pooled) == 1) and shown:
        pooled.append(shown.pop(0))
    other = _merge(OTHER_KEY, pooled) if pooled else None
    shown.sort(key=lambda g: g.key)
    return Disclosure(shown, other, len(pooled), suppressed_all=False)
