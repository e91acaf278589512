"""Use cases of staff access: accounts with passwords (Argon2id, via argon2-cffi), sign-in with
lock-out, and API keys with scopes that can be rotated and revoked.

API keys are ``clk_<id>_<secret>``: the id finds the row, the secret's SHA-256 is compared in
constant time. 256 random bits need no slow hash; passwords, chosen by people, get Argon2id.
"""

from __future__ import annotations

import functools
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.orm_identity import ApiKeyRow, CompanyRow, StaffAccountRow
from backend.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from backend.domain.identity.access import ROLE_SCOPES, SCOPES, STAFF_ROLES
from backend.services.identity.identity import (
    IssuedTokens,
    TokenPolicy,
    open_session,
    staff_principal,
)
from backend.services.identity.revocation import revoke_all_sessions
from backend.services.identity.tokens import Principal, new_api_key, parse_api_key, secret_hash

MIN_PASSWORD_LENGTH = 12
"""NIST SP 800-63B asks for at least 8; staff accounts see many people's data, so 12."""
MAX_PASSWORD_LENGTH = 256
MAX_FAILED_LOGINS = 10
LOCKOUT = timedelta(minutes=15)
"""After this many wrong passwords in a row the account waits this long: online guessing stalls."""
MAX_KEYS_PER_ACCOUNT = 20
MAX_KEY_TTL_DAYS = 366
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._\-]{2,63}$")

_hasher = PasswordHasher()
"""argon2-cffi's defaults: Argon2id with RFC 9106's low-memory profile (t=3, 64 MiB, p=4)."""


@functools.cache
def _dummy_hash(parameters: object) -> str:
    return _hasher.hash("carbon-ledger: no such account")


@dataclass(frozen=True)
class IssuedKey:
    row: ApiKeyRow
    key: str
    """The full key, shown once."""


ORG_ROLES = ("company_admin", "merchant")
"""Staff roles that act for one organisation of the park: a company's admins, a merchant's till
(the merchant is a company of the park, e.g. the canteen's operator)."""


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")


def create_staff(
    db: Database, username: str, password: str, role: str, company_id: str | None, now: datetime
) -> StaffAccountRow:
    if not USERNAME.fullmatch(username):
        raise InvalidInput("username", "must be 3–64 lowercase letters, digits, '.', '_' or '-'")
    if role not in STAFF_ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(STAFF_ROLES)}")
    if (role in ORG_ROLES) != (company_id is not None):
        raise InvalidInput("company_id", "is required for company_admin and merchant, and only for them")
    _check_password(password)
    password_hash = _hasher.hash(password)
    with db.write_sessions() as session, session.begin():
        if company_id is not None and session.get(CompanyRow, company_id) is None:
            raise InvalidInput("company_id", f"company {company_id} does not exist")
        if session.execute(select(StaffAccountRow).where(StaffAccountRow.username == username)).first():
            raise Conflict(f"username {username} is taken")
        row = StaffAccountRow(
            id=str(uuid.uuid4()),
            username=username,
            role=role,
            company_id=company_id,
            password_hash=password_hash,
            failed_logins=0,
            locked_until=None,
            created_at=now,
            disabled_at=None,
        )
        session.add(row)
    return row


def list_staff(db: Database) -> list[StaffAccountRow]:
    with db.read_sessions() as session:
        return list(session.execute(select(StaffAccountRow).order_by(StaffAccountRow.username)).scalars())


def disable_staff(db: Database, staff_id: str, now: datetime) -> StaffAccountRow:
    """Disables an account, ends its sign-ins and revokes its API keys."""
    with db.write_sessions() as session, session.begin():
        row = session.get(StaffAccountRow, staff_id)
        if row is None:
            raise NotFound(f"staff account {staff_id} not found")
        row.disabled_at = row.disabled_at or now
        revoke_all_sessions(session, "staff", staff_id, "account_disabled", now)
        for key in session.execute(select(ApiKeyRow).where(ApiKeyRow.staff_id == staff_id)).scalars():
            key.revoked_at = key.revoked_at or now
    return row


