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

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.adapters.orm_corrections import CorrectionRow
from backend.adapters.orm_points import PointsTransferRow
from backend.domain import idempotency
from backend.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.domain.points import derived_id, reversal
from backend.domain.records import leaf_bytes, new_salt, subject_commitment
from backend.services import subject_keys
from backend.services.issuance import issuance_transfer_id
from backend.services.points import post_transfer, to_transfer

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
REVERSED = "reversed"


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
        body: dict[str, Any] = {
            "action": "reversal",
            "corrects": {
                "kind": "activity",
                "id": activity.id,
                "leaf_index": activity.leaf_index,
                "leaf_hash": "0x" + bytes(corrected.leaf_hash).hex(),
            },
            "reason_code": reason_code,
            "note": subject_keys.commit_for(session, activity.subject_id, "note", note, now),
            "actor": {"role": actor.role, "id": subject_commitment(subject_key, actor.subject)},
            "org": activity.org_id,
            "reversed": {
                "co2e_avoided_g": -activity.co2e_avoided_g,
                "co2e_scope3_g": -activity.co2e_scope3_g,
                "scope3_category": activity.scope3_category,
                "points": -activity.points,
            },
            "recorded_at": now.isoformat(),
        }
        subject = subject_commitment(subject_key, activity.subject_id)
        leaf = leaf_bytes("correction", correction_id, new_salt(), subject, body)
        (leaf_index,) = log.append([PendingLeaf("correction", correction_id, leaf)], now)
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
    body: dict[str, Any] = {
        "action": "reversal",
        "corrects": {
            "kind": "activity",
            "id": activity.id,
            "leaf_index": activity.leaf_index,
            "leaf_hash": "0x" + bytes(corrected.leaf_hash).hex(),
        },
        "reason_code": "superseded_by_primary",
        "superseded_by": by_activity_id,
        "note": None,
        "actor": {"role": SYSTEM_ROLE, "id": subject_commitment(subject_key, source)},
        "org": activity.org_id,
        "reversed": {
            "co2e_avoided_g": -activity.co2e_avoided_g,
            "co2e_scope3_g": -activity.co2e_scope3_g,
            "scope3_category": activity.scope3_category,
            "points": -activity.points,
        },
        "recorded_at": now.isoformat(),
    }
    leaf = leaf_bytes("correction", correction_id, new_salt(), subject, body)
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
    issued = session.get(PointsTransferRow, issuance_transfer_id(activity.id))
    if issued is not None:
        spec = reversal(
            to_transfer(issued), derived_id("supersession-points", activity.id), "duplicate", None, 0
        )
        post_transfer(session, spec, subject=subject, now=now, org_id=activity.org_id, created_by=SYSTEM_ROLE)
    activity.status = REVERSED
    return row
