"""What checking the revocation list adds to every request, and what reloading it costs.

Signs 10,000 (quick) or 100,000 people out in a SQLite database, loads the list, then times the
bearer-token path of ``authenticate`` for a token with a ``sid`` (decode + the list's check) and
the check alone, against decoding alone.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backend.adapters.database import create_database
from backend.adapters.migrations import upgrade
from backend.adapters.orm_identity import AuthSessionRow
from backend.api.deps import authenticate
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import Settings
from backend.services.identity.tokens import decode_token, issue_token
from bench.common import Row

ROUNDS = 20_000


def _per_call_us(call: Callable[[], object], rounds: int = ROUNDS) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        call()
    return (time.perf_counter() - started) / rounds * 1e6


def run(quick: bool = False) -> list[Row]:
    revoked = 10_000 if quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), scheduler_enabled=False)
        db = create_database(f"sqlite:///{Path(tmp) / 'auth.sqlite3'}")
        upgrade(db.engine)
        now = datetime.now(UTC)
        with db.write_sessions() as session, session.begin():
            session.add_all(
                AuthSessionRow(
                    id=str(uuid.uuid4()),
                    principal_kind="staff",
                    subject_id="s",
                    created_at=now,
                    expires_at=now + timedelta(days=1),
                    revoked_at=now - timedelta(seconds=120),  # within the token lifetime
                    revoke_reason="signed_out",
                )
                for _ in range(revoked)
            )
        runtime = Runtime(settings, db, chain=None, target=None, subject_key=b"k" * 32)
        started = time.perf_counter()
        runtime.sign_ins_ended()
        reload_ms = (time.perf_counter() - started) * 1e3
        assert len(runtime.revocations) == revoked
        started = time.perf_counter()
        runtime.sign_ins_ended()
        incremental_ms = (time.perf_counter() - started) * 1e3
        secret = settings.token_secret
        with_sid = issue_token(secret, "auditor", "a-1", None, 900, session=str(uuid.uuid4()))
        without = issue_token(secret, "auditor", "a-1", None, 900)
        decode_us = _per_call_us(lambda: decode_token(secret, without, allow_dev=True))
        check_us = _per_call_us(lambda: runtime.revocations.due() or runtime.revocations.is_revoked("x"))
        loop = asyncio.new_event_loop()
        try:
            full_us = _per_call_us(
                lambda: loop.run_until_complete(authenticate(runtime, with_sid)), ROUNDS // 4
            )
            plain_us = _per_call_us(
                lambda: loop.run_until_complete(authenticate(runtime, without)), ROUNDS // 4
            )
        finally:
            loop.close()
            db.dispose()
    note = f"{revoked:,} sign-ins revoked within the token lifetime"
    return [
        Row("auth", "revocation check per request (set lookup + due)", check_us, "µs", note=note),
        Row("auth", "authenticate, token with sid (decode + check)", full_us, "µs", note=note),
        Row("auth", "authenticate, token without sid (decode only)", plain_us, "µs"),
        Row("auth", "decode_token alone", decode_us, "µs"),
        Row("auth", f"first load of the list ({revoked:,} ids)", reload_ms, "ms"),
        Row("auth", "later reload, nothing new (at most once a second)", incremental_ms, "ms", note=note),
    ]
