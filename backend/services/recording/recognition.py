"""Use case step: screen an activity before it is recorded (rate limits, plausibility, duplicates,
evidence), inside the recording transaction so that two concurrent reports of one trip cannot
both pass the duplicate check (they queue on the log's head lock).

The rules themselves are pure (:mod:`backend.domain.recording.recognition`); this module gathers the facts
they need from the database and remembers each recorded activity's footprint.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.adapters.orm import ActivityRow
from backend.adapters.orm_integrations import FootprintRow
from backend.domain.errors import ActivityRejected, RateLimited
from backend.domain.recording.recognition import (
    Assessment,
    Footprint,
    RateLimit,
    RecognitionRules,
    assess,
    footprint,
    retry_after,
)
from backend.domain.states import ActivityStatus

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


@dataclass
class _History:
    """One employee's facts: when their stored activities were recorded (newest first) and the
    footprints of those not rejected, by start time, each with its evidence."""

    recorded: list[datetime] = field(default_factory=list)
    footprints: list[tuple[Footprint, str]] = field(default_factory=list)


class ScreeningFacts:
    """What the screen reads about a set of employees, loaded in two queries for a whole batch and
    kept up to date as the batch records activities, so that a delivery of 500 records costs two
    reads rather than three per record, and records of one batch are screened against each other
    exactly as if they had come one by one.

    ``window`` bounds the activities' ``occurred_at``; footprints within a day of it are loaded.
    Runs in the recording transaction, under the log's head lock: nothing changes underneath.
    """

    def __init__(
        self,
        session: Session,
        subjects: Iterable[str],
        window: tuple[datetime, datetime],
        screening: Screening,
        now: datetime,
    ) -> None:
        self.screening = screening
        self.now = now
        wanted = sorted(set(subjects))
        self._history = {subject: _History() for subject in wanted}
        longest = max(screening.per_hour.window, screening.per_day.window)
        recorded = select(ActivityRow.subject_id, ActivityRow.created_at).where(
            ActivityRow.subject_id.in_(wanted), ActivityRow.created_at > now - longest
        )
        for subject, at in session.execute(recorded):
            self._history[subject].recorded.append(at)
        stmt = (
            select(
                FootprintRow.subject_id,
                FootprintRow.activity_id,
                FootprintRow.family,
                FootprintRow.started_at,
                FootprintRow.ended_at,
                FootprintRow.magnitude,
                FootprintRow.source,
                FootprintRow.evidence,
            )
            .join(ActivityRow, ActivityRow.id == FootprintRow.activity_id)
            .where(
                FootprintRow.subject_id.in_(wanted),
                FootprintRow.started_at > window[0] - NEARBY_WINDOW,
                FootprintRow.started_at < window[1] + NEARBY_WINDOW,
                ActivityRow.status.not_in((ActivityStatus.REJECTED, ActivityStatus.REVERSED)),
            )
            .order_by(FootprintRow.started_at)
        )
        # Plain rows, not ORM objects: a busy batch reads thousands and builds nothing else.
        for subject, activity_id, family, started, ended, magnitude, source, evidence in session.execute(
            stmt
        ):
            mine = Footprint(
                activity_id, family, started, ended, None if magnitude is None else Decimal(magnitude), source
            )
            self._history[subject].footprints.append((mine, evidence))
        for history in self._history.values():
            history.recorded.sort(reverse=True)

    def _check_rate(self, history: _History) -> None:
        for limit in (self.screening.per_hour, self.screening.per_day):
            wait = retry_after(limit, history.recorded, self.now)
            if wait is not None:
                seconds = int(wait.total_seconds()) + 1
                raise RateLimited(
                    f"at most {limit.max_events} activities per {int(limit.window.total_seconds())} s; "
                    f"retry in {seconds} s",
                    seconds,
                )

    def screen(
        self,
        subject_id: str,
        source: str,
        activity_type: str,
        quantities: dict[str, Any],
        occurred_at: datetime,
        co2e_avoided_g: int,
        straight_km: Decimal | None = None,
    ) -> Screened:
        """Raises :class:`RateLimited` or :class:`ActivityRejected`, or returns the assessment
        (accepted or flagged) with the activity's footprint."""
        history = self._history[subject_id]
        self._check_rate(history)
        mine = footprint("", activity_type, occurred_at, quantities, source)
        nearby = [
            fp
            for fp, _ in history.footprints
            if occurred_at - NEARBY_WINDOW < fp.started_at < occurred_at + NEARBY_WINDOW
        ][:MAX_NEARBY]
        # The day as the employee lives it: the calendar day in the offset they reported.
        day_start = occurred_at.replace(hour=0, minute=0, second=0, microsecond=0)
        day_end = day_start + timedelta(days=1)
        unevidenced = sum(
            1
            for fp, evidence in history.footprints
            if evidence == "none" and day_start <= fp.started_at < day_end
        )
        assessment = assess(
            activity_type,
            quantities,
            mine,
            co2e_avoided_g,
            nearby,
            unevidenced,
            self.screening.rules,
            straight_km,
        )
        rejection = assessment.rejection
        if rejection is not None:
            raise ActivityRejected(rejection.field, rejection.reason, rejection.rule)
        if assessment.supersedes is not None:
            # The replaced report no longer counts as a trip this batch could duplicate.
            history.footprints = [
                item for item in history.footprints if item[0].activity_id != assessment.supersedes
            ]
        return Screened(assessment, mine)

    def remember(self, row: ActivityRow, screened: Screened) -> FootprintRow:
        """The stored activity's footprint row (to add to the session); later screens see it."""
        mine = replace(screened.footprint, activity_id=row.id)
        history = self._history[row.subject_id]
        history.recorded.insert(0, row.created_at)
        insort(history.footprints, (mine, screened.assessment.evidence), key=lambda item: item[0].started_at)
        return FootprintRow(
            activity_id=row.id,
            subject_id=row.subject_id,
            family=mine.family,
            started_at=mine.started_at,
            ended_at=mine.ended_at,
            magnitude=str(mine.magnitude) if mine.magnitude is not None else None,
            source=mine.source,
            evidence=screened.assessment.evidence,
            findings=screened.assessment.public()["findings"],
            created_at=row.created_at,
        )
