"""Leases of the background roles (anchorer, feed, expiry): which process runs each one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.adapters.orm import Base


class RoleLeaseRow(Base):
    """One role's lease: its holder until ``expires_at``; ``epoch`` grows with every new holder."""

    __tablename__ = "role_leases"

    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    epoch: Mapped[int] = mapped_column(BigInteger)
    """The fencing number: work done under an older epoch is refused once a newer holder took over."""
    acquired_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
