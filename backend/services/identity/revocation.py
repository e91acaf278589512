"""Ending sign-ins, and the revocation list that makes it take effect at once.

Access tokens are stateless JWTs, valid until they expire (``CARBON_ACCESS_TOKEN_TTL_S``). Each one
issued at sign-in names its sign-in (the ``sid`` claim, an auth session id). Logging out, reusing a
refresh token, disabling a staff account or an employee revokes the sign-in in the database; the
:class:`RevocationList` keeps the ids of sign-ins revoked within the last access-token lifetime (older
ones' tokens have expired anyway) in memory, so checking a request is one set lookup. The process
that revokes reloads the list at once; every process reloads it at least every
``CARBON_REVOCATION_REFRESH_S``, so a revocation made elsewhere (another worker, the CLI) takes
effect within that interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.orm_identity import AuthSessionRow

MAX_REVOKED_IN_MEMORY = 1_000_000
"""Far above any park's sign-outs within one access-token lifetime (15 minutes by default); ids
are 36-character strings, so the bound is about 100 MB: past it the list refuses to load rather
than grow without limit."""


def revoke_session(session: Session, session_id: str, reason: str, now: datetime) -> None:
    session.execute(
        update(AuthSessionRow)
        .where(AuthSessionRow.id == session_id, AuthSessionRow.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
    )


def revoke_all_sessions(session: Session, kind: str, subject_id: str, reason: str, now: datetime) -> None:
    """Ends every sign-in of one person (``kind`` is ``employee`` or ``staff``)."""
    ids = session.execute(
        select(AuthSessionRow.id).where(
            AuthSessionRow.principal_kind == kind,
            AuthSessionRow.subject_id == subject_id,
            AuthSessionRow.revoked_at.is_(None),
        )
    ).scalars()
    for session_id in list(ids):
        revoke_session(session, session_id, reason, now)


LOOKBACK_S = 60.0
"""How far before the previous reload each reload looks again: a sign-out whose transaction
committed late, or was stamped by a process whose clock runs behind, is still picked up."""


class RevocationList:
    """The sign-ins revoked within the last access-token lifetime, held in memory.

    The first load reads every sign-in revoked within the token lifetime; later loads read only
    those revoked since the previous one (less :data:`LOOKBACK_S`), through the index on
    ``revoked_at``, and forget ids older than the token lifetime.
    """

    def __init__(self, refresh_interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_interval_s = refresh_interval_s
        self.clock = clock
        self._revoked: dict[str, datetime] = {}
        self._loaded_at: float | None = None
        self._watermark: datetime | None = None
        self._pruned_at: float | None = None
        self._lock = threading.Lock()

    def is_revoked(self, session_id: str) -> bool:
        return session_id in self._revoked

    def due(self) -> bool:
        loaded = self._loaded_at
        return loaded is None or self.clock() - loaded >= self.refresh_interval_s

    def reload(self, db: Database, access_ttl_s: int, now: datetime | None = None) -> None:
        """Reads the sign-ins revoked since the last reload (all within ``access_ttl_s`` the first time)."""
        now = now or datetime.now(UTC)
        horizon = now - timedelta(seconds=access_ttl_s)
        with self._lock:
            since = horizon if self._watermark is None else max(horizon, self._watermark)
            started = self.clock()
            stmt = (
                select(AuthSessionRow.id, AuthSessionRow.revoked_at)
                .where(AuthSessionRow.revoked_at >= since)
                .limit(MAX_REVOKED_IN_MEMORY + 1)
            )
            with db.read_sessions() as session:
                found = {sid: at for sid, at in session.execute(stmt).all() if at is not None}
            prune = self._pruned_at is None or started - self._pruned_at >= LOOKBACK_S
            if prune or found.keys() - self._revoked.keys():  # otherwise nothing changed: no copy
                kept = self._revoked.items()
                merged = {sid: at for sid, at in kept if at >= horizon} if prune else dict(kept)
                merged.update(found)
                if len(merged) > MAX_REVOKED_IN_MEMORY:
                    raise RuntimeError(
                        f"more than {MAX_REVOKED_IN_MEMORY} sign-ins revoked within one token lifetime"
                    )
                self._revoked = merged  # replaced, never mutated: readers need no lock
                if prune:
                    self._pruned_at = started
            self._watermark = now - timedelta(seconds=LOOKBACK_S)
            self._loaded_at = started

    def __len__(self) -> int:
        return len(self._revoked)
