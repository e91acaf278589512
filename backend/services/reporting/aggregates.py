"""Use case: aggregates of credited activities for managers, with small groups suppressed.

Park managers see companies (or departments) across the park, company admins their own
company's departments; no one sees a group with fewer distinct people than the park's minimum,
and no individual's activity list is ever part of an aggregate.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import func, select

from backend.adapters.database import Database
from backend.adapters.orm import ActivityRow
from backend.domain.accounting.disclosure import Disclosure, Group, snap_window, suppress_small_groups
from backend.domain.errors import InvalidInput
from backend.domain.states import ActivityStatus

GROUPINGS = ("company", "department")
TOTALS = ("activities", "co2e_avoided_g", "co2e_scope3_g", "points")


def activity_aggregates(
    db: Database,
    group_by: str,
    company: str | None,
    since: datetime | None,
    until: datetime | None,
    min_group_size: int,
    tz: tzinfo,
) -> tuple[Disclosure, datetime | None, datetime | None]:
    """The groups shown and pooled, and the window used: ``since`` and ``until`` snapped to whole
    days of the park (``tz``), so windows a moment apart cannot isolate one record."""
    if group_by not in GROUPINGS:
        raise InvalidInput("group_by", f"must be one of {', '.join(GROUPINGS)}")
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until", "must be after since")
    since, until = snap_window(since, until, tz)
    where = [ActivityRow.status == ActivityStatus.ACCEPTED]
    if company is not None:
        where.append(ActivityRow.org_id == company)
    if since is not None:
        where.append(ActivityRow.occurred_at >= since)
    if until is not None:
        where.append(ActivityRow.occurred_at < until)
    stmt = (
        select(
            ActivityRow.org_id,
            ActivityRow.department_id,
            ActivityRow.subject_id,
            func.count(),
            func.sum(ActivityRow.co2e_avoided_g),
            func.sum(ActivityRow.co2e_scope3_g),
            func.sum(ActivityRow.points),
        )
        .where(*where)
        .group_by(ActivityRow.org_id, ActivityRow.department_id, ActivityRow.subject_id)
    )
    members: dict[str, set[str]] = {}
    totals: dict[str, dict[str, int]] = {}
    with db.read_sessions() as session:
        for org, dept, subject, count, avoided, scope3, points in session.execute(stmt).tuples():
            key = org or "(none)"
            if group_by == "department":
                key = f"{key}/{dept or '(none)'}"
            members.setdefault(key, set()).add(subject)
            sums = totals.setdefault(key, dict.fromkeys(TOTALS, 0))
            for name, value in zip(TOTALS, (count, avoided, scope3, points), strict=True):
                sums[name] += int(value or 0)
    groups = [Group(key, frozenset(members[key]), totals[key]) for key in sorted(members)]
    return suppress_small_groups(groups, min_group_size), since, until
