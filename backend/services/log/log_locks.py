"""Locks of a recording transaction: the log head when leaves are appended inline; per-name
advisory locks (an employee, an integration source) when they are queued for the sequencer.

Every use case that records takes its locks here, before the head lock (lock order in
``backend/services/recording/sequencing.py``); it knows no feature, only names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.adapters.log_store import SqlLogStore

ADVISORY_NAMESPACE = b"carbon-ledger:"


def session_queued(session: Session) -> bool:
    return SqlLogStore(session).queued


def _advisory_key(name: str) -> int:
    digest = hashlib.sha256(ADVISORY_NAMESPACE + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def advisory_locks(session: Session, names: Iterable[str]) -> None:
    """Holds an advisory lock per name until the transaction ends (queued sequencing on
    PostgreSQL; otherwise nothing: the head lock serializes). Taken in key order in one statement,
    so two transactions never wait on each other in a cycle; re-taking one already held is free."""
    if not session_queued(session) or session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({_advisory_key(name) for name in names})
    if keys:
        session.execute(
            text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"),
            {"keys": keys},
        )


def lock_employees(session: Session, subject_ids: Iterable[str]) -> None:
    """Serializes the transactions that screen or issue for the same employees (caps, duplicates,
    cool-downs), across processes, under queued sequencing; taken before the head lock."""
    advisory_locks(session, (f"employee:{subject}" for subject in subject_ids))


def begin_recording(session: Session, names: Iterable[str] = ()) -> None:
    """Starts a recording transaction: inline, the log head lock (it serializes everything);
    queued, only the advisory locks of ``names`` (the employees' come with their drafts)."""
    if session_queued(session):
        advisory_locks(session, names)
    else:
        SqlLogStore(session).lock_head()
