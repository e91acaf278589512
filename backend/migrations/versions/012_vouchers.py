"""Vouchers at the till: the merchant that accepts a reward, and a redemption's expiry and use.

Revision ID: 012
Revises: 011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "012"
down_revision = "011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rewards") as batch:
        batch.add_column(sa.Column("merchant", sa.String(64), nullable=True))
    with op.batch_alter_table("redemptions") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("used_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("used_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("use_leaf_index", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
