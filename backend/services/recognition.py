"""Use case step: screen an activity before it is recorded (rate limits, plausibility, duplicates,
evidence), inside the recording transaction so that two concurrent reports of one trip cannot
both pass the duplicate check (they queue on the log's head lock).

The rules themselves are pure (:mod:`backend.domain.recognition`); this module gathers the facts
they need from the database and remembers each recorded activity's footprint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.adapters.orm import ActivityRow
from backend.adapters.orm_integrations import FootprintRow
from backend.domain.errors import ActivityRejected, RateLimited
from backend.domain.recognition import (
    Assessment,
    Footprint,
    RateLimit,
    RecognitionRules,
    assess,
    footprint,
    retry_after,
)

NEARBY_WINDOW = timedelta(days=1)
"""Activities further apart in time than this are never the same one (longest trip < a day)."""
MAX_NEARBY = 500


@dataclass(frozen=True)
class Screening:
    rules: RecognitionRules = field(default_factory=RecognitionRules)
    per_hour: RateLimit = field(default_factory=lambda: RateLimit(20, timedelta(hours=1)))
    per_day: RateLimit = field(default_factory=lambda: RateLimit(60, timedelta(days=1)))


@dataclass(frozen=True)
class Screened:
    assessment: Assessment
    footprint: Footprint

    @property
    def status(self) -> str:
        return self.assessment.status


def _check_rate(session: Session, subject_id: str, screening: Screening, now: datetime) -> None:
    longest = max(screening.per_hour, screening.per_day, key=lambda limit: limit.window)
    stmt = (
        select(ActivityRow.created_at)
        .where(ActivityRow.subject_id == subject_id, ActivityRow.created_at > now - longest.window)
        .order_by(ActivityRow.created_at.desc())
        .limit(max(screening.per_hour.max_events, screening.per_day.max_events))
    )
    recent = list(session.execute(stmt).scalars())
    for limit in (screening.per_hour, screening.per_day):
        wait = retry_after(limit, recent, now)
        if wait is not None:
            seconds = int(wait.total_seconds()) + 1
            raise RateLimited(
                f"at most {limit.max_events} activities per {int(limit.window.total_seconds())} s; "
                f"retry in {seconds} s",
                seconds,
            )


def _nearby(session: Session, subject_id: str, at: datetime) -> list[Footprint]:
    stmt = (
        select(FootprintRow)
        .join(ActivityRow, ActivityRow.id == FootprintRow.activity_id)
        .where(
            FootprintRow.subject_id == subject_id,
            FootprintRow.started_at > at - NEARBY_WINDOW,
            FootprintRow.started_at < at + NEARBY_WINDOW,
            ActivityRow.status != "rejected",
        )
        .order_by(FootprintRow.started_at)
        .limit(MAX_NEARBY)
    )
    return [to_footprint(row) for row in session.execute(stmt).scalars()]


def to_footprint(row: FootprintRow) -> Footprint:
    magnitude = Decimal(row.magnitude) if row.magnitude is not None else None
    return Footprint(row.activity_id, row.family, row.started_at, row.ended_at, magnitude, row.source)


def _unevidenced_on_day(session: Session, subject_id: str, at: datetime) -> int:
    # The day as the employee lives it: the calendar day in the offset they reported.
    day_start = at.replace(hour=0, minute=0, second=0, microsecond=0)
    stmt = (
        select(func.count())
        .select_from(FootprintRow)
        .join(ActivityRow, ActivityRow.id == FootprintRow.activity_id)
        .where(
            FootprintRow.subject_id == subject_id,
            FootprintRow.evidence == "none",
            FootprintRow.started_at >= day_start,
            FootprintRow.started_at < day_start + timedelta(days=1),
            ActivityRow.status != "rejected",
        )
    )
    return int(session.execute(stmt).scalar_one())


def screen(
    session: Session,
    subject_id: str,
    source: str,
    activity_type: str,
    quantities: dict[str, Any],
    occurred_at: datetime,
    co2e_avoided_g: int,
    screening: Screening,
    now: datetime,
    straight_km: Decimal | None = None,
) -> Screened:
    """Raises :class:`RateLimited` or :class:`ActivityRejected`, or returns the assessment
    (accepted or flagged) with the activity's footprint."""
    _check_rate(session, subject_id, screening, now)
    mine = footprint("", activity_type, occurred_at, quantities, source)
    assessment = assess(
        activity_type,
        quantities,
        mine,
        co2e_avoided_g,
        _nearby(session, subject_id, occurred_at),
        _unevidenced_on_day(session, subject_id, occurred_at),
        screening.rules,
        straight_km,
    )
    rejection = assessment.rejection
    if rejection is not None:
        raise ActivityRejected(rejection.field, rejection.reason, rejection.rule)
    return Screened(assessment, mine)


def remember(session: Session, row: ActivityRow, screened: Screened, now: datetime) -> None:
    mine = screened.footprint
    session.add(
        FootprintRow(
            activity_id=row.id,
            subject_id=row.subject_id,
            family=mine.family,
            started_at=mine.started_at,
            ended_at=mine.ended_at,
            magnitude=str(mine.magnitude) if mine.magnitude is not None else None,
            source=mine.source,
            evidence=screened.assessment.evidence,
            findings=screened.assessment.public()["findings"],
            created_at=now,
        )
    )
