"""Checkpoints: the block height when their transaction was sent (a stuck one is re-priced later).

Revision ID: 013
Revises: 012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "013"
down_revision = "012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkpoints") as batch:
        batch.add_column(sa.Column("sent_block", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
