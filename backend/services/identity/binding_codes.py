"""Binding codes: proof that the employee who binds a card or account holds it.

A source (the transit gates' operator, the bike-share company…) asks for a code for one of its
accounts over its signed channel (``POST /integrations/v1/{source}/binding-codes``, signed like its
deliveries) and hands it to the account's holder through its own channel (its app, a text message,
the gate's screen). The employee presents the account's number with the code on
``POST /mp/v1/bindings``. Whoever merely knows a colleague's card number cannot bind it.

Codes are single-use, short-lived, stored only as hashes (the account only as its keyed hash), and
each account's open codes share a small number of wrong attempts, so guessing is hopeless.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.orm_integrations import BindingCodeRow, IntegrationSourceRow
from backend.domain.errors import InvalidInput
from backend.services.identity.enrollment import CODE_ALPHABET, normalize_code
from backend.services.identity.tokens import secret_hash

CODE_LENGTH = 8
"""31^8 ≈ 8.5 × 10^11 codes against :data:`MAX_ATTEMPTS` guesses: about one chance in 10^11."""
CODE_TTL = timedelta(minutes=15)
"""Long enough to read a text message and type the code; short enough that a stale one is useless."""
MAX_ATTEMPTS = 5
"""Wrong codes one account's open codes tolerate together; then the source must issue a new one."""
MAX_OPEN_CODES = 5
"""Open codes per account: a source asking more often replaces the oldest."""

MISSING = (
    "a one-time binding code is required: ask the card's or account's operator (its app, gate or "
    "service desk) for a binding code and enter it with the number / 需要一次性绑定码：请向卡或账户的"
    "运营方（其应用、闸机或服务台）获取绑定码后与卡号一并填写"
)


@dataclass(frozen=True)
class IssuedCode:
    code: str
    """Shown once, to the source, which passes it to the account's holder."""
    kind: str
    expires_at: datetime


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def _code_hash(identifier_hash: str, code: str) -> str:
    """The code's hash, tied to its account: a code for one card proves nothing for another."""
    return secret_hash(f"{identifier_hash}:{normalize_code(code)}")


def issue_code(db: Database, source: IntegrationSourceRow, identifier_hash: str, now: datetime) -> IssuedCode:
    code = _new_code()
    with db.write_sessions() as session, session.begin():
        open_codes = list(
            session.execute(
                select(BindingCodeRow)
                .where(
                    BindingCodeRow.kind == source.binding_kind,
                    BindingCodeRow.identifier_hash == identifier_hash,
                    BindingCodeRow.used_at.is_(None),
                    BindingCodeRow.expires_at > now,
                )
                .order_by(BindingCodeRow.created_at)
            ).scalars()
        )
        exhausted = [c for c in open_codes if c.attempts >= MAX_ATTEMPTS]
        live = [c for c in open_codes if c.attempts < MAX_ATTEMPTS]
        for stale in exhausted + live[: max(0, len(live) - MAX_OPEN_CODES + 1)]:
            stale.expires_at = now  # guessed at too often, or the oldest making room
        session.add(
            BindingCodeRow(
                id=str(uuid.uuid4()),
                source_id=source.id,
                kind=source.binding_kind,
                identifier_hash=identifier_hash,
                code_hash=_code_hash(identifier_hash, code),
                attempts=0,
                created_at=now,
                expires_at=now + CODE_TTL,
                used_at=None,
            )
        )
    return IssuedCode(code, source.binding_kind, now + CODE_TTL)


def redeem_code(session: Session, kind: str, identifier_hash: str, code: str | None, now: datetime) -> None:
    """Uses up the account's code in the caller's transaction; refuses a missing, wrong, expired
    or exhausted one naming ``code``. A wrong code counts against all the account's open codes."""
    if not code or not code.strip():
        raise InvalidInput("code", MISSING)
    open_codes = list(
        session.execute(
            select(BindingCodeRow)
            .where(
                BindingCodeRow.kind == kind,
                BindingCodeRow.identifier_hash == identifier_hash,
                BindingCodeRow.used_at.is_(None),
                BindingCodeRow.expires_at > now,
            )
            .with_for_update()
        ).scalars()
    )
    if not open_codes:
        raise InvalidInput(
            "code", "no valid binding code for this account: it expired or was used; ask for a new one"
        )
    if max(c.attempts for c in open_codes) >= MAX_ATTEMPTS:
        raise InvalidInput(
            "code", f"{MAX_ATTEMPTS} wrong codes for this account: ask its operator for a new one"
        )
    digest = _code_hash(identifier_hash, code)
    match = next((c for c in open_codes if hmac.compare_digest(c.code_hash, digest)), None)
    if match is None:
        raise _WrongCode([c.id for c in open_codes])
    match.used_at = now


class _WrongCode(InvalidInput):
    """A wrong code: counted after the caller's transaction rolls back (see :func:`count_wrong`)."""

    def __init__(self, code_ids: list[str]) -> None:
        super().__init__("code", "the binding code does not match this account")
        self.code_ids = code_ids


def count_wrong(db: Database, error: InvalidInput) -> None:
    """Counts a wrong code against the account's open codes, in a transaction of its own (the one
    that raised rolled back)."""
    if not isinstance(error, _WrongCode):
        return
    with db.write_sessions() as session, session.begin():
        session.execute(
            update(BindingCodeRow)
            .where(BindingCodeRow.id.in_(error.code_ids))
            .values(attempts=BindingCodeRow.attempts + 1)
        )
