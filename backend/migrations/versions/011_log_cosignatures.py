"""Witness cosignatures of the log's checkpoints (C2SP tlog-witness, client side).

Revision ID: 011
Revises: 010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "011"
down_revision = "010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_cosignatures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("witness", sa.String(255), nullable=False),
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("line", sa.String(400), nullable=False),
        sa.Column("timestamp_s", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("origin", "tree_size", "witness", "key_id", name="uq_log_cosignatures"),
    )
    op.create_index("ix_log_cosignatures_size", "log_cosignatures", ["tree_size"])


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
