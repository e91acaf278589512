"""Database tables (SQLAlchemy 2 declarative). Schema changes go through Alembic migrations in
``backend/migrations``; these classes must match the latest migration (a test checks it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backend.adapters.orm_types import EnumText
from backend.domain.states import ActivityStatus, CheckpointState


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as UTC; SQLite keeps no offset, so it is re-attached on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: attach a UTC offset")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class ActivityRow(Base):
    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("subject_id", "idempotency_key", name="uq_activities_subject_key"),
        Index("ix_activities_subject_created", "subject_id", "created_at"),
        Index("ix_activities_org_occurred", "org_id", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(128))
    org_id: Mapped[str | None] = mapped_column(String(128))
    department_id: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(66))
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column()
    quantities: Mapped[dict[str, Any]] = mapped_column(JSON)
    co2e_avoided_g: Mapped[int] = mapped_column(BigInteger)
    co2e_scope3_g: Mapped[int] = mapped_column(BigInteger)
    scope3_category: Mapped[int | None] = mapped_column(SmallInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    factor_set: Mapped[str] = mapped_column(String(64))
    calculation: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[ActivityStatus] = mapped_column(EnumText(ActivityStatus, 16))
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    """None until the sequencer logs it (``CARBON_SEQUENCING=queued``); always set inline."""
    created_at: Mapped[datetime] = mapped_column()
    # The Scope 3 grams by gas, as calculation.scope3_by_gas logged them (CO2e per gas, each
    # rounded on its own); all null for a set without the split (park-default-2026.1).
    scope3_co2_g: Mapped[int | None] = mapped_column(BigInteger, default=None)
    scope3_ch4_g: Mapped[int | None] = mapped_column(BigInteger, default=None)
    scope3_n2o_g: Mapped[int | None] = mapped_column(BigInteger, default=None)
    scope3_unsplit_g: Mapped[int | None] = mapped_column(BigInteger, default=None)


class LogHeadRow(Base):
    """One row holding the log's size; locking it serializes appenders on every database."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)


class LogLeafRow(Base):
    __tablename__ = "log_leaves"
    __table_args__ = (Index("ix_log_leaves_record", "kind", "record_id"),)

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column()


class LogQueueRow(Base):
    """A leaf accepted but not yet in the log (``CARBON_SEQUENCING=queued``): the sequencer appends
    queued leaves in ``id`` order and deletes them in the same transaction."""

    __tablename__ = "log_queue"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), Identity(always=False), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    leaf: Mapped[bytes] = mapped_column(LargeBinary)


class LogNodeRow(Base):
    """Perfect subtree (level, index): hash of leaves [index·2^level, (index+1)·2^level)."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class CheckpointRow(Base):
    """A checkpoint and its anchoring state machine: prepared → sent → confirmed (or failed)."""

    __tablename__ = "checkpoints"
    __table_args__ = (
        Index("ix_checkpoints_chain_seq", "chain_id", "contract", "seq"),
        Index("ix_checkpoints_state", "state"),
        Index("ix_checkpoints_tree_size", "tree_size"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract: Mapped[str] = mapped_column(String(42))
    seq: Mapped[int] = mapped_column(BigInteger)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    meta: Mapped[bytes] = mapped_column(LargeBinary)
    meta_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    state: Mapped[CheckpointState] = mapped_column(EnumText(CheckpointState, 16))
    signer: Mapped[str | None] = mapped_column(String(42))
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    raw_tx: Mapped[bytes | None] = mapped_column(LargeBinary)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    sent_block: Mapped[int | None] = mapped_column(BigInteger)
    """Chain height when the current transaction was broadcast: a stuck one is re-priced later."""
    confirmed_at: Mapped[datetime | None] = mapped_column()


# Tables of the other modules register on Base.metadata when imported (Alembic and the app see them).
from backend.adapters import (  # noqa: E402, F401
    orm_chain,
    orm_corrections,
    orm_factors,
    orm_identity,
    orm_integrations,
    orm_points,
    orm_privacy,
    orm_roles,
    orm_scope3,
    orm_witness,
)
