"""Use case: reverse a recorded activity. Corrections never edit: they are new logged records.

The activity's own leaf is never touched. A ``correction`` leaf references it (id, leaf index and
leaf hash), carries the reversing amounts (the negated CO2e and points, as a reversing transfer
would) and a reason code; the read model marks the activity ``reversed`` so that totals exclude
it from then on. The operator's free-text note stays in the database (where it can be erased) and
only its salted commitment, under the key of the person the record is about, enters the log: the
log is permanent and a note may name a person (records logged before commitments carry the note's
plain SHA-256, ``note_sha256``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.adapters.orm_corrections import CorrectionRow
from backend.adapters.orm_points import PointsTransferRow
from backend.domain import idempotency
from backend.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.domain.log.record_kinds import CorrectionBody, encode
from backend.domain.log.records import subject_commitment
from backend.domain.points.points import derived_id, reversal
from backend.domain.states import ActivityStatus
from backend.services.log import subject_keys
from backend.services.points.issuance import issuance_transfer_id
from backend.services.points.points import balance_of, lock_accounts, post_transfer, to_transfer

REASON_CODES: dict[str, str] = {
    "duplicate": "the same activity was recorded more than once",
    "data_entry_error": "a quantity or date was entered wrongly",
    "not_eligible": "the activity does not qualify under the park's rules",
    "fraud_suspected": "the record is believed not to reflect a real activity",
    "employee_request": "the employee asked for the record to be withdrawn",
    "factor_error": "the emission factor applied was wrong",
    "superseded_by_primary": "a signed source record of the same activity replaced the self-report",
    "other": "another reason, explained in the note",
}
MAX_NOTE_CHARS = 500
"""Room for a sentence or two of explanation; longer belongs in the case file, not the ledger."""
CORRECTING_ROLES = ("operator", "company_admin")
REVERSED = ActivityStatus.REVERSED


@dataclass(frozen=True)
class Actor:
    role: str
    subject: str
    org: str | None


@dataclass(frozen=True)
class RecordedCorrection:
    row: CorrectionRow
    activity: ActivityRow
    created: bool


def _request_hash(reason_code: str, note: str | None) -> str:
    return idempotency.request_hash({"reason_code": reason_code, "note": note})


def _validate(reason_code: str, note: str | None) -> str | None:
    if reason_code not in REASON_CODES:
        raise InvalidInput("reason_code", f"must be one of {', '.join(REASON_CODES)}")
    note = note.strip() if note else None
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise InvalidInput("note", f"must be at most {MAX_NOTE_CHARS} characters")
    if reason_code == "other" and not note:
        raise InvalidInput("note", "is required when reason_code is 'other'")
    return note or None


def _visible(activity: ActivityRow | None, actor: Actor, activity_id: str) -> ActivityRow:
    if actor.role not in CORRECTING_ROLES:
        raise PermissionDenied(f"role {actor.role} may not reverse records")
    # A company admin sees only their company's records; others' do not exist for them.
    if activity is None or (actor.role == "company_admin" and activity.org_id != actor.org):
        raise NotFound(f"activity {activity_id} not found")
    return activity


POINTS_REASONS = {
    "duplicate": "duplicate",
    "data_entry_error": "data_error",
    "fraud_suspected": "fraud",
    "factor_error": "factor_error",
    "superseded_by_primary": "duplicate",
}
"""The points ledger's reason code for a reversal's reason (``other`` when not listed)."""


@dataclass(frozen=True)
class PointsTakeBack:
    """What a reversal does to the points an activity earned."""

    earned: int
    """Points the activity's issuance credited (0: none were issued)."""
    taken_back: int
    """Points moved back out of the employee's balance by this reversal."""
    transfer_id: str | None
    """The correction transfer that takes them back (None when nothing could be taken back)."""

    @property
    def not_recovered(self) -> int:
        """Earned points that stay with the employee: already spent, or reversed before."""
        return self.earned - self.taken_back


def _plan_take_back(
    session: Session, activity: ActivityRow, transfer_id: str
) -> tuple[PointsTakeBack, tuple[PointsTransferRow, int] | None]:
    """How many of the activity's points can be taken back now: what its issuance credited, less
    what earlier corrections reversed, at most the employee's balance (spent points stay spent)."""
    issued = session.get(PointsTransferRow, issuance_transfer_id(activity.id))
    if issued is None:
        return PointsTakeBack(0, 0, None), None
    already = int(
        session.execute(
            select(func.coalesce(func.sum(PointsTransferRow.amount), 0)).where(
                PointsTransferRow.reverses_id == issued.id
            )
        ).scalar_one()
    )
    account = issued.credit_account_id
    lock_accounts(session, [account, issued.debit_account_id], activity.created_at)
    balance = balance_of(session, account).points
    take = max(0, min(int(issued.amount) - already, balance))
    if take == 0:
        return PointsTakeBack(int(issued.amount), 0, None), None
    return PointsTakeBack(int(issued.amount), take, transfer_id), (issued, already)


def _take_back(
    session: Session,
    plan: PointsTakeBack,
    issued: tuple[PointsTransferRow, int] | None,
    reason_code: str,
    subject: str,
    org_id: str | None,
    actor: str,
    now: datetime,
) -> None:
    if plan.transfer_id is None or issued is None:
        return
    row, already = issued
    spec = reversal(
        to_transfer(row), plan.transfer_id, POINTS_REASONS.get(reason_code, "other"), plan.taken_back, already
    )
    post_transfer(session, spec, subject=subject, now=now, org_id=org_id, created_by=actor)


