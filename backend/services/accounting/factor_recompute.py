"""Use case: preview what a factor set would change in stored activities, changing nothing.

Stored results are never recomputed in place (that would change history silently); this shows an
operator, before publishing, how avoided and Scope 3 figures of past activities would differ
under a candidate set, per activity type, with samples of the activities that change most.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.orm import ActivityRow
from backend.domain.accounting.activities import normalize
from backend.domain.accounting.factors import FactorSet
from backend.domain.errors import CarbonLedgerError

MAX_SAMPLES = 20
"""Changed activities listed by id (largest differences first); the totals cover all of them."""
MAX_PROBLEMS = 20
BATCH_ROWS = 500
"""Rows fetched per round trip: bounded memory however many activities are stored."""


@dataclass
class TypeDiff:
    activities: int = 0
    changed: int = 0
    not_computable: int = 0
    avoided_before_g: int = 0
    avoided_after_g: int = 0
    scope3_before_g: int = 0
    scope3_after_g: int = 0

    def add(self, other: TypeDiff) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


@dataclass
class RecomputeReport:
    candidate: str
    candidate_sha256: str
    baseline: str | None
    since: datetime | None
    until: datetime | None
    by_type: dict[str, TypeDiff] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def totals(self) -> TypeDiff:
        total = TypeDiff()
        for diff in self.by_type.values():
            total.add(diff)
        return total

    def public(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "candidate_sha256": "0x" + self.candidate_sha256,
            "baseline": self.baseline,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "applied": False,
            "totals": asdict(self.totals),
            "by_type": {t: asdict(d) for t, d in sorted(self.by_type.items())},
            "largest_changes": self.samples,
            "not_computable": self.problems,
        }


def recompute(
    db: Database,
    candidate: FactorSet,
    *,
    baseline: str | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> RecomputeReport:
    """Recomputes stored activities in ``[since, until)`` under ``candidate``; writes nothing."""
    report = RecomputeReport(candidate.version, candidate.content_hash, baseline, since, until)
    stmt = select(
        ActivityRow.id,
        ActivityRow.type,
        ActivityRow.occurred_at,
        ActivityRow.quantities,
        ActivityRow.co2e_avoided_g,
        ActivityRow.co2e_scope3_g,
        ActivityRow.factor_set,
    ).order_by(ActivityRow.occurred_at, ActivityRow.id)
    if since is not None:
        stmt = stmt.where(ActivityRow.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(ActivityRow.occurred_at < until)
    changes: list[tuple[int, dict[str, Any]]] = []
    with db.read_sessions() as session:
        for row in session.execute(stmt.execution_options(yield_per=BATCH_ROWS)):
            diff = report.by_type.setdefault(row.type, TypeDiff())
            diff.activities += 1
            diff.avoided_before_g += row.co2e_avoided_g
            diff.scope3_before_g += row.co2e_scope3_g
            try:
                calc = normalize(row.type, row.quantities, candidate, baseline=baseline)
            except CarbonLedgerError as exc:
                diff.not_computable += 1
                diff.avoided_after_g += row.co2e_avoided_g
                diff.scope3_after_g += row.co2e_scope3_g
                if len(report.problems) < MAX_PROBLEMS:
                    report.problems.append({"id": row.id, "type": row.type, "reason": exc.detail})
                continue
            diff.avoided_after_g += calc.co2e_avoided_g
            diff.scope3_after_g += calc.co2e_scope3_g
            delta_avoided = calc.co2e_avoided_g - row.co2e_avoided_g
            delta_scope3 = calc.co2e_scope3_g - row.co2e_scope3_g
            if delta_avoided or delta_scope3:
                diff.changed += 1
                sample = {
                    "id": row.id,
                    "type": row.type,
                    "occurred_at": row.occurred_at.isoformat(),
                    "stored_factor_set": row.factor_set,
                    "co2e_avoided_g": [row.co2e_avoided_g, calc.co2e_avoided_g],
                    "co2e_scope3_g": [row.co2e_scope3_g, calc.co2e_scope3_g],
                }
                changes.append((abs(delta_avoided) + abs(delta_scope3), sample))
                if len(changes) > 4 * MAX_SAMPLES:
                    changes = sorted(changes, key=lambda c: -c[0])[:MAX_SAMPLES]
    report.samples = [sample for _, sample in sorted(changes, key=lambda c: -c[0])[:MAX_SAMPLES]]
    return report
