"""Published emission factor sets: each version with its content, hash and log leaf.

Built-in sets ship with the code (``emission_factors/sets``); the sets operators publish live
here. A row is never updated: a correction is a new version with a later effective date.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.adapters.orm import Base


class FactorSetRow(Base):
    __tablename__ = "factor_sets"
    __table_args__ = (Index("ix_factor_sets_effective_from", "effective_from", unique=True),)

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    effective_from: Mapped[datetime] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of the canonical content, as anchored in checkpoint metas."""
    content: Mapped[str] = mapped_column(Text)
    """The methodology document and factor rows (JSON) that the hash covers."""
    description: Mapped[str] = mapped_column(String(500))
    origin: Mapped[str] = mapped_column(String(16))
    """``api`` or ``cli``."""
    published_by: Mapped[str] = mapped_column(String(66))
    """Salted commitment of the operator who published it (no raw identifier)."""
    published_at: Mapped[datetime] = mapped_column()
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)
