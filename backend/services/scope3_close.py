"""Use case: close a reporting period (freeze its totals) or restate a closed one.

One write transaction computes the park summary at the current log size, stores it, appends it to
the transparency log as a ``period_close`` leaf (so the next anchored checkpoint covers the frozen
totals) and queues the push to the park platform in the outbox. Records that arrive for a closed
period later are never folded in silently: the summary shows them as changes since the close,
and an explicit restatement (a new revision, with a reason, logged the same way) takes them in.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm_scope3 import PeriodCloseRow
from backend.domain.errors import Conflict, InvalidInput
from backend.domain.records import canonical_json, leaf_bytes, new_salt, sha256_hex, subject_commitment
from backend.domain.scope3 import Period
from backend.services import feed, subject_keys
from backend.services.scope3 import Scope3Config, close_public, compute, latest_close

MAX_REASON_LENGTH = 500
"""A restatement's reason is read by auditors: a paragraph, not a document."""


def _record(
    db: Database,
    period: Period,
    config: Scope3Config,
    closer_role: str,
    closer_subject: str,
    subject_key: bytes,
    now: datetime,
    reason: str | None,
    restate: bool,
) -> dict[str, Any]:
    _, end = period.bounds(config.tz)
    if now < end:
        raise InvalidInput("period", f"{period.label} has not ended yet (it ends at {end.isoformat()})")
    with db.write_sessions() as session, session.begin():
        log = SqlLogStore(session)
        size = log.lock_head()
        previous = latest_close(session, period)
        if previous is not None and not restate:
            raise Conflict(
                f"{period.label} was closed at {previous.closed_at.isoformat()}; "
                "late data goes into an explicit restatement"
            )
        if previous is None and restate:
            raise Conflict(f"{period.label} is not closed; close it before restating it")
        revision = 0 if previous is None else previous.revision + 1
        summary = compute(session, period, config, size, now, extrapolate=True)
        digest = sha256_hex(canonical_json(summary))
        close_id = str(uuid.uuid4())
        body = {
            "period": period.label,
            "kind": "restatement" if restate else "close",
            "revision": revision,
            "supersedes": previous.id if previous is not None else None,
            "reason": subject_keys.commit_for(session, closer_subject, "reason", reason, now),
            "cutoff_tree_size": size,
            "closed_at": now.isoformat(),
            "closed_by_role": closer_role,
            "summary_sha256": digest,
            "summary": summary,
        }
        subject = subject_commitment(subject_key, closer_subject)
        leaf = leaf_bytes("period_close", close_id, new_salt(), subject, body)
        (leaf_index,) = log.append([PendingLeaf("period_close", close_id, leaf)], now)
        row = PeriodCloseRow(
            id=close_id,
            period=period.label,
            revision=revision,
            kind=body["kind"],
            reason=reason,
            cutoff_tree_size=size,
            summary=summary,
            summary_sha256=digest,
            leaf_index=leaf_index,
            closed_by_role=closer_role,
            closed_at=now,
        )
        session.add(row)
        feed.enqueue(
            session,
            delivery_id=str(uuid.uuid5(feed.DELIVERY_NAMESPACE, f"period_close/{period.label}/{revision}")),
            event="period_close",
            period=period.label,
            document={**close_public(row), "status": "closed", "summary": summary},
            now=now,
        )
        return close_public(row)


def close_period(
    db: Database,
    period: Period,
    config: Scope3Config,
    closer_role: str,
    closer_subject: str,
    subject_key: bytes,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Freezes the period's totals; refused before the period ends and if it is already closed."""
    now = now or datetime.now(UTC)
    return _record(db, period, config, closer_role, closer_subject, subject_key, now, None, restate=False)


def restate_period(
    db: Database,
    period: Period,
    config: Scope3Config,
    reason: str,
    closer_role: str,
    closer_subject: str,
    subject_key: bytes,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Records a new revision of a closed period's totals, taking in everything logged since."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput("reason", f"must be 1 to {MAX_REASON_LENGTH} characters")
    now = now or datetime.now(UTC)
    return _record(db, period, config, closer_role, closer_subject, subject_key, now, reason, restate=True)


def list_closes(db: Database) -> list[dict[str, Any]]:
    with db.read_sessions() as session:
        stmt = select(PeriodCloseRow).order_by(
            PeriodCloseRow.closed_at.desc(), PeriodCloseRow.revision.desc()
        )
        return [close_public(r) for r in session.execute(stmt).scalars()]
