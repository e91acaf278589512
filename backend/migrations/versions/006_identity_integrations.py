"""Identity, permissions, data-source integrations and green-behaviour recognition.

Revision ID: 006 (before December 2026: 0006)
Revises: 005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "006"
down_revision = "005"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _identity() -> None:
    op.create_table(
        "companies",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "departments",
        sa.Column("company_id", sa.String(64), sa.ForeignKey("companies.id"), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "employees",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(64), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("department_id", sa.String(64), nullable=True),
        sa.Column("employee_no", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("company_id", "employee_no", name="uq_employees_company_no"),
        sa.ForeignKeyConstraint(
            ["company_id", "department_id"],
            ["departments.company_id", "departments.id"],
            name="fk_employees_department",
        ),
    )
    op.create_table(
        "identity_links",
        sa.Column("provider", sa.String(16), primary_key=True),
        sa.Column("subject_hash", sa.String(66), primary_key=True),
        sa.Column("employee_id", sa.String(36), sa.ForeignKey("employees.id"), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_identity_links_employee", "identity_links", ["employee_id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code_hash", sa.String(66), nullable=False, unique=True),
        sa.Column("company_id", sa.String(64), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("department_id", sa.String(64), nullable=True),
        sa.Column("employee_id", sa.String(36), sa.ForeignKey("employees.id"), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
    )
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("company_id", sa.String(64), sa.ForeignKey("companies.id"), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("disabled_at", _TS, nullable=True),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff_accounts.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("secret_hash", sa.String(66), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("replaced_by", sa.String(32), nullable=True),
    )
    op.create_index("ix_api_keys_staff", "api_keys", ["staff_id"])
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("principal_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("revoke_reason", sa.String(64), nullable=True),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(66), primary_key=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("auth_sessions.id"), nullable=False),
        sa.Column("issued_at", _TS, nullable=False),
        sa.Column("used_at", _TS, nullable=True),
    )
    op.create_index("ix_refresh_tokens_session", "refresh_tokens", ["session_id"])
    op.create_table(
        "bindings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("employee_id", sa.String(36), sa.ForeignKey("employees.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("identifier_hash", sa.String(66), nullable=False),
        sa.Column("active_hash", sa.String(66), nullable=True),
        sa.Column("label", sa.String(40), nullable=True),
        sa.Column("consent_version", sa.String(32), nullable=False),
        sa.Column("consented_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.UniqueConstraint("kind", "active_hash", name="uq_bindings_active"),
    )
    op.create_index("ix_bindings_employee", "bindings", ["employee_id"])
    op.create_index("ix_bindings_lookup", "bindings", ["kind", "identifier_hash"])


def _integrations() -> None:
    op.create_table(
        "integration_sources",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("binding_kind", sa.String(32), nullable=False),
        sa.Column("activity_types", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("previous_secret", sa.String(128), nullable=True),
        sa.Column("previous_valid_until", _TS, nullable=True),
        sa.Column("max_records_per_min", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("disabled_at", _TS, nullable=True),
    )
    op.create_table(
        "integration_records",
        sa.Column("source_id", sa.String(64), sa.ForeignKey("integration_sources.id"), primary_key=True),
        sa.Column("record_id", sa.String(128), primary_key=True),
        sa.Column("request_hash", sa.String(66), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("activity_id", sa.String(36), nullable=True),
        sa.Column("field", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
    )
    op.create_index("ix_integration_records_received", "integration_records", ["source_id", "received_at"])
    op.create_table(
        "webhook_signatures",
        sa.Column("source_id", sa.String(64), primary_key=True),
        sa.Column("signature", sa.String(64), primary_key=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
    )
    op.create_index("ix_webhook_signatures_received", "webhook_signatures", ["received_at"])
    op.create_table(
        "activity_footprints",
        sa.Column("activity_id", sa.String(36), sa.ForeignKey("activities.id"), primary_key=True),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("family", sa.String(32), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("magnitude", sa.String(32), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("evidence", sa.String(16), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index(
        "ix_activity_footprints_subject_started", "activity_footprints", ["subject_id", "started_at"]
    )
    op.create_table(
        "reviews",
        sa.Column("activity_id", sa.String(36), sa.ForeignKey("activities.id"), primary_key=True),
        sa.Column("company_id", sa.String(128), nullable=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False, unique=True),
    )
    op.create_index("ix_reviews_company", "reviews", ["company_id", "decided_at"])


def upgrade() -> None:
    _identity()
    _integrations()


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only; restore a backup instead")
