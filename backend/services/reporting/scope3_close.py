"""Use case: close a reporting period (freeze its totals) or restate a closed one.

One write transaction computes the park summary at the current log size, stores it, appends it to
the transparency log as a ``period_close`` leaf (so the next anchored checkpoint covers the frozen
totals) and queues the push to the park platform in the outbox. Records that arrive for a closed
period later are never folded in silently: the summary shows them as changes since the close,
and an explicit restatement (a new revision, with a reason, logged the same way) takes them in.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm_scope3 import PeriodCloseRow, PeriodSignoffRow
from backend.domain.accounting.scope3 import Period
from backend.domain.canonical import canonical_json, sha256_hex
from backend.domain.errors import Conflict, InvalidInput, NotFound
from backend.domain.log import tiles
from backend.domain.log.record_kinds import PeriodCloseBody, PeriodSignoffBody, encode
from backend.domain.log.records import subject_commitment
from backend.domain.states import PeriodStatus
from backend.services.accounting.scope3 import Scope3Config, close_public, compute, latest_close
from backend.services.integrations import feed
from backend.services.log import subject_keys

MAX_REASON_LENGTH = 500
"""A restatement's reason is read by auditors: a paragraph, not a document."""


def _category_figures(block: dict[str, Any]) -> dict[int, tuple[int, int]]:
    categories = (block.get("inventory") or {}).get("categories") or []
    return {int(c["category"]): (int(c["co2e_g"]), int(c["records"])) for c in categories}


