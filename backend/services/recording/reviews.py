"""Use case: the review queue of flagged activities, handled by the employee's company admins.

A decision (approve or reject, with a reason) is a new record, not an edit: it is logged as a
``review`` leaf in the same transaction that changes the activity's status, and an approval
credits the activity through :func:`backend.services.recording.activities.on_activity_accepted`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import ActivityRow
from backend.adapters.orm_integrations import FootprintRow, ReviewRow
from backend.domain.errors import Conflict, InvalidInput, NotFound
from backend.domain.log.record_kinds import ReviewBody, encode
from backend.domain.log.records import subject_commitment
from backend.domain.states import ActivityStatus
from backend.services.log import log_locks, subject_keys
from backend.services.recording.activities import IssuancePolicy, on_activity_accepted

DECISIONS = {"approve": ActivityStatus.ACCEPTED, "reject": ActivityStatus.REJECTED}
MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class QueueItem:
    activity: ActivityRow
    footprint: FootprintRow | None
    review: ReviewRow | None


def review_queue(
    db: Database, company_id: str, status: str, limit: int, offset: int
) -> tuple[list[QueueItem], int]:
    """The company's activities in ``status`` (``flagged``: waiting; ``accepted``/``rejected``:
    decided), oldest first so nothing waits forever."""
    with db.read_sessions() as session:
        where: list[ColumnElement[bool]] = [ActivityRow.org_id == company_id, ActivityRow.status == status]
        if status != ActivityStatus.FLAGGED:
            # Decided after review (not merely accepted on arrival).
            where.append(ActivityRow.id.in_(select(ReviewRow.activity_id)))
        total = int(session.execute(select(func.count()).select_from(ActivityRow).where(*where)).scalar_one())
        stmt = (
            select(ActivityRow, FootprintRow, ReviewRow)
            .outerjoin(FootprintRow, FootprintRow.activity_id == ActivityRow.id)
            .outerjoin(ReviewRow, ReviewRow.activity_id == ActivityRow.id)
            .where(*where)
            .order_by(ActivityRow.created_at, ActivityRow.id)
            .limit(limit)
            .offset(offset)
        )
        items = [QueueItem(a, f, r) for a, f, r in session.execute(stmt).tuples()]
        return items, total


def decide(
    db: Database,
    company_id: str,
    activity_id: str,
    decision: str,
    reason: str,
    reviewer: str,
    policy: IssuancePolicy,
    now: datetime,
) -> ReviewRow:
    """Approves or rejects a flagged activity of ``company_id``; repeating the same decision
    returns the original one, a different decision on a decided activity is a conflict."""
    if decision not in DECISIONS:
        raise InvalidInput("decision", f"must be one of {', '.join(DECISIONS)}")
    reason = reason.strip()
    if not 1 <= len(reason) <= MAX_REASON_LENGTH:
        raise InvalidInput("reason", f"must be 1 to {MAX_REASON_LENGTH} characters")
    with db.write_sessions() as session, session.begin():
        log = SqlLogStore(session)
        if log.queued:  # the employee's caps are decided here too: their lock first, then the head
            subject = session.scalar(select(ActivityRow.subject_id).where(ActivityRow.id == activity_id))
            log_locks.lock_employees(session, [subject] if subject is not None else [])
        log.lock_head()
        row = session.get(ActivityRow, activity_id)
        if row is None or row.org_id != company_id:
            raise NotFound(f"activity {activity_id} not found in {company_id}")
        existing = session.get(ReviewRow, activity_id)
        if existing is not None:
            if existing.decision == decision:
                return existing
            raise Conflict(f"activity {activity_id} was already decided: {existing.decision}")
        if row.status != ActivityStatus.FLAGGED:
            raise Conflict(f"activity {activity_id} is {row.status}, not waiting for review")
        row.status = DECISIONS[decision]
        if decision == "approve":
            on_activity_accepted(session, row, now, policy.rules_defaults)
        body = ReviewBody(
            activity=activity_id,
            activity_leaf=row.leaf_index,
            decision=decision,
            status=row.status,
            reason=subject_keys.commit_for(session, row.subject_id, "reason", reason, now),
            org=company_id,
            reviewer=subject_commitment(policy.subject_key, reviewer),
            points=row.points,
            decided_at=now.isoformat(),
        )
        subject = subject_commitment(policy.subject_key, row.subject_id)
        leaf = encode(activity_id, subject, body)
        (leaf_index,) = log.append([PendingLeaf("review", activity_id, leaf)], now)
        review = ReviewRow(
            activity_id=activity_id,
            company_id=company_id,
            decision=decision,
            reason=reason,
            reviewer=reviewer,
            decided_at=now,
            leaf_index=leaf_index,
        )
        session.add(review)
    return review
