"""Pages: companies' Chinese names and the park's Scope 3 targets (dashboard).

Revision ID: 007
Revises: 006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "007"
down_revision = "006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("companies") as batch:
        batch.add_column(sa.Column("name_zh", sa.String(200), nullable=True))
    op.create_table(
        "scope3_targets",
        sa.Column("year", sa.Integer(), primary_key=True),
        sa.Column("category", sa.Integer(), primary_key=True),
        sa.Column("co2e_g", sa.BigInteger(), nullable=False),
        sa.Column("updated_by_role", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
