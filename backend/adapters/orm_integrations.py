"""Tables of data-source integrations and of green-behaviour recognition: trusted sources and
their secrets, every record a source delivered (idempotency by the source's record id), recent
signatures (replay rejection), activity footprints (duplicate detection) and review decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.adapters.orm import Base
from backend.adapters.orm_types import EnumText
from backend.domain.states import IntegrationOutcome


class IntegrationSourceRow(Base):
    __tablename__ = "integration_sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    binding_kind: Mapped[str] = mapped_column(String(32))
    activity_types: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(128))
    """HMAC key of the source's deliveries; the verifier needs it, so it is kept, not hashed."""
    previous_secret: Mapped[str | None] = mapped_column(String(128))
    previous_valid_until: Mapped[datetime | None] = mapped_column()
    max_records_per_min: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()


class IntegrationRecordRow(Base):
    """One record a source delivered, keyed by the source's own record id."""

    __tablename__ = "integration_records"
    __table_args__ = (Index("ix_integration_records_received", "source_id", "received_at"),)

    source_id: Mapped[str] = mapped_column(String(64), ForeignKey("integration_sources.id"), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(66))
    outcome: Mapped[IntegrationOutcome] = mapped_column(EnumText(IntegrationOutcome, 16))
    activity_id: Mapped[str | None] = mapped_column(String(36))
    field: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column()


class WebhookSignatureRow(Base):
    """Deliveries admitted recently, by signature: a second delivery with one is a replay; the
    record counts give the source's rate."""

    __tablename__ = "webhook_signatures"
    __table_args__ = (Index("ix_webhook_signatures_received", "received_at"),)

    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    records: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column()


class FootprintRow(Base):
    """An activity's footprint (who, mode family, when, how much) for duplicate detection."""

    __tablename__ = "activity_footprints"
    __table_args__ = (Index("ix_activity_footprints_subject_started", "subject_id", "started_at"),)

    activity_id: Mapped[str] = mapped_column(String(36), ForeignKey("activities.id"), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(128))
    family: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    magnitude: Mapped[str | None] = mapped_column(String(32))
    """Exact decimal as text (distance in km, weight in kg…)."""
    source: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[str] = mapped_column(String(16))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()


class ReviewRow(Base):
    """A company admin's decision on a flagged activity; logged as a ``review`` leaf."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_company", "company_id", "decided_at"),)

    activity_id: Mapped[str] = mapped_column(String(36), ForeignKey("activities.id"), primary_key=True)
    company_id: Mapped[str | None] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    reviewer: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column()
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)


class BindingCodeRow(Base):
    """A one-time code a source issued for one of its accounts (a card, a bike account): the
    employee who presents it with the account's number proves they hold it. Stored as a hash;
    the account only as its keyed hash."""

    __tablename__ = "binding_codes"
    __table_args__ = (Index("ix_binding_codes_identifier", "kind", "identifier_hash"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), ForeignKey("integration_sources.id"))
    kind: Mapped[str] = mapped_column(String(32))
    identifier_hash: Mapped[str] = mapped_column(String(66))
    code_hash: Mapped[str] = mapped_column(String(66))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
