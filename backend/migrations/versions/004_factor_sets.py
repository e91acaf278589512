"""Published emission factor sets.

Revision ID: 004 (before December 2026: 0003)
Revises: 003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "004"
down_revision = "003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "factor_sets",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("published_by", sa.String(66), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False, unique=True),
    )
    op.create_index("ix_factor_sets_effective_from", "factor_sets", ["effective_from"], unique=True)


def downgrade() -> None:
    raise NotImplementedError("migrations are forward only")
