"""Accounting: each activity's Scope 3 grams split by gas, as its calculation logged them, so a
summary adds them up per category without reading the calculation documents.

Revision ID: 015
Revises: 014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "015"
down_revision = "014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: records of sets without a split (park-default-2026.1, the only set in force before
    # this release) have none, and a summary counts them as unsplit.
    with op.batch_alter_table("activities") as batch:
        for name in ("scope3_co2_g", "scope3_ch4_g", "scope3_n2o_g", "scope3_unsplit_g"):
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
