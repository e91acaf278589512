"""Queued sequencing: the leaves accepted but not yet in the log, and activities and points
transfers stored before the sequencer gives them a leaf index (``CARBON_SEQUENCING=queued``).

Revision ID: 017
Revises: 016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "017"
down_revision = "016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_queue",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
    )
    with op.batch_alter_table("activities") as batch:
        batch.alter_column("leaf_index", existing_type=sa.BigInteger(), nullable=True)
    with op.batch_alter_table("points_transfers") as batch:
        batch.alter_column("leaf_index", existing_type=sa.BigInteger(), nullable=True)


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