def login_staff(
    db: Database, username: str, password: str, policy: TokenPolicy, now: datetime
) -> IssuedTokens:
    failure = "wrong username or password"
    with db.write_sessions() as session, session.begin():
        row = session.execute(
            select(StaffAccountRow).where(StaffAccountRow.username == username)
        ).scalar_one_or_none()
        if row is None:
            _verify(
                _dummy_hash(_hasher), password
            )  # same work as a real account: no user enumeration by timing
            raise Unauthenticated(failure)
        if row.locked_until is not None and row.locked_until > now:
            raise Unauthenticated("too many wrong passwords: the account is locked for a while")
        if not _verify(row.password_hash, password) or row.disabled_at is not None:
            row.failed_logins += 1
            if row.failed_logins >= MAX_FAILED_LOGINS:
                row.locked_until, row.failed_logins = now + LOCKOUT, 0
        else:
            row.failed_logins, row.locked_until = 0, None
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = _hasher.hash(password)
            return open_session(session, "staff", row.id, staff_principal(row), policy, now)
    raise Unauthenticated(failure)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_scopes(role: str, scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InvalidInput("scopes", f"unknown scopes: {', '.join(unknown)}")
    beyond = sorted(set(scopes) - ROLE_SCOPES[role])
    if beyond:
        raise InvalidInput("scopes", f"role {role} cannot grant {', '.join(beyond)}")
    if not scopes:
        raise InvalidInput("scopes", "name at least one scope")
    return sorted(set(scopes))


def _new_key(
    staff_id: str, name: str, scopes: list[str], expires_at: datetime | None, now: datetime
) -> IssuedKey:
    key_id, key = new_api_key()
    row = ApiKeyRow(
        id=key_id,
        staff_id=staff_id,
        name=name,
        scopes=scopes,
        secret_hash=secret_hash(key),
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
        replaced_by=None,
    )
    return IssuedKey(row, key)


def _owner(session: Session, principal: Principal) -> StaffAccountRow:
    row = session.get(StaffAccountRow, principal.subject)
    if row is None or row.disabled_at is not None:
        raise PermissionDenied("API keys belong to staff accounts; sign in with your account")
    return row


def _within_caller(principal: Principal, scopes: list[str], doing: str) -> None:
    """An API key hands on only scopes it holds itself (a token holds every scope of its role)."""
    if principal.scopes is None:
        return
    beyond = sorted(set(scopes) - principal.scopes)
    if beyond:
        raise PermissionDenied(f"this API key cannot {doing} scopes it does not hold: {', '.join(beyond)}")


def create_api_key(
    db: Database, principal: Principal, name: str, scopes: list[str], ttl_days: int | None, now: datetime
) -> IssuedKey:
    if ttl_days is not None and not 1 <= ttl_days <= MAX_KEY_TTL_DAYS:
        raise InvalidInput("ttl_days", f"must be 1 to {MAX_KEY_TTL_DAYS}")
    with db.write_sessions() as session, session.begin():
        owner = _owner(session, principal)
        granted = _check_scopes(owner.role, scopes)
        _within_caller(principal, granted, "grant")
        active = [k for k in _keys(session, owner.id) if k.revoked_at is None]
        if len(active) >= MAX_KEYS_PER_ACCOUNT:
            raise Conflict(f"at most {MAX_KEYS_PER_ACCOUNT} active keys per account; revoke one first")
        expires = now + timedelta(days=ttl_days) if ttl_days else None
        issued = _new_key(owner.id, name, granted, expires, now)
        session.add(issued.row)
    return issued


def _keys(session: Session, staff_id: str) -> list[ApiKeyRow]:
    stmt = select(ApiKeyRow).where(ApiKeyRow.staff_id == staff_id).order_by(ApiKeyRow.created_at)
    return list(session.execute(stmt).scalars())


def list_api_keys(db: Database, principal: Principal) -> list[ApiKeyRow]:
    with db.read_sessions() as session:
        return _keys(session, _owner(session, principal).id)


def _own_key(session: Session, principal: Principal, key_id: str) -> ApiKeyRow:
    row = session.get(ApiKeyRow, key_id)
    if row is None or row.staff_id != principal.subject:
        raise NotFound(f"API key {key_id} not found")
    return row


def rotate_api_key(db: Database, principal: Principal, key_id: str, now: datetime) -> IssuedKey:
    """Replaces a key by a new one with the same name, scopes and lifetime; the old one stops now."""
    with db.write_sessions() as session, session.begin():
        old = _own_key(session, principal, key_id)
        if old.revoked_at is not None:
            raise Conflict(f"API key {key_id} is revoked; create a new one")
        _within_caller(principal, list(old.scopes), "rotate a key with")
        lifetime = old.expires_at - old.created_at if old.expires_at else None
        issued = _new_key(old.staff_id, old.name, list(old.scopes), now + lifetime if lifetime else None, now)
        old.revoked_at, old.replaced_by = now, issued.row.id
        session.add(issued.row)
    return issued


def revoke_api_key(db: Database, principal: Principal, key_id: str, now: datetime) -> ApiKeyRow:
    with db.write_sessions() as session, session.begin():
        row = _own_key(session, principal, key_id)
        row.revoked_at = row.revoked_at or now
    return row


def authenticate_api_key(db: Database, presented: str, now: datetime) -> Principal:
    parsed = parse_api_key(presented)
    if parsed is None:
        raise Unauthenticated("malformed API key")
    key_id, key = parsed
    with db.read_sessions() as session:
        row = session.get(ApiKeyRow, key_id)
        owner = session.get(StaffAccountRow, row.staff_id) if row else None
    if row is None or owner is None or not hmac.compare_digest(row.secret_hash, secret_hash(key)):
        raise Unauthenticated("unknown API key")
    if row.revoked_at is not None:
        raise Unauthenticated("this API key was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("this API key has expired")
    if owner.disabled_at is not None:
        raise Unauthenticated("the key's account is disabled")
    return Principal(owner.role, owner.id, owner.company_id, scopes=frozenset(row.scopes), via="api_key")
