"""Witness cosignatures the log collected for its checkpoints (c2sp.org/tlog-witness, client side)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.adapters.orm import Base


class CosignatureRow(Base):
    """One witness's cosignature line over the checkpoint (origin, tree size, root)."""

    __tablename__ = "log_cosignatures"
    __table_args__ = (
        UniqueConstraint("origin", "tree_size", "witness", "key_id", name="uq_log_cosignatures"),
        Index("ix_log_cosignatures_size", "tree_size"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(255))
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    witness: Mapped[str] = mapped_column(String(255))
    """The witness's key name."""
    key_id: Mapped[str] = mapped_column(String(8))
    line: Mapped[str] = mapped_column(String(400))
    """The signature line exactly as the witness returned it (``— name base64``)."""
    timestamp_s: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column()
