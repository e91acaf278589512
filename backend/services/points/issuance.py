"""Use case: issue carbon points for an accepted activity, under the rules in force.

Called inside the transaction that accepts the activity (recording it, or approving it after
review). It takes the log head lock before reading what the employee already earned, so two
activities of one employee can never both fit under a cap that only one of them fits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.adapters.orm_points import PointsTransferRow
from backend.domain.errors import Conflict
from backend.domain.points import points as ledger
from backend.domain.points.points import Transfer, TransferKind
from backend.domain.points.points_rules import IssuanceRules, Usage, day_window, decide, month_window
from backend.domain.states import ActivityStatus
from backend.services.log import log_locks
from backend.services.points.points import post_transfer
from backend.services.points.points_rules import RulesInForce, rules_in_force

ISSUABLE_STATUS = ActivityStatus.ACCEPTED


def issuance_transfer_id(activity_id: str) -> str:
    return ledger.derived_id("issuance", activity_id)


@dataclass(frozen=True)
class Earned:
    """An accepted activity that earned points: what the caps and the cool-down count."""

    activity_id: str
    type: str
    occurred_at: datetime
    points: int


def usage_window(row: ActivityRow, rules: IssuanceRules) -> tuple[datetime, datetime]:
    """The span of ``occurred_at`` the caps and the cool-down of ``row`` look at."""
    day_start, day_end = day_window(row.occurred_at, rules)
    month_start, month_end = month_window(row.occurred_at, rules)
    cooldown = timedelta(seconds=rules.for_type(row.type).cooldown_s or 0)
    return (
        min(day_start, month_start, row.occurred_at - cooldown),
        max(day_end, month_end, row.occurred_at + cooldown),
    )


class IssuanceFacts:
    """What employees already earned in a span of time, read in one query for a batch and kept up
    to date as the batch issues points (the caps then hold across the batch's own activities)."""

    def __init__(self, session: Session, subjects: Iterable[str], window: tuple[datetime, datetime]) -> None:
        wanted = sorted(set(subjects))
        self._earned: dict[str, list[Earned]] = {subject: [] for subject in wanted}
        stmt = select(
            ActivityRow.subject_id,
            ActivityRow.id,
            ActivityRow.type,
            ActivityRow.occurred_at,
            ActivityRow.points,
        ).where(
            ActivityRow.subject_id.in_(wanted),
            ActivityRow.status == ISSUABLE_STATUS,
            ActivityRow.points > 0,
            ActivityRow.occurred_at >= window[0],
            ActivityRow.occurred_at < window[1],
        )
        for subject, activity_id, activity_type, occurred_at, points in session.execute(stmt):
            self._earned[subject].append(Earned(activity_id, activity_type, occurred_at, int(points)))

    def usage(self, row: ActivityRow, rules: IssuanceRules) -> Usage:
        mine = [e for e in self._earned[row.subject_id] if e.activity_id != row.id]
        day_start, day_end = day_window(row.occurred_at, rules)
        month_start, month_end = month_window(row.occurred_at, rules)
        today = [e for e in mine if day_start <= e.occurred_at < day_end]
        same_type = [e for e in today if e.type == row.type]
        nearest = None
        cooldown_s = rules.for_type(row.type).cooldown_s
        if cooldown_s:
            gaps = [
                abs((e.occurred_at - row.occurred_at).total_seconds())
                for e in mine
                if e.type == row.type and abs(e.occurred_at - row.occurred_at) < timedelta(seconds=cooldown_s)
            ]
            nearest = min(gaps) if gaps else None
        return Usage(
            type_count_today=len(same_type),
            type_points_today=sum(e.points for e in same_type),
            employee_points_today=sum(e.points for e in today),
            employee_points_month=sum(e.points for e in mine if month_start <= e.occurred_at < month_end),
            nearest_identical_s=nearest,
        )

    def add(self, row: ActivityRow) -> None:
        if row.points > 0:
            self._earned[row.subject_id].append(Earned(row.id, row.type, row.occurred_at, row.points))


@dataclass(frozen=True)
class Issuance:
    """The points one accepted activity earns and the transfer that issues them (none at 0)."""

    points: int
    transfer: Transfer | None
    details: dict[str, Any]


def decide_issuance(row: ActivityRow, in_force: RulesInForce, usage: Usage) -> Issuance:
    decision = decide(row.type, row.co2e_avoided_g, in_force.rules, usage)
    limited_by = list(decision.limited_by)
    provisional = bool((row.calculation or {}).get("provisional"))
    if provisional:
        # A credit shaped by a provisional value (an assumption still to verify) earns nothing
        # until a later factor set verifies it; the avoided figure is still shown and reported.
        limited_by.append("provisional_factor")
    details = {
        "rules": in_force.versions,
        "points_per_kg": in_force.rules.for_type(row.type).points_per_kg,
        "co2e_avoided_g": row.co2e_avoided_g,
        "base_points": decision.base_points,
        "limited_by": limited_by,
    }
    if decision.points <= 0 or provisional:
        return Issuance(0, None, details)
    transfer = Transfer(
        id=issuance_transfer_id(row.id),
        debit_account=ledger.PARK_ISSUANCE,
        credit_account=ledger.employee_account(row.subject_id),
        amount=decision.points,
        kind=TransferKind.ISSUANCE,
        activity_id=row.id,
    )
    transfer.validate()
    return Issuance(decision.points, transfer, details)


def _subject_of(session: Session, row: ActivityRow) -> str | None:
    """The activity leaf's subject commitment, reused so the transfer needs no key of its own."""
    leaf = session.get(LogLeafRow, row.leaf_index)
    if leaf is None:
        raise Conflict(f"activity {row.id} is not in the log")
    subject = json.loads(leaf.leaf).get("subject")
    return None if subject is None else str(subject)


def issue_for_activity(session: Session, row: ActivityRow, now: datetime, defaults: IssuanceRules) -> int:
    """Issues the points ``row`` earns (park issuance → employee) and returns them; idempotent."""
    if row.status != ISSUABLE_STATUS:
        raise Conflict(f"activity {row.id} is {row.status}; points are issued only for accepted activities")
    log_locks.lock_employees(session, [row.subject_id])  # before the head (a no-op if held)
    SqlLogStore(session).lock_head()  # with queued sequencing: the activity's leaf is logged now
    transfer_id = issuance_transfer_id(row.id)
    issued = session.get(PointsTransferRow, transfer_id)
    if issued is not None:
        row.points = int(issued.amount)
        return row.points
    in_force = rules_in_force(session, row.org_id, defaults)
    facts = IssuanceFacts(session, [row.subject_id], usage_window(row, in_force.rules))
    issuance = decide_issuance(row, in_force, facts.usage(row, in_force.rules))
    row.points = issuance.points
    if issuance.transfer is None:
        return 0
    post_transfer(
        session,
        issuance.transfer,
        subject=_subject_of(session, row),
        now=now,
        org_id=row.org_id,
        details=issuance.details,
    )
    return issuance.points
