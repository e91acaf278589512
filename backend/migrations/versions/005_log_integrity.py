"""Transparency log integrity: chain incidents and moves, corrections.

From this version ``log_nodes`` receives only the levels that are positive multiples of
``backend.adapters.log_store.NODE_LEVEL_STRIDE`` (4). Rows an older version wrote at other levels
are left in place: they are never read again, and a migration does not delete data.

Revision ID: 005 (before December 2026: 0004)
Revises: 004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "005"
down_revision = "004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_incidents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(200), nullable=True),
    )
    op.create_index("ix_chain_incidents_open", "chain_incidents", ["chain_id", "contract", "cleared_at"])
    op.create_table(
        "chain_moves",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("from_chain_id", sa.BigInteger(), nullable=True),
        sa.Column("from_contract", sa.String(42), nullable=True),
        sa.Column("to_chain_id", sa.BigInteger(), nullable=False),
        sa.Column("to_contract", sa.String(42), nullable=False),
        sa.Column("old_manifest", sa.JSON(), nullable=True),
        sa.Column("new_manifest", sa.JSON(), nullable=False),
        sa.Column("checkpoints", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=True),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_chain_moves_state", "chain_moves", ["state"])
    op.create_table(
        "corrections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("activity_id", sa.String(36), nullable=False, unique=True),
        sa.Column("reason_code", sa.String(32), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("org_id", sa.String(128), nullable=True),
        sa.Column("request_hash", sa.String(66), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
