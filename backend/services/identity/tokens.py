"""Bearer tokens (JWT, HS256, via PyJWT): who is calling, in which role, for which organisation.

Development tokens (``carbon-ledger dev-token``) carry ``typ=dev`` and are refused outside
``CARBON_ENV=local``. Sign-in issues short-lived access tokens (``typ=access``) plus an opaque
refresh token (random, stored only as its SHA-256, rotated on every use: see
:mod:`backend.services.identity.identity`). Staff may instead use API keys ``clk_<id>_<secret>`` with scopes.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from backend.domain.errors import InvalidInput, Unauthenticated
from backend.domain.identity.access import ROLES

__all__ = ["ROLES", "Principal", "decode_token", "issue_token"]
ISSUER = "carbon-ledger"
ALGORITHM = "HS256"
MAX_SUBJECT_LENGTH = 128
OPAQUE_TOKEN_BYTES = 32
"""256 random bits: refresh tokens and API key secrets cannot be guessed, so a fast hash suffices."""
API_KEY_PREFIX = "clk_"


@dataclass(frozen=True)
class Principal:
    role: str
    subject: str
    org: str | None
    dept: str | None = None
    scopes: frozenset[str] | None = None
    """The API key's scopes; None for tokens, which carry every scope of their role."""
    via: str = "token"
    """How the caller authenticated: ``token``, ``dev`` (a development token) or ``api_key``."""
    session: str | None = None
    """The sign-in (auth session id, the token's ``sid``) an access token belongs to: logging out
    or disabling the account revokes it, and with it every access token it issued."""


def issue_token(
    secret: str,
    role: str,
    subject: str,
    org: str | None,
    ttl_s: int,
    kind: str = "access",
    dept: str | None = None,
    session: str | None = None,
) -> str:
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    if not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidInput("subject", f"must be 1 to {MAX_SUBJECT_LENGTH} characters")
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "role": role,
        "org": org,
        "dept": dept,
        "typ": kind,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + ttl_s,
    }
    if session is not None:
        claims["sid"] = session
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _text_claim(claims: dict[str, object], name: str, *, required: bool = False) -> str | None:
    """A claim that must be a string (or absent/null): anything else makes the token invalid."""
    value = claims.get(name)
    if (value is None or value == "") and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_SUBJECT_LENGTH:
        raise Unauthenticated(
            f"invalid token: the {name} claim must be a string of 1 to {MAX_SUBJECT_LENGTH}"
        )
    return value


def decode_token(secret: str, token: str, allow_dev: bool) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "iss"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None
    kind = claims.get("typ")
    if kind == "dev" and not allow_dev:
        raise Unauthenticated("development tokens are refused outside CARBON_ENV=local")
    if kind not in ("dev", "access"):
        raise Unauthenticated("not an access token")
    role = claims.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise Unauthenticated("the token names no known role")
    return Principal(
        role=role,
        subject=str(_text_claim(claims, "sub", required=True)),
        org=_text_claim(claims, "org"),
        dept=_text_claim(claims, "dept"),
        via="dev" if kind == "dev" else "token",
        session=_text_claim(claims, "sid"),
    )


def new_opaque_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(OPAQUE_TOKEN_BYTES)


def secret_hash(secret: str) -> str:
    """SHA-256 of a high-entropy secret (refresh token, API key, invitation code, webhook secret)."""
    return "0x" + hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A new API key: (key id, the full key ``clk_<id>_<secret>`` shown once)."""
    key_id = secrets.token_hex(8)
    return key_id, f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(OPAQUE_TOKEN_BYTES)}"


def parse_api_key(presented: str) -> tuple[str, str] | None:
    """(key id, full key) when ``presented`` has the API key shape, else None."""
    if not presented.startswith(API_KEY_PREFIX):
        return None
    key_id, sep, secret = presented.removeprefix(API_KEY_PREFIX).partition("_")
    if not sep or len(key_id) != 16 or not secret:
        return None
    return key_id, presented
