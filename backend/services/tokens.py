"""Bearer tokens (JWT, HS256, via PyJWT): who is calling, in which role, for which organisation.

Development tokens (``carbon-ledger dev-token``) carry ``typ=dev`` and are refused outside
``CARBON_ENV=local``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from backend.domain.errors import InvalidInput, Unauthenticated

ROLES = ("employee", "company_admin", "park_manager", "auditor", "operator")
ISSUER = "carbon-ledger"
ALGORITHM = "HS256"
MAX_SUBJECT_LENGTH = 128


@dataclass(frozen=True)
class Principal:
    role: str
    subject: str
    org: str | None
    dept: str | None = None


def issue_token(
    secret: str,
    role: str,
    subject: str,
    org: str | None,
    ttl_s: int,
    kind: str = "access",
    dept: str | None = None,
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
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str, allow_dev: bool) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "iss"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None
    if claims.get("typ") == "dev" and not allow_dev:
        raise Unauthenticated("development tokens are refused outside CARBON_ENV=local")
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthenticated("the token names no known role")
    return Principal(
        role=str(role), subject=str(claims["sub"]), org=claims.get("org"), dept=claims.get("dept")
    )
