"""Corrections: a reversal never edits the corrected record, it is a new logged record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.adapters.orm import Base


class CorrectionRow(Base):
    __tablename__ = "corrections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(36), unique=True)
    """At most one reversal per activity: a reversed record stays reversed."""
    reason_code: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(128))
    org_id: Mapped[str | None] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(66))
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column()
