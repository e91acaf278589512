"""Tables of identity: the park's companies and departments, employees and how they sign in, staff
accounts and API keys, refresh sessions, and the data-source bindings employees consented to.

No raw external identifier is stored: WeChat openids, transit card numbers and bike accounts are
kept only as keyed hashes (HMAC under the park's subject key), and secrets (passwords, refresh
tokens, API keys, invitation codes) only as hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.adapters.orm import Base
from backend.adapters.orm_types import EnumText
from backend.domain.states import EmployeeStatus


class CompanyRow(Base):
    __tablename__ = "companies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column()


class DepartmentRow(Base):
    __tablename__ = "departments"

    company_id: Mapped[str] = mapped_column(String(64), ForeignKey("companies.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()


class EmployeeRow(Base):
    __tablename__ = "employees"
    __table_args__ = (
        UniqueConstraint("company_id", "employee_no", name="uq_employees_company_no"),
        ForeignKeyConstraint(
            ["company_id", "department_id"],
            ["departments.company_id", "departments.id"],
            name="fk_employees_department",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    company_id: Mapped[str] = mapped_column(String(64), ForeignKey("companies.id"))
    department_id: Mapped[str | None] = mapped_column(String(64))
    employee_no: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[EmployeeStatus] = mapped_column(EnumText(EmployeeStatus, 16))
    created_at: Mapped[datetime] = mapped_column()


class IdentityLinkRow(Base):
    """An identity provider's subject (hashed openid) bound to an employee."""

    __tablename__ = "identity_links"
    __table_args__ = (Index("ix_identity_links_employee", "employee_id"),)

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    employee_id: Mapped[str] = mapped_column(String(36), ForeignKey("employees.id"))
    created_at: Mapped[datetime] = mapped_column()


class InvitationRow(Base):
    """An invitation code: for one pre-enrolled employee (one use) or open for a department."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(66), unique=True)
    company_id: Mapped[str] = mapped_column(String(64), ForeignKey("companies.id"))
    department_id: Mapped[str | None] = mapped_column(String(64))
    employee_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("employees.id"))
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class StaffAccountRow(Base):
    __tablename__ = "staff_accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    company_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("companies.id"))
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_staff", "staff_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(36), ForeignKey("staff_accounts.id"))
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    secret_hash: Mapped[str] = mapped_column(String(66))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    replaced_by: Mapped[str | None] = mapped_column(String(32))


class AuthSessionRow(Base):
    """One sign-in: the family of refresh tokens issued by rotation from one login."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_revoked_at", "revoked_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    principal_kind: Mapped[str] = mapped_column(String(16))
    """``employee`` or ``staff``: which table ``subject_id`` refers to."""
    subject_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoke_reason: Mapped[str | None] = mapped_column(String(64))


class RefreshTokenRow(Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_session", "session_id"),)

    token_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36), ForeignKey("auth_sessions.id"))
    issued_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class BindingRow(Base):
    """A data-source account (transit card, bike account…) an employee consented to link.

    ``active_hash`` equals ``identifier_hash`` while the binding is active and is NULL once
    revoked, so the unique constraint allows one active binding per identifier on every database.
    """

    __tablename__ = "bindings"
    __table_args__ = (
        UniqueConstraint("kind", "active_hash", name="uq_bindings_active"),
        Index("ix_bindings_employee", "employee_id"),
        Index("ix_bindings_lookup", "kind", "identifier_hash"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    employee_id: Mapped[str] = mapped_column(String(36), ForeignKey("employees.id"))
    kind: Mapped[str] = mapped_column(String(32))
    identifier_hash: Mapped[str] = mapped_column(String(66))
    active_hash: Mapped[str | None] = mapped_column(String(66))
    label: Mapped[str | None] = mapped_column(String(40))
    consent_version: Mapped[str] = mapped_column(String(32))
    consented_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    """The ``binding`` record of the consent (None for bindings made before they were logged)."""
    revoked_leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    """The ``binding`` record withdrawing it."""
