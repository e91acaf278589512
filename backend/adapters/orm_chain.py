"""Tables of the chain's identity: incidents (the chain is not the anchored one) and moves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.adapters.orm import Base
from backend.adapters.orm_types import EnumText
from backend.domain.states import ChainCheckState, ChainMoveState


class ChainIncidentRow(Base):
    """A period during which the chain failed the identity check and anchoring stopped."""

    __tablename__ = "chain_incidents"
    __table_args__ = (Index("ix_chain_incidents_open", "chain_id", "contract", "cleared_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract: Mapped[str] = mapped_column(String(42))
    state: Mapped[ChainCheckState] = mapped_column(EnumText(ChainCheckState, 24))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    detected_at: Mapped[datetime] = mapped_column()
    cleared_at: Mapped[datetime | None] = mapped_column()
    resolution: Mapped[str | None] = mapped_column(String(200))


class ChainMoveRow(Base):
    """The ledger's history re-anchored onto another contract (``move``) or the same (``catch_up``)."""

    __tablename__ = "chain_moves"
    __table_args__ = (Index("ix_chain_moves_state", "state"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    state: Mapped[ChainMoveState] = mapped_column(EnumText(ChainMoveState, 16))
    """``started`` → ``completed``; ``abandoned`` when the target chain failed during the move."""
    mode: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    from_chain_id: Mapped[int | None] = mapped_column(BigInteger)
    from_contract: Mapped[str | None] = mapped_column(String(42))
    to_chain_id: Mapped[int] = mapped_column(BigInteger)
    to_contract: Mapped[str] = mapped_column(String(42))
    old_manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    new_manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    checkpoints: Mapped[int] = mapped_column(Integer)
    tree_size: Mapped[int | None] = mapped_column(BigInteger)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
