"""Which factor set is in force at a given time.

Activities are computed with the set in effect at ``occurred_at`` so that results never change
silently when a new set is published.
"""

from __future__ import annotations

from datetime import datetime

from backend.domain.errors import InvalidInput
from backend.domain.factors import FactorSet
from emission_factors.loader import builtin_versions, load_builtin_set


def all_sets() -> list[FactorSet]:
    return sorted((load_builtin_set(v) for v in builtin_versions()), key=lambda s: s.effective_from)


def set_in_force(at: datetime) -> FactorSet:
    candidates = [s for s in all_sets() if s.effective_from <= at]
    if not candidates:
        raise InvalidInput("occurred_at", f"no emission factor set is in force at {at.isoformat()}")
    return candidates[-1]
