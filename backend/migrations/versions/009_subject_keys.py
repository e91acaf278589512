"""Privacy: per-person keys of the commitments leaves carry instead of free text, and erasures.

Revision ID: 009
Revises: 007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "009"
down_revision = "007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_keys",
        sa.Column("subject_id", sa.String(128), primary_key=True),
        sa.Column("key", sa.LargeBinary(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erasure_id", sa.String(36), nullable=True),
        sa.Column("erasure_leaf_index", sa.BigInteger(), nullable=True),
    )


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
