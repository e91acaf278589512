"""Security: ended sign-ins found by time (the revocation list), and binding codes (proof that
the employee holds the card or bike account they bind).

Revision ID: 010
Revises: 009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "010"
down_revision = "009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_sessions") as batch:
        batch.create_index("ix_auth_sessions_revoked_at", ["revoked_at"])
    op.create_table(
        "binding_codes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("source_id", sa.String(64), sa.ForeignKey("integration_sources.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("identifier_hash", sa.String(66), nullable=False),
        sa.Column("code_hash", sa.String(66), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_binding_codes_identifier", "binding_codes", ["kind", "identifier_hash"])


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
