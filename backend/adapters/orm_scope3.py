"""Tables of Scope 3 reporting: configured headcounts, period closes and the park-platform outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.adapters.orm import Base
from backend.adapters.orm_types import EnumText
from backend.domain.states import FeedDeliveryStatus


class TargetRow(Base):
    """The park's Scope 3 target for a calendar year (park time zone): the whole inventory
    (``category`` 0) or one category. Configuration like headcounts, not a ledger record."""

    __tablename__ = "scope3_targets"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    category: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    co2e_g: Mapped[int] = mapped_column(BigInteger)
    updated_by_role: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column()


class HeadcountRow(Base):
    """A company's headcount as configured by an operator or its admin (for participation shares)."""

    __tablename__ = "scope3_headcounts"

    org_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    headcount: Mapped[int] = mapped_column(Integer)
    updated_by_role: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column()


class PeriodCloseRow(Base):
    """Frozen totals of a closed period (revision 0) or a restatement of them (revision 1, 2, ...).

    The same document is logged as a ``period_close`` leaf in the same transaction, so the totals
    are covered by the next anchored checkpoint.
    """

    __tablename__ = "scope3_period_closes"
    __table_args__ = (UniqueConstraint("period", "revision", name="uq_scope3_period_revision"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    period: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    """``close`` or ``restatement``."""
    reason: Mapped[str | None] = mapped_column(String(500))
    cutoff_tree_size: Mapped[int] = mapped_column(BigInteger)
    """Log size at the close: the totals cover accepted activities with a smaller leaf index."""
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary_sha256: Mapped[str] = mapped_column(String(66))
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    closed_by_role: Mapped[str] = mapped_column(String(32))
    closed_at: Mapped[datetime] = mapped_column()


class FeedDeliveryRow(Base):
    """One push to the park platform, kept until delivered; retried with exponential backoff."""

    __tablename__ = "feed_outbox"
    __table_args__ = (Index("ix_feed_outbox_due", "status", "next_attempt_at"),)

    delivery_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event: Mapped[str] = mapped_column(String(32))
    """``period_close`` (frozen totals) or ``snapshot`` (provisional totals of an open period)."""
    period: Mapped[str] = mapped_column(String(16))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    """The exact bytes sent and signed (canonical JSON), identical on every retry."""
    status: Mapped[FeedDeliveryStatus] = mapped_column(EnumText(FeedDeliveryStatus, 16))
    """``pending`` or ``delivered``."""
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()


class PeriodSignoffRow(Base):
    """An auditor's sign-off of one revision of a period close, logged as a ``period_signoff`` leaf.

    The statement (free text) stays here only; the leaf carries its SHA-256."""

    __tablename__ = "scope3_period_signoffs"
    __table_args__ = (UniqueConstraint("close_id", "auditor_id", name="uq_scope3_signoff_close_auditor"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    close_id: Mapped[str] = mapped_column(String(36), ForeignKey("scope3_period_closes.id"))
    period: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer)
    opinion: Mapped[str] = mapped_column(String(16))
    statement: Mapped[str | None] = mapped_column(String(2000))
    auditor_id: Mapped[str] = mapped_column(String(128))
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    signed_at: Mapped[datetime] = mapped_column()
