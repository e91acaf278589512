"""Transparency log integrity: sparse node storage, chain incidents and moves, corrections.

``log_nodes`` keeps only the levels that are positive multiples of
``backend.adapters.log_store.NODE_LEVEL_STRIDE`` (4); the others are recomputed on read and level 0
is the leaves' own ``leaf_hash``, so the redundant rows are dropped.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None

NODE_LEVEL_STRIDE = 4  # frozen copy: a migration must not change meaning when the code does


def upgrade() -> None:
    op.execute(
        sa.text("DELETE FROM log_nodes WHERE level = 0 OR level % :stride <> 0").bindparams(
            stride=NODE_LEVEL_STRIDE
        )
    )


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
