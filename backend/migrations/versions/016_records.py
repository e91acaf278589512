"""Records: auditors' sign-offs of period closes (each a logged ``period_signoff`` record), and the
leaves of the ``binding`` records of a consent given or withdrawn.

Revision ID: 016
Revises: 015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "016"
down_revision = "015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scope3_period_signoffs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("close_id", sa.String(36), sa.ForeignKey("scope3_period_closes.id"), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("opinion", sa.String(16), nullable=False),
        sa.Column("statement", sa.String(2000), nullable=True),
        sa.Column("auditor_id", sa.String(128), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("close_id", "auditor_id", name="uq_scope3_signoff_close_auditor"),
    )

    with op.batch_alter_table("bindings") as batch:
        batch.add_column(sa.Column("leaf_index", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("revoked_leaf_index", sa.BigInteger(), nullable=True))
        batch.create_unique_constraint("uq_bindings_leaf_index", ["leaf_index"])
        batch.create_unique_constraint("uq_bindings_revoked_leaf_index", ["revoked_leaf_index"])


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
