"""Use case: erase a person (PIPL art. 47): their personal data and their commitment key.

What goes: the employee's number and display name, their sign-in links (WeChat openid hashes),
the identifiers and labels of their data-source bindings, their leaderboard alias, operators' notes
on their points transfers, their sessions; every free text about them (evidence references, source
record ids, review reasons, correction notes) is replaced in the database by the commitment its
leaf already carries, and their key is destroyed, so nobody can any longer open those commitments
or test a guess against them.

What stays: every leaf (the log is append-only), the activity records with their figures, points
and statuses (checkpoint totals, receipts, Scope 3 reports and balances are computed from them) under
the employee's random internal id, which nothing left in the database ties to a person. So every
checkpoint, receipt, total and verify-log still verifies. The erasure is itself a logged
``erasure`` record holding no subject, no id and no counts: only when, by which role and on what
basis. Records logged before commitments existed keep their text in the log; it is left in the
database too, so they still verify (docs/privacy.md).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import ActivityRow
from backend.adapters.orm_corrections import CorrectionRow
from backend.adapters.orm_identity import BindingRow, EmployeeRow, IdentityLinkRow, InvitationRow
from backend.adapters.orm_integrations import IntegrationRecordRow, ReviewRow
from backend.adapters.orm_points import LeaderboardOptInRow, PointsTransferRow
from backend.adapters.orm_privacy import SubjectKeyRow
from backend.domain.canonical import sha256_hex
from backend.domain.errors import InvalidInput, NotFound
from backend.domain.log.commitments import FREE_TEXT_QUANTITIES
from backend.domain.log.record_kinds import ErasureBody, encode
from backend.domain.points import points as ledger
from backend.domain.states import EmployeeStatus
from backend.services.identity import revocation
from backend.services.log.subject_keys import in_leaf

BASES: dict[str, str] = {
    "employee_request": "the person asked for deletion (PIPL art. 47; a ground of art. 47 (1) applies)",
    "purpose_fulfilled": "the purpose is achieved or no longer needs the data (PIPL art. 47 (1) 1)",
    "retention_expired": "the service ended or the retention period expired (PIPL art. 47 (1) 2)",
    "consent_withdrawn": "the person withdrew consent (PIPL art. 47 (1) 3)",
    "unlawful_processing": "processed against a law, regulation or agreement (PIPL art. 47 (1) 4)",
}
"""Why an erasure was made; the logged record carries the code."""
ERASED_STATUS = EmployeeStatus.ERASED
MAX_SUBJECT_CHARS = 128


@dataclass(frozen=True)
class Erasure:
    id: str
    leaf_index: int
    erased_at: datetime
    created: bool
    erased: dict[str, int]
    """What was erased, by table (returned to the operator, never logged)."""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "leaf_index": self.leaf_index,
            "erased_at": self.erased_at.isoformat(),
            "erased": self.erased,
        }


def _unlinkable() -> str:
    """A request hash no retry can ever match (the old one hashed the text)."""
    return sha256_hex(secrets.token_bytes(32))


def _activities(
    session: Session, subject_id: str, key: SubjectKeyRow | None, counts: dict[str, int]
) -> list[str]:
    rows = session.execute(select(ActivityRow).where(ActivityRow.subject_id == subject_id)).scalars().all()
    for row in rows:
        quantities = dict(row.quantities)
        for name in FREE_TEXT_QUANTITIES:
            value = quantities.get(name)
            if isinstance(value, str):
                quantities[name] = in_leaf(key, row.created_at, name, value)
                counts["texts"] += quantities[name] != value
        row.quantities = quantities
        row.request_hash = _unlinkable()
    counts["activities"] = len(rows)
    return [row.id for row in rows]


def _about_activities(
    session: Session, ids: list[str], key: SubjectKeyRow | None, counts: dict[str, int]
) -> None:
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for review in session.execute(select(ReviewRow).where(ReviewRow.activity_id.in_(chunk))).scalars():
            committed = in_leaf(key, review.decided_at, "reason", review.reason)
            counts["texts"] += committed != review.reason
            review.reason = committed or ""
        corrections = select(CorrectionRow).where(CorrectionRow.activity_id.in_(chunk))
        for correction in session.execute(corrections).scalars():
            committed = in_leaf(key, correction.created_at, "note", correction.note)
            counts["texts"] += committed != correction.note
            correction.note = committed
            correction.request_hash = _unlinkable()
        deliveries = select(IntegrationRecordRow).where(IntegrationRecordRow.activity_id.in_(chunk))
        for delivered in session.execute(deliveries).scalars():
            # the source's id of the trip, as in the leaf; a redelivery then finds no binding
            committed_id = in_leaf(key, delivered.received_at, "source_record_id", delivered.record_id)
            if committed_id is not None and committed_id != delivered.record_id:
                delivered.record_id = committed_id
                counts["texts"] += 1


def _rows(session: Session, statement: Any) -> int:
    """Rows an UPDATE or DELETE touched."""
    return int(cast(CursorResult[Any], session.execute(statement)).rowcount)


def _person(session: Session, subject_id: str, now: datetime, counts: dict[str, int]) -> bool:
    """Erases the employee's own rows; whether there was an employee."""
    account = ledger.employee_account(subject_id)
    involving = (PointsTransferRow.debit_account_id == account) | (
        PointsTransferRow.credit_account_id == account
    )
    noted = update(PointsTransferRow).where(involving, PointsTransferRow.note.is_not(None))
    counts["notes"] = _rows(session, noted.values(note=None))
    alias = delete(LeaderboardOptInRow).where(LeaderboardOptInRow.subject_id == subject_id)
    counts["leaderboard"] = _rows(session, alias)
    employee = session.get(EmployeeRow, subject_id)
    if employee is None:
        return False
    employee.employee_no = f"erased-{uuid.uuid4().hex[:16]}"
    employee.display_name = None
    employee.status = ERASED_STATUS
    counts["sign_in_links"] = _rows(
        session, delete(IdentityLinkRow).where(IdentityLinkRow.employee_id == subject_id)
    )
    bindings = session.execute(select(BindingRow).where(BindingRow.employee_id == subject_id)).scalars().all()
    for binding in bindings:
        binding.identifier_hash, binding.active_hash, binding.label = "erased", None, None
        binding.revoked_at = binding.revoked_at or now
    counts["bindings"] = len(bindings)
    session.execute(
        update(InvitationRow)
        .where(InvitationRow.employee_id == subject_id, InvitationRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    revocation.revoke_all_sessions(session, "employee", subject_id, "erased", now)
    return True


def erase_subject(db: Database, subject_id: str, basis: str, actor_role: str, now: datetime) -> Erasure:
    """Erases ``subject_id`` (an employee's id); erasing an erased person returns the first erasure."""
    subject_id = subject_id.strip()
    if not 1 <= len(subject_id) <= MAX_SUBJECT_CHARS:
        raise InvalidInput("subject", f"must be 1 to {MAX_SUBJECT_CHARS} characters")
    if basis not in BASES:
        raise InvalidInput("basis", f"must be one of {', '.join(BASES)}")
    with db.write_sessions() as session, session.begin():
        log = SqlLogStore(session)
        log.lock_head()
        key = session.get(SubjectKeyRow, subject_id, populate_existing=True)
        if key is not None and key.erasure_id is not None:
            assert key.erased_at is not None and key.erasure_leaf_index is not None
            return Erasure(key.erasure_id, key.erasure_leaf_index, key.erased_at, False, {})
        counts = {"activities": 0, "texts": 0}
        activity_ids = _activities(session, subject_id, key, counts)
        _about_activities(session, activity_ids, key, counts)
        was_employee = _person(session, subject_id, now, counts)
        if not was_employee and not activity_ids and key is None and not counts["leaderboard"]:
            raise NotFound(f"no employee or records of subject {subject_id}")
        erasure_id = str(uuid.uuid4())
        body = ErasureBody(basis=basis, erased_by_role=actor_role, erased_at=now.isoformat())
        leaf = encode(erasure_id, None, body)
        (leaf_index,) = log.append([PendingLeaf("erasure", erasure_id, leaf)], now)
        if key is None:
            key = SubjectKeyRow(subject_id=subject_id, created_at=now)
            session.add(key)
        key.key, key.erased_at = None, now
        key.erasure_id, key.erasure_leaf_index = erasure_id, leaf_index
    return Erasure(erasure_id, leaf_index, now, True, counts)
