"""Leases of the background roles: one process at a time runs each of them, elected in the database.

A role (``anchor``, ``feed``, ``expiry``, ``sequencer``) is held by whichever process took its lease row and
keeps renewing it; a lease not renewed for ``lease_s`` expires and the next process that asks
takes it over, with the epoch (a fencing number) one higher. Work a role does is checked against
the epoch just before it acts (:func:`still_holds`), so a holder that stalled past its lease and
lost it does not act on what it decided before.

The lease times are the database's clock on PostgreSQL (every process compares against one
clock), the process's on SQLite (one machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.orm_roles import RoleLeaseRow

ROLES = ("anchor", "feed", "expiry", "sequencer")
"""The background roles: anchoring checkpoints (the only sender of chain transactions), the park
platform's feed (outbox and scheduled snapshots), points expiry, and (``CARBON_SEQUENCING=queued``)
the sequencer that appends the queued leaves to the log."""


@dataclass(frozen=True)
class Lease:
    role: str
    holder: str
    epoch: int
    expires_at: datetime


def _now(session: Session) -> datetime:
    if session.get_bind().dialect.name == "postgresql":
        value: datetime = session.execute(select(func.now())).scalar_one()
        return value.astimezone(UTC)
    return datetime.now(UTC)


def acquire(db: Database, role: str, holder: str, lease_s: float) -> Lease | None:
    """Takes or renews ``role``'s lease for ``holder``; None while another holder's lease runs."""
    try:
        with db.write_sessions() as session, session.begin():
            now = _now(session)
            expires = now + timedelta(seconds=lease_s)
            row = session.get(RoleLeaseRow, role, with_for_update=True)
            if row is None:
                row = RoleLeaseRow(role=role, holder=holder, epoch=1, acquired_at=now, expires_at=expires)
                session.add(row)
            elif row.holder == holder and row.expires_at > now:
                row.expires_at = expires
            elif row.expires_at <= now:
                row.holder, row.epoch, row.acquired_at, row.expires_at = holder, row.epoch + 1, now, expires
            else:
                return None
            return Lease(role, holder, row.epoch, expires)
    except IntegrityError:
        return None  # another process created the row at the same moment: it holds the role


def still_holds(db: Database, lease: Lease) -> bool:
    """Whether ``lease`` is still the role's current one and unexpired (checked before acting)."""
    with db.read_sessions() as session:
        now = _now(session)
        row = session.get(RoleLeaseRow, lease.role)
        if row is None:
            return False
        return row.holder == lease.holder and row.epoch == lease.epoch and row.expires_at > now


def holds_in(session: Session, lease: Lease) -> bool:
    """``still_holds`` inside the caller's write transaction, with the lease row locked: a takeover
    cannot commit between this check and the caller's commit (the fence of what the role writes)."""
    now = _now(session)
    row = session.get(RoleLeaseRow, lease.role, with_for_update=True)
    if row is None:
        return False
    return row.holder == lease.holder and row.epoch == lease.epoch and row.expires_at > now


def release(db: Database, lease: Lease) -> None:
    """Gives ``lease`` up at once (a clean stop), so another process need not wait for it to expire."""
    with db.write_sessions() as session, session.begin():
        now = _now(session)
        session.execute(
            update(RoleLeaseRow)
            .where(
                RoleLeaseRow.role == lease.role,
                RoleLeaseRow.holder == lease.holder,
                RoleLeaseRow.epoch == lease.epoch,
            )
            .values(expires_at=now)
        )


def holders(db: Database) -> list[RoleLeaseRow]:
    """Every role's lease row (for status and tests)."""
    with db.read_sessions() as session:
        return list(session.execute(select(RoleLeaseRow).order_by(RoleLeaseRow.role)).scalars())
