"""Use cases of signing in: employees through the mini-program's identity provider, token refresh
with rotation, and sign-out.

A sign-in opens an *auth session*; each refresh token is used once and replaced. Presenting a
refresh token a second time means it was copied: the whole session is revoked (OAuth 2.0 Security
BCP, refresh token rotation). Access tokens are short-lived JWTs re-derived from the employee or
staff row at each refresh, so a department change takes effect then; each names its sign-in
(``sid``), so signing out or a disabled account ends it at once (:mod:`backend.services.identity.revocation`).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.identity_providers import IdentityProvider
from backend.adapters.orm_identity import (
    AuthSessionRow,
    EmployeeRow,
    IdentityLinkRow,
    RefreshTokenRow,
    StaffAccountRow,
)
from backend.domain.errors import NotEnrolled, PermissionDenied, Unauthenticated
from backend.domain.states import EmployeeStatus
from backend.services.identity import enrollment
from backend.services.identity.revocation import revoke_session
from backend.services.identity.tokens import Principal, issue_token, new_opaque_token, secret_hash

REFRESH_TOKEN_PREFIX = "clr_"  # noqa: S105 (a prefix, not a secret)


@dataclass(frozen=True)
class TokenPolicy:
    secret: str
    access_ttl_s: int
    refresh_ttl_s: int
    subject_key: bytes
    """Key of the hashes of external identifiers (openids) and binding identifiers."""


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    principal: Principal


def keyed_hash(key: bytes, namespace: str, value: str) -> str:
    """HMAC-SHA256 of an external identifier: stable for lookups, useless without the park's key
    (card numbers and openids are guessable, so a plain hash would not protect them)."""
    message = f"carbon-ledger/{namespace}/v1\x00{value}".encode()
    return "0x" + hmac.new(key, message, hashlib.sha256).hexdigest()


def employee_principal(employee: EmployeeRow) -> Principal:
    return Principal("employee", employee.id, employee.company_id, employee.department_id)


def staff_principal(staff: StaffAccountRow) -> Principal:
    return Principal(staff.role, staff.id, staff.company_id)


def open_session(
    session: Session, kind: str, subject_id: str, principal: Principal, policy: TokenPolicy, now: datetime
) -> IssuedTokens:
    """Starts an auth session and issues its first access and refresh tokens."""
    auth = AuthSessionRow(
        id=str(uuid.uuid4()),
        principal_kind=kind,
        subject_id=subject_id,
        created_at=now,
        expires_at=now + timedelta(seconds=policy.refresh_ttl_s),
        revoked_at=None,
        revoke_reason=None,
    )
    session.add(auth)
    return _issue(session, auth, principal, policy, now)


def _issue(
    session: Session, auth: AuthSessionRow, principal: Principal, policy: TokenPolicy, now: datetime
) -> IssuedTokens:
    refresh = new_opaque_token(REFRESH_TOKEN_PREFIX)
    session.add(
        RefreshTokenRow(token_hash=secret_hash(refresh), session_id=auth.id, issued_at=now, used_at=None)
    )
    access = issue_token(
        policy.secret,
        principal.role,
        principal.subject,
        principal.org,
        policy.access_ttl_s,
        kind="access",
        dept=principal.dept,
        session=auth.id,
    )
    remaining = int((auth.expires_at - now).total_seconds())
    return IssuedTokens(access, policy.access_ttl_s, refresh, remaining, principal)


def login_employee(
    db: Database,
    provider: IdentityProvider,
    code: str,
    invitation_code: str | None,
    policy: TokenPolicy,
    now: datetime,
) -> IssuedTokens:
    """Signs an employee in with a provider login code; a first sign-in redeems an invitation."""
    identity = provider.exchange(code)  # network call: before the write transaction
    subject_hash = keyed_hash(policy.subject_key, f"identity/{identity.provider}", identity.subject)
    with db.write_sessions() as session, session.begin():
        link = session.get(IdentityLinkRow, (identity.provider, subject_hash))
        if link is not None and invitation_code is None:
            employee = session.get(EmployeeRow, link.employee_id)
        elif invitation_code is not None:
            employee = enrollment.redeem_invitation(
                session, invitation_code, identity.provider, subject_hash, now
            )
        else:
            raise NotEnrolled("this account is not enrolled yet: sign in with your invitation code")
        if employee is None or employee.status != EmployeeStatus.ACTIVE:
            raise PermissionDenied("this employee account is disabled; ask your company's administrator")
        return open_session(session, "employee", employee.id, employee_principal(employee), policy, now)


def _current_principal(session: Session, auth: AuthSessionRow) -> Principal | None:
    if auth.principal_kind == "employee":
        employee = session.get(EmployeeRow, auth.subject_id)
        return employee_principal(employee) if employee and employee.status == EmployeeStatus.ACTIVE else None
    staff = session.get(StaffAccountRow, auth.subject_id)
    return staff_principal(staff) if staff and staff.disabled_at is None else None


def refresh(db: Database, refresh_token: str, policy: TokenPolicy, now: datetime) -> IssuedTokens:
    """Exchanges a refresh token for new tokens; a reused token revokes its whole session."""
    problem: str | None = None
    with db.write_sessions() as session, session.begin():
        # Locked (PostgreSQL) so two concurrent uses of one token cannot both succeed.
        row = session.execute(
            select(RefreshTokenRow)
            .where(RefreshTokenRow.token_hash == secret_hash(refresh_token))
            .with_for_update()
        ).scalar_one_or_none()
        auth = session.get(AuthSessionRow, row.session_id) if row else None
        if row is None or auth is None:
            raise Unauthenticated("unknown refresh token")
        if auth.revoked_at is not None:
            raise Unauthenticated("this sign-in was ended; sign in again")
        if auth.expires_at <= now:
            raise Unauthenticated("this sign-in has expired; sign in again")
        principal = _current_principal(session, auth)
        if row.used_at is not None:
            problem = "refresh token reused: the sign-in was revoked; sign in again"
            revoke_session(session, auth.id, "refresh_token_reused", now)
        elif principal is None:
            problem = "the account is disabled"
            revoke_session(session, auth.id, "account_disabled", now)
        else:
            row.used_at = now
            return _issue(session, auth, principal, policy, now)
    raise Unauthenticated(problem)


def logout(db: Database, refresh_token: str, now: datetime) -> None:
    """Ends the sign-in the refresh token belongs to, and with it its access tokens."""
    with db.write_sessions() as session, session.begin():
        row = session.get(RefreshTokenRow, secret_hash(refresh_token))
        if row is None:
            raise Unauthenticated("unknown refresh token")
        revoke_session(session, row.session_id, "signed_out", now)
