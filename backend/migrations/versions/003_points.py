"""Carbon points: accounts, transfers, issuance rules, rewards, redemptions, leaderboard opt-ins.

Revision ID: 003 (before December 2026: 0005)
Revises: 002
Create Date: 2026-11-25
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "003"
down_revision = "002"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    accounts = op.create_table(
        "points_accounts",
        sa.Column("id", sa.String(160), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=True),
        sa.Column("org_id", sa.String(128), nullable=True),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.CheckConstraint(
            "kind = 'park_issuance' OR debits_posted <= credits_posted",
            name="ck_points_accounts_no_overdraft",
        ),
        sa.CheckConstraint("debits_posted >= 0 AND credits_posted >= 0", name="ck_points_accounts_totals"),
    )
    op.create_index("ix_points_accounts_org_kind", "points_accounts", ["org_id", "kind"])
    now = datetime.now(UTC)
    op.bulk_insert(
        accounts,
        [
            {"id": account, "kind": kind, "owner_id": None, "org_id": None, "debits_posted": 0,
             "credits_posted": 0, "created_at": now}
            for account, kind in (
                ("park:issuance", "park_issuance"),
                ("park:redemptions", "redemption_sink"),
                ("park:expired", "expiry_sink"),
            )
        ],
    )  # fmt: skip
    op.create_table(
        "points_transfers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("debit_account_id", sa.String(160), sa.ForeignKey("points_accounts.id"), nullable=False),
        sa.Column("credit_account_id", sa.String(160), sa.ForeignKey("points_accounts.id"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=True),
        sa.Column("reverses_id", sa.String(36), sa.ForeignKey("points_transfers.id"), nullable=True),
        sa.Column("activity_id", sa.String(36), nullable=True),
        sa.Column("redemption_id", sa.String(36), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=True),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_points_transfers_amount"),
        sa.CheckConstraint("debit_account_id <> credit_account_id", name="ck_points_transfers_accounts"),
    )
    op.create_index("ix_points_transfers_debit", "points_transfers", ["debit_account_id", "leaf_index"])
    op.create_index("ix_points_transfers_credit", "points_transfers", ["credit_account_id", "leaf_index"])
    op.create_index("ix_points_transfers_kind_created", "points_transfers", ["kind", "created_at"])
    op.create_index("ix_points_transfers_reverses", "points_transfers", ["reverses_id"])
    op.create_index("ix_points_transfers_activity", "points_transfers", ["activity_id"])

    op.create_table(
        "points_rules",
        sa.Column("scope", sa.String(140), primary_key=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
    )

    op.create_table(
        "rewards",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("name_zh", sa.String(120), nullable=True),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("price_points", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.BigInteger(), nullable=False),
        sa.Column("per_employee_limit", sa.Integer(), nullable=True),
        sa.Column("valid_from", _WHEN, nullable=True),
        sa.Column("valid_until", _WHEN, nullable=True),
        sa.Column("companies", sa.JSON(), nullable=True),
        sa.Column("owner_org", sa.String(128), nullable=True),
        sa.Column("cancel_window_s", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("request_hash", sa.String(66), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.CheckConstraint("stock >= 0", name="ck_rewards_stock"),
        sa.CheckConstraint("price_points > 0", name="ck_rewards_price"),
        sa.UniqueConstraint("created_by", "idempotency_key", name="uq_rewards_creator_key"),
    )

    op.create_table(
        "redemptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("org_id", sa.String(128), nullable=True),
        sa.Column("reward_id", sa.String(36), sa.ForeignKey("rewards.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(66), nullable=False),
        sa.Column("price_points", sa.BigInteger(), nullable=False),
        sa.Column("voucher_code", sa.String(32), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("transfer_id", sa.String(36), nullable=False),
        sa.Column("refund_transfer_id", sa.String(36), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("cancel_deadline", _WHEN, nullable=False),
        sa.Column("cancelled_at", _WHEN, nullable=True),
        sa.UniqueConstraint("subject_id", "idempotency_key", name="uq_redemptions_subject_key"),
    )
    op.create_index("ix_redemptions_subject_reward", "redemptions", ["subject_id", "reward_id", "status"])
    op.create_index("ix_redemptions_subject_created", "redemptions", ["subject_id", "created_at"])

    op.create_table(
        "leaderboard_optins",
        sa.Column("subject_id", sa.String(128), primary_key=True),
        sa.Column("org_id", sa.String(128), nullable=True),
        sa.Column("department_id", sa.String(128), nullable=True),
        sa.Column("alias", sa.String(32), nullable=True),
        sa.Column("opted_in_at", _WHEN, nullable=False),
    )
    op.create_index("ix_leaderboard_optins_org_dept", "leaderboard_optins", ["org_id", "department_id"])


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