def restatement_changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Per scope (the park, then each company) and Scope 3 category whose figures a restatement
    changes: grams and records before (the superseded revision) and after."""
    scopes: dict[str | None, tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]]] = {}
    for document, side in ((before, 0), (after, 1)):
        blocks = [(None, document.get("park") or {})] + [
            (str(b.get("company")), b) for b in document.get("companies") or []
        ]
        for company, block in blocks:
            scopes.setdefault(company, ({}, {}))[side].update(_category_figures(block))
    changes = []
    for company, (old, new) in scopes.items():
        for category in sorted(old.keys() | new.keys()):
            (old_g, old_n), (new_g, new_n) = old.get(category, (0, 0)), new.get(category, (0, 0))
            if (old_g, old_n) != (new_g, new_n):
                changes.append(
                    {
                        "company": company,
                        "category": category,
                        "before": {"co2e_g": old_g, "records": old_n},
                        "after": {"co2e_g": new_g, "records": new_n},
                    }
                )
    return changes


def close_leaf(close_id: str, subject: str, body: PeriodCloseBody) -> bytes:
    """The close's leaf: with its summary when the leaf still fits one tile entry (C2SP tlog-tiles
    prefixes each entry with a 16-bit length), else with ``summary`` null — the summary is then
    read from the audit records, where ``summary_sha256`` in the leaf vouches for it."""
    leaf = encode(close_id, subject, body)
    if len(leaf) <= tiles.MAX_ENTRY_BYTES:
        return leaf
    leaf = encode(close_id, subject, dataclasses.replace(body, summary=None))
    if len(leaf) > tiles.MAX_ENTRY_BYTES:
        raise Conflict(
            f"the restatement changes {len(body.changes)} figures, too many for one log entry "
            f"({len(leaf)} bytes, at most {tiles.MAX_ENTRY_BYTES}); restate the period per quarter or month "
            f"/ 本次重述变更的数据过多（{len(body.changes)} 项），无法写入一条日志记录，"
            "请按季度或月份分别重述"
        )
    return leaf


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
        body = PeriodCloseBody(
            period=period.label,
            kind="restatement" if restate else "close",
            revision=revision,
            supersedes=previous.id if previous is not None else None,
            reason=subject_keys.commit_for(session, closer_subject, "reason", reason, now),
            cutoff_tree_size=size,
            closed_at=now.isoformat(),
            closed_by_role=closer_role,
            summary_sha256=digest,
            summary=summary,
            changes=[] if previous is None else restatement_changes(previous.summary, summary),
        )
        subject = subject_commitment(subject_key, closer_subject)
        leaf = close_leaf(close_id, subject, body)
        (leaf_index,) = log.append([PendingLeaf("period_close", close_id, leaf)], now)
        row = PeriodCloseRow(
            id=close_id,
            period=period.label,
            revision=revision,
            kind=body.kind,
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
            document={**close_public(row), "status": PeriodStatus.CLOSED, "summary": summary},
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


OPINIONS = ("unqualified", "qualified", "adverse", "disclaimer")
"""An auditor's opinion on a period's figures (ISO 14064-3 / ISAE 3410 wording)."""
MAX_STATEMENT_LENGTH = 2000


def signoff_public(row: PeriodSignoffRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "period": row.period,
        "close_id": row.close_id,
        "revision": row.revision,
        "opinion": row.opinion,
        "statement": row.statement,
        "leaf_index": row.leaf_index,
        "signed_at": row.signed_at.isoformat(),
        "receipt_url": f"/audit/v1/receipts/{row.leaf_index}",
    }


def sign_off(
    db: Database,
    period: Period,
    revision: int | None,
    opinion: str,
    statement: str | None,
    auditor: str,
    subject_key: bytes,
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Logs an auditor's sign-off of a period close (the latest revision unless ``revision`` is
    given). The same sign-off again returns the first (created False); another opinion by the same
    auditor on the same revision is a conflict. The statement stays in the database; the leaf
    carries its commitment under the auditor's key."""
    if opinion not in OPINIONS:
        raise InvalidInput("opinion", f"must be one of {', '.join(OPINIONS)}")
    statement = statement.strip() if statement else None
    if statement is not None and len(statement) > MAX_STATEMENT_LENGTH:
        raise InvalidInput("statement", f"must be at most {MAX_STATEMENT_LENGTH} characters")
    now = now or datetime.now(UTC)
    with db.write_sessions() as session, session.begin():
        log = SqlLogStore(session)
        log.lock_head()
        stmt = select(PeriodCloseRow).where(PeriodCloseRow.period == period.label)
        if revision is None:
            close = latest_close(session, period)
        else:
            close = session.execute(stmt.where(PeriodCloseRow.revision == revision)).scalar_one_or_none()
        if close is None:
            what = period.label if revision is None else f"revision {revision} of {period.label}"
            raise NotFound(f"{what} is not closed; nothing to sign off")
        existing = session.execute(
            select(PeriodSignoffRow).where(
                PeriodSignoffRow.close_id == close.id, PeriodSignoffRow.auditor_id == auditor
            )
        ).scalar_one_or_none()
        if existing is not None:
            if (existing.opinion, existing.statement) == (opinion, statement):
                return signoff_public(existing), False
            raise Conflict(
                f"you signed off revision {close.revision} of {period.label} already ({existing.opinion})"
            )
        signoff_id = str(uuid.uuid4())
        body = PeriodSignoffBody(
            period=close.period,
            close=close.id,
            close_leaf=close.leaf_index,
            revision=close.revision,
            summary_sha256=close.summary_sha256,
            opinion=opinion,
            statement=subject_keys.commit_for(session, auditor, "statement", statement, now),
            signed_at=now.isoformat(),
        )
        leaf = encode(signoff_id, subject_commitment(subject_key, auditor), body)
        (leaf_index,) = log.append([PendingLeaf("period_signoff", signoff_id, leaf)], now)
        row = PeriodSignoffRow(
            id=signoff_id,
            close_id=close.id,
            period=close.period,
            revision=close.revision,
            opinion=opinion,
            statement=statement,
            auditor_id=auditor,
            leaf_index=leaf_index,
            signed_at=now,
        )
        session.add(row)
        return signoff_public(row), True


def list_signoffs(db: Database, period: Period) -> list[dict[str, Any]]:
    with db.read_sessions() as session:
        stmt = (
            select(PeriodSignoffRow)
            .where(PeriodSignoffRow.period == period.label)
            .order_by(PeriodSignoffRow.leaf_index)
        )
        return [signoff_public(r) for r in session.execute(stmt).scalars()]
