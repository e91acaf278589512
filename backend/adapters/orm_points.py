"""Tables of the carbon points ledger, the rules, the rewards catalogue and the leaderboard opt-ins.

Each account row carries its posted totals (TigerBeetle's ``debits_posted`` / ``credits_posted``),
updated in the same transaction as the transfer that moves them, so a balance is one row read and
the row is what a redemption locks. A CHECK constraint refuses any overdraft of an account other
than the park issuance account: the database itself stops a negative balance should a code path
ever forget to check. :func:`backend.services.points.points.audit_ledger` recomputes every total from the
transfers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.adapters.orm import Base
from backend.adapters.orm_types import EnumText
from backend.domain.states import RedemptionStatus


class PointsAccountRow(Base):
    __tablename__ = "points_accounts"
    __table_args__ = (
        CheckConstraint(
            "kind = 'park_issuance' OR debits_posted <= credits_posted",
            name="ck_points_accounts_no_overdraft",
        ),
        CheckConstraint("debits_posted >= 0 AND credits_posted >= 0", name="ck_points_accounts_totals"),
        Index("ix_points_accounts_org_kind", "org_id", "kind"),
    )

    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    owner_id: Mapped[str | None] = mapped_column(String(128))
    """The employee's subject id or the company's id; none for park accounts."""
    org_id: Mapped[str | None] = mapped_column(String(128))
    debits_posted: Mapped[int] = mapped_column(BigInteger)
    credits_posted: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column()


class PointsTransferRow(Base):
    __tablename__ = "points_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_points_transfers_amount"),
        CheckConstraint("debit_account_id <> credit_account_id", name="ck_points_transfers_accounts"),
        Index("ix_points_transfers_debit", "debit_account_id", "leaf_index"),
        Index("ix_points_transfers_credit", "credit_account_id", "leaf_index"),
        Index("ix_points_transfers_kind_created", "kind", "created_at"),
        Index("ix_points_transfers_reverses", "reverses_id"),
        Index("ix_points_transfers_activity", "activity_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    debit_account_id: Mapped[str] = mapped_column(String(160), ForeignKey("points_accounts.id"))
    credit_account_id: Mapped[str] = mapped_column(String(160), ForeignKey("points_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(32))
    reverses_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("points_transfers.id"))
    activity_id: Mapped[str | None] = mapped_column(String(36))
    redemption_id: Mapped[str | None] = mapped_column(String(36))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    """What is logged besides the fields: rules versions applied, caps hit, reward name (no personal data)."""
    note: Mapped[str | None] = mapped_column(String(500))
    """An operator's free text on a correction: kept here only, never logged (it may name people)."""
    created_by: Mapped[str | None] = mapped_column(String(128))
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    """None until the sequencer logs it (``CARBON_SEQUENCING=queued``); always set inline."""
    created_at: Mapped[datetime] = mapped_column()


class PointsRulesRow(Base):
    """The park's rules document (scope ``park``) or a company's overrides (``company:<id>``)."""

    __tablename__ = "points_rules"

    scope: Mapped[str] = mapped_column(String(140), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column()
    leaf_index: Mapped[int] = mapped_column(BigInteger)


class RewardRow(Base):
    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="ck_rewards_stock"),
        CheckConstraint("price_points > 0", name="ck_rewards_price"),
        UniqueConstraint("created_by", "idempotency_key", name="uq_rewards_creator_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(1000))
    price_points: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(BigInteger)
    """Units left: decremented by a redemption, restored by its cancellation."""
    per_employee_limit: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None] = mapped_column()
    valid_until: Mapped[datetime | None] = mapped_column()
    companies: Mapped[list[str] | None] = mapped_column(JSON)
    owner_org: Mapped[str | None] = mapped_column(String(128))
    """The company that offers it (its admins manage it); none for park-wide rewards."""
    merchant: Mapped[str | None] = mapped_column(String(64))
    """The merchant (a staff account's organisation) that accepts its vouchers; none: no till."""
    cancel_window_s: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_hash: Mapped[str | None] = mapped_column(String(66))
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class RedemptionRow(Base):
    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("subject_id", "idempotency_key", name="uq_redemptions_subject_key"),
        Index("ix_redemptions_subject_reward", "subject_id", "reward_id", "status"),
        Index("ix_redemptions_subject_created", "subject_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(128))
    org_id: Mapped[str | None] = mapped_column(String(128))
    reward_id: Mapped[str] = mapped_column(String(36), ForeignKey("rewards.id"))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(66))
    price_points: Mapped[int] = mapped_column(BigInteger)
    voucher_code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[RedemptionStatus] = mapped_column(EnumText(RedemptionStatus, 16))
    transfer_id: Mapped[str] = mapped_column(String(36))
    refund_transfer_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column()
    cancel_deadline: Mapped[datetime] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    """After this a merchant refuses the voucher (none: vouchers issued before expiry existed)."""
    used_at: Mapped[datetime | None] = mapped_column()
    used_by: Mapped[str | None] = mapped_column(String(128))
    use_leaf_index: Mapped[int | None] = mapped_column(BigInteger)


class LeaderboardOptInRow(Base):
    """Employees who chose to appear on leaderboards, under a pseudonym."""

    __tablename__ = "leaderboard_optins"
    __table_args__ = (Index("ix_leaderboard_optins_org_dept", "org_id", "department_id"),)

    subject_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    org_id: Mapped[str | None] = mapped_column(String(128))
    department_id: Mapped[str | None] = mapped_column(String(128))
    alias: Mapped[str | None] = mapped_column(String(32))
    opted_in_at: Mapped[datetime] = mapped_column()
