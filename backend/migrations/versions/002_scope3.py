"""Scope 3 reporting: configured headcounts, period closes and the park-platform outbox.

Revision ID: 002 (before December 2026: 0007)
Revises: 001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "002"
down_revision = "001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scope3_headcounts",
        sa.Column("org_id", sa.String(128), primary_key=True),
        sa.Column("headcount", sa.Integer(), nullable=False),
        sa.Column("updated_by_role", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "scope3_period_closes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("cutoff_tree_size", sa.BigInteger(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("summary_sha256", sa.String(66), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("closed_by_role", sa.String(32), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("period", "revision", name="uq_scope3_period_revision"),
    )
    op.create_table(
        "feed_outbox",
        sa.Column("delivery_id", sa.String(36), primary_key=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_feed_outbox_due", "feed_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
