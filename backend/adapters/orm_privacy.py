"""Per-person key material for commitments to free text (see :mod:`backend.domain.log.commitments`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.adapters.orm import Base


class SubjectKeyRow(Base):
    """One person's commitment key, created on first use. Erasure sets ``key`` to NULL and stamps
    ``erased_at``; the row stays so that records of an erased person are known to hold
    commitments where their text was."""

    __tablename__ = "subject_keys"

    subject_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column()
    erased_at: Mapped[datetime | None] = mapped_column()
    erasure_id: Mapped[str | None] = mapped_column(String(36))
    """The logged ``erasure`` record (its leaf holds nothing personal: no subject, no counts)."""
    erasure_leaf_index: Mapped[int | None] = mapped_column(BigInteger)