def points_take_back(db: Database, activity_id: str) -> PointsTakeBack:
    """What a logged reversal of ``activity_id`` did to its points (for replies and replays)."""
    with db.read_sessions() as session:
        issued = session.get(PointsTransferRow, issuance_transfer_id(activity_id))
        if issued is None:
            return PointsTakeBack(0, 0, None)
        taken = session.get(PointsTransferRow, derived_id("reversal-points", activity_id))
        if taken is None:
            taken = session.get(PointsTransferRow, derived_id("supersession-points", activity_id))
        return PointsTakeBack(
            int(issued.amount), 0 if taken is None else int(taken.amount), None if taken is None else taken.id
        )


def _reversal_body(
    activity: ActivityRow,
    corrected: LogLeafRow,
    *,
    reason_code: str,
    superseded_by: str | None,
    note: str | None,
    actor: dict[str, Any],
    points_transfer: str | None,
    now: datetime,
) -> CorrectionBody:
    return CorrectionBody(
        action="reversal",
        corrects={
            "kind": "activity",
            "id": activity.id,
            "leaf_index": activity.leaf_index,
            "leaf_hash": "0x" + bytes(corrected.leaf_hash).hex(),
        },
        reason_code=reason_code,
        superseded_by=superseded_by,
        note=note,
        actor=actor,
        org=activity.org_id,
        reversed={
            "co2e_avoided_g": -activity.co2e_avoided_g,
            "co2e_scope3_g": -activity.co2e_scope3_g,
            "scope3_category": activity.scope3_category,
            "points": -activity.points,
        },
        points_transfer=points_transfer,
        recorded_at=now.isoformat(),
    )


def reverse_activity(
    db: Database,
    actor: Actor,
    activity_id: str,
    reason_code: str,
    note: str | None,
    subject_key: bytes,
    now: datetime | None = None,
) -> RecordedCorrection:
    """Logs a reversal of ``activity_id``; a retry with the same reason and note replays it."""
    now = now or datetime.now(UTC)
    note = _validate(reason_code, note)
    digest = _request_hash(reason_code, note)
    with db.write_sessions() as session, session.begin():
        log = SqlLogStore(session)
        log.lock_head()
        activity = _visible(session.get(ActivityRow, activity_id), actor, activity_id)
        existing = session.execute(
            select(CorrectionRow).where(CorrectionRow.activity_id == activity_id)
        ).scalar_one_or_none()
        if existing is not None:
            if existing.request_hash != digest:
                raise Conflict(f"activity {activity_id} was already reversed ({existing.reason_code})")
            return RecordedCorrection(existing, activity, created=False)
        corrected = session.get(LogLeafRow, activity.leaf_index)
        assert corrected is not None
        correction_id = str(uuid.uuid4())
        plan, issued = _plan_take_back(session, activity, derived_id("reversal-points", activity.id))
        body = _reversal_body(
            activity,
            corrected,
            reason_code=reason_code,
            superseded_by=None,
            note=subject_keys.commit_for(session, activity.subject_id, "note", note, now),
            actor={"role": actor.role, "id": subject_commitment(subject_key, actor.subject)},
            points_transfer=plan.transfer_id,
            now=now,
        )
        subject = subject_commitment(subject_key, activity.subject_id)
        leaf = encode(correction_id, subject, body)
        (leaf_index,) = log.append([PendingLeaf("correction", correction_id, leaf)], now)
        _take_back(session, plan, issued, reason_code, subject, activity.org_id, actor.subject, now)
        row = CorrectionRow(
            id=correction_id,
            activity_id=activity.id,
            reason_code=reason_code,
            note=note,
            actor_role=actor.role,
            actor_id=actor.subject,
            org_id=activity.org_id,
            request_hash=digest,
            leaf_index=leaf_index,
            created_at=now,
        )
        session.add(row)
        activity.status = REVERSED
    return RecordedCorrection(row, activity, created=True)


def correction_for(db: Database, activity_id: str) -> CorrectionRow | None:
    with db.read_sessions() as session:
        stmt = select(CorrectionRow).where(CorrectionRow.activity_id == activity_id)
        return session.execute(stmt).scalar_one_or_none()


SYSTEM_ROLE = "system"


def supersede(
    session: Session,
    activity: ActivityRow,
    by_activity_id: str,
    source: str,
    subject_key: bytes,
    now: datetime,
) -> CorrectionRow:
    """Reverses a self-reported activity that a primary record (``by_activity_id``, from
    ``source``) replaces, in the caller's write transaction (which holds the log head lock): a
    ``correction`` leaf like any reversal, reason ``superseded_by_primary``, naming the record
    that replaces it, and the points it earned taken back by a correction transfer."""
    corrected = session.get(LogLeafRow, activity.leaf_index)
    assert corrected is not None
    correction_id = derived_id("supersession", activity.id)
    subject = subject_commitment(subject_key, activity.subject_id)
    plan, issued = _plan_take_back(session, activity, derived_id("supersession-points", activity.id))
    body = _reversal_body(
        activity,
        corrected,
        reason_code="superseded_by_primary",
        superseded_by=by_activity_id,
        note=None,
        actor={"role": SYSTEM_ROLE, "id": subject_commitment(subject_key, source)},
        points_transfer=plan.transfer_id,
        now=now,
    )
    leaf = encode(correction_id, subject, body)
    (leaf_index,) = SqlLogStore(session).append([PendingLeaf("correction", correction_id, leaf)], now)
    row = CorrectionRow(
        id=correction_id,
        activity_id=activity.id,
        reason_code="superseded_by_primary",
        note=None,
        actor_role=SYSTEM_ROLE,
        actor_id=source,
        org_id=activity.org_id,
        request_hash=_request_hash("superseded_by_primary", None),
        leaf_index=leaf_index,
        created_at=now,
    )
    session.add(row)
    _take_back(session, plan, issued, "superseded_by_primary", subject, activity.org_id, SYSTEM_ROLE, now)
    activity.status = REVERSED
    return row
