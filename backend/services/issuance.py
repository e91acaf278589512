"""Use case: issue carbon points for an accepted activity, under the rules in force.

Called inside the transaction that accepts the activity (recording it, or approving it after
review). It takes the log head lock before reading what the employee already earned, so two
activities of one employee can never both fit under a cap that only one of them fits.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.adapters.orm_points import PointsTransferRow
from backend.domain import points as ledger
from backend.domain.errors import Conflict
from backend.domain.points import Transfer, TransferKind
from backend.domain.points_rules import IssuanceRules, Usage, day_window, decide, month_window
from backend.services.points import post_transfer
from backend.services.points_rules import rules_in_force

ISSUABLE_STATUS = "accepted"


def issuance_transfer_id(activity_id: str) -> str:
    return ledger.derived_id("issuance", activity_id)


def _usage(session: Session, row: ActivityRow, rules: IssuanceRules) -> Usage:
    mine = (
        ActivityRow.subject_id == row.subject_id,
        ActivityRow.status == ISSUABLE_STATUS,
        ActivityRow.points > 0,
        ActivityRow.id != row.id,
    )
    day_start, day_end = day_window(row.occurred_at, rules)
    month_start, month_end = month_window(row.occurred_at, rules)
    in_day = (ActivityRow.occurred_at >= day_start, ActivityRow.occurred_at < day_end)
    type_count, type_points = session.execute(
        select(func.count(), func.coalesce(func.sum(ActivityRow.points), 0)).where(
            *mine, *in_day, ActivityRow.type == row.type
        )
    ).one()
    day_points = session.execute(select(func.coalesce(func.sum(ActivityRow.points), 0)).where(*mine, *in_day))
    month_points = session.execute(
        select(func.coalesce(func.sum(ActivityRow.points), 0)).where(
            *mine, ActivityRow.occurred_at >= month_start, ActivityRow.occurred_at < month_end
        )
    )
    nearest = None
    cooldown_s = rules.for_type(row.type).cooldown_s
    if cooldown_s:
        window = timedelta(seconds=cooldown_s)
        close = session.execute(
            select(ActivityRow.occurred_at).where(
                *mine,
                ActivityRow.type == row.type,
                ActivityRow.occurred_at > row.occurred_at - window,
                ActivityRow.occurred_at < row.occurred_at + window,
            )
        ).scalars()
        gaps = [abs((at - row.occurred_at).total_seconds()) for at in close]
        nearest = min(gaps) if gaps else None
    return Usage(
        type_count_today=int(type_count),
        type_points_today=int(type_points),
        employee_points_today=int(day_points.scalar_one()),
        employee_points_month=int(month_points.scalar_one()),
        nearest_identical_s=nearest,
    )


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
    SqlLogStore(session).lock_head()
    transfer_id = issuance_transfer_id(row.id)
    issued = session.get(PointsTransferRow, transfer_id)
    if issued is not None:
        row.points = int(issued.amount)
        return row.points
    in_force = rules_in_force(session, row.org_id, defaults)
    decision = decide(row.type, row.co2e_avoided_g, in_force.rules, _usage(session, row, in_force.rules))
    row.points = decision.points
    if decision.points <= 0:
        return 0
    transfer = Transfer(
        id=transfer_id,
        debit_account=ledger.PARK_ISSUANCE,
        credit_account=ledger.employee_account(row.subject_id),
        amount=decision.points,
        kind=TransferKind.ISSUANCE,
        activity_id=row.id,
    )
    details = {
        "rules": in_force.versions,
        "points_per_kg": in_force.rules.for_type(row.type).points_per_kg,
        "co2e_avoided_g": row.co2e_avoided_g,
        "base_points": decision.base_points,
        "limited_by": list(decision.limited_by),
    }
    post_transfer(
        session, transfer, subject=_subject_of(session, row), now=now, org_id=row.org_id, details=details
    )
    return decision.points
