"""Per-person commitment keys: created on first use, read to show stored records in leaf form.

A key is created inside the transaction that logs the person's first record carrying free text, so
the key and the leaf commit together. Records whose free text entered the log before the person
had a key (logged before commitments existed) still carry the text itself; :func:`leaf_form`
tells the two apart by the key's creation time, so they verify as they were logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adapters.orm_privacy import SubjectKeyRow
from backend.domain.errors import Conflict
from backend.domain.log.commitments import commit_text, new_subject_key


class SubjectErased(Conflict):
    """The person's data and key were erased: nothing new can be recorded about them."""


def key_for(session: Session, subject_id: str, now: datetime) -> bytes:
    """``subject_id``'s key, created now when they have none yet."""
    row = session.get(SubjectKeyRow, subject_id)
    if row is None:
        row = SubjectKeyRow(subject_id=subject_id, key=new_subject_key(), created_at=now, erased_at=None)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # another transaction created it first
            row = session.get(SubjectKeyRow, subject_id, populate_existing=True)
            assert row is not None
    if now < row.created_at:  # a backdated record (an import, the demo park): see in_leaf
        row.created_at = now
    if row.key is None:
        raise SubjectErased(f"subject {subject_id} was erased; nothing can be recorded about them")
    return row.key


def commit_for(session: Session, subject_id: str, field: str, text: str | None, now: datetime) -> str | None:
    """The commitment a leaf carries for ``text`` about ``subject_id`` (None for no text)."""
    if text is None:
        return None
    return commit_text(key_for(session, subject_id, now), field, text)


def keys_of(session: Session, subject_ids: Iterable[str]) -> dict[str, SubjectKeyRow]:
    """The key rows of the given subjects that have one (erased ones with ``key`` None)."""
    wanted = sorted(set(subject_ids))
    found: dict[str, SubjectKeyRow] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(SubjectKeyRow).where(SubjectKeyRow.subject_id.in_(chunk))
        found.update((row.subject_id, row) for row in session.execute(query).scalars())
    return found


def in_leaf(row: SubjectKeyRow | None, recorded_at: datetime, field: str, text: str | None) -> str | None:
    """What the leaf of a record stored at ``recorded_at`` carries for its free ``text`` in
    ``field``, given its owner's key row: the commitment; the text as stored when the person was
    erased (erasure replaced it by its commitment); the text itself for a record logged before the
    person had a key."""
    if text is None or row is None or row.created_at > recorded_at or row.key is None:
        return text
    return commit_text(row.key, field, text)
