"""Queued sequencing (``CARBON_SEQUENCING=queued``, PostgreSQL): accept in parallel, sequence once.

API processes store each activity and its issuance transfer with ``leaf_index`` NULL and queue
their leaves (``log_queue``) in the same transaction, without the log's head lock; one elected
sequencer (the ``sequencer`` role) appends the queued leaves in large batches and gives the records
their indices, here, in its own transaction. Screening that needs a consistent view of an employee
(daily caps, duplicates, cool-downs) holds the employee's advisory lock instead of the head lock.

The park issuance account is not updated by the accepting transactions (it would be one row every
request waits on): the sequencer applies the queued transfers' park-issuance side when it logs them,
so the account's totals always equal the logged transfers'
(:func:`backend.services.points.points.audit_ledger`
counts the queued ones as pending).

Lock order, kept by every transaction: employees' advisory locks, then the log head, then account
rows. A transaction holding the head lock never waits for an advisory lock.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from backend.adapters.database import Database
from backend.adapters.log_store import SEQUENCE_BATCH, Sequenced, SqlLogStore, on_sequenced
from backend.adapters.orm import ActivityRow
from backend.adapters.orm_points import PointsTransferRow
from backend.services.points.points import DEFERRED_ACCOUNTS, lock_accounts

logger = logging.getLogger(__name__)

QUEUED_KINDS: dict[str, type[ActivityRow] | type[PointsTransferRow]] = {
    "activity": ActivityRow,
    "points_transfer": PointsTransferRow,
}
"""The records that may wait in the queue, by leaf kind: their ``leaf_index`` is set when logged."""


POLL_S = 0.02
"""How long the sequencer sleeps when it found nothing queued."""


def queued(db: Database) -> bool:
    return db.sequencing == "queued"


def _set_indices(
    session: Session, table: type[ActivityRow] | type[PointsTransferRow], items: list[Sequenced]
) -> None:
    ids = [item.record_id for item in items]
    indices = [item.index for item in items]
    if session.get_bind().dialect.name == "postgresql":
        name = table.__tablename__
        session.execute(
            text(
                f"UPDATE {name} AS t SET leaf_index = v.idx "  # noqa: S608 (a table name of ours)
                "FROM unnest(CAST(:ids AS text[]), CAST(:idx AS bigint[])) AS v(id, idx) WHERE t.id = v.id"
            ),
            {"ids": ids, "idx": indices},
        )
    else:
        column = ActivityRow.id if table is ActivityRow else PointsTransferRow.id
        session.execute(
            update(table).where(column == bindparam("rid")).values(leaf_index=bindparam("ix")),
            [{"rid": rid, "ix": idx} for rid, idx in zip(ids, indices, strict=True)],
        )


def _post_deferred(session: Session, transfer_ids: list[str], now: datetime) -> None:
    """Posts the deferred accounts' side of the transfers just logged."""
    moved: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for start in range(0, len(transfer_ids), 1000):
        chunk = transfer_ids[start : start + 1000]
        rows = session.execute(
            select(
                PointsTransferRow.debit_account_id,
                PointsTransferRow.credit_account_id,
                PointsTransferRow.amount,
            ).where(PointsTransferRow.id.in_(chunk))
        ).all()
        for debit, credit, amount in rows:
            if debit in DEFERRED_ACCOUNTS:
                moved[debit][0] += int(amount)
            if credit in DEFERRED_ACCOUNTS:
                moved[credit][1] += int(amount)
    if not moved:
        return
    accounts = lock_accounts(session, moved, now)
    for account_id, (debits, credits) in moved.items():
        accounts[account_id].debits_posted += debits
        accounts[account_id].credits_posted += credits


def _on_sequenced(session: Session, done: list[Sequenced]) -> None:
    by_kind: dict[str, list[Sequenced]] = defaultdict(list)
    for item in done:
        by_kind[item.kind].append(item)
    unknown = set(by_kind) - set(QUEUED_KINDS)
    if unknown:
        raise RuntimeError(f"queued leaves of kinds no record owns: {sorted(unknown)}")
    for kind, items in by_kind.items():
        _set_indices(session, QUEUED_KINDS[kind], items)
    # Rows this session already holds see their index as if read after the update.
    index_of = {(item.kind, item.record_id): item.index for item in done}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, ActivityRow):
            key = ("activity", obj.id)
        elif isinstance(obj, PointsTransferRow):
            key = ("points_transfer", obj.id)
        else:
            continue
        if key in index_of:
            set_committed_value(obj, "leaf_index", index_of[key])
    transfers = [item.record_id for item in by_kind.get("points_transfer", [])]
    if transfers:
        _post_deferred(session, transfers, datetime.now(UTC))


def install() -> None:
    """Makes this module the owner of queued leaves' indices (idempotent). Every runtime with queued
    sequencing calls it (:func:`backend.bootstrap.startup.build_runtime`): a process that only
    appends inline — a command such as an erasure — must give queued records their indices too."""
    on_sequenced(_on_sequenced)


install()


def sequence_once(db: Database, limit: int = SEQUENCE_BATCH) -> int:
    """One sequencing transaction: up to ``limit`` queued leaves appended; how many."""
    with db.write_sessions() as session, session.begin():
        return SqlLogStore(session).sequence(limit, datetime.now(UTC))


def queue_length(db: Database) -> int:
    with db.read_sessions() as session:
        return SqlLogStore(session).queue_length()


def run_for(db: Database, seconds: float, stop: threading.Event | None = None) -> int:
    """Sequences for about ``seconds`` (the sequencer role's job: it runs again while elected),
    batch after batch while leaves wait, polling every :data:`POLL_S` when none do; how many."""
    stop = stop or threading.Event()
    deadline = datetime.now(UTC).timestamp() + seconds
    total = 0
    while not stop.is_set() and datetime.now(UTC).timestamp() < deadline:
        appended = sequence_once(db)
        total += appended
        if appended:
            logger.debug("sequenced %d queued leaves", appended)
        if appended < SEQUENCE_BATCH:
            stop.wait(POLL_S)
    return total
