"""Which background roles this process runs: elected through leases in the database.

Every process that may run a role (``carbon-ledger serve`` with its scheduler, ``carbon-ledger
worker``) schedules its jobs; each run first takes or renews the role's lease
(:mod:`backend.services.roles`) and does nothing when another process holds it. A thread renews
the leases this process holds every third of the lease time, so a holder keeps its roles between
runs, and a holder that dies (even by SIGKILL) loses them when its lease runs out: the next run of
the job in another process takes over. On a clean stop the leases are released at once.

With SQLite (one process, the embedded default) the one process simply elects itself.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.services import roles

logger = logging.getLogger(__name__)


def holder_id() -> str:
    """This process, as lease holders are named: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


class Elector:
    def __init__(self, db: Database, lease_s: float, holder: str | None = None) -> None:
        self.db = db
        self.lease_s = lease_s
        self.holder = holder or holder_id()
        self._lock = threading.Lock()
        self._held: dict[str, roles.Lease] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def held(self) -> dict[str, roles.Lease]:
        with self._lock:
            return dict(self._held)

    def claim(self, role: str) -> roles.Lease | None:
        """Takes or renews ``role`` now; the lease, or None while another process holds it."""
        try:
            lease = roles.acquire(self.db, role, self.holder, self.lease_s)
        except SQLAlchemyError as exc:  # the database is away: hold nothing until it is back
            logger.warning("role %s: lease not renewed (%s)", role, exc.__class__.__name__)
            lease = None
        with self._lock:
            before = self._held.pop(role, None)
            if lease is not None:
                self._held[role] = lease
        if lease is not None and (before is None or before.epoch != lease.epoch):
            logger.info("this process now runs the %s role (epoch %d)", role, lease.epoch)
        elif lease is None and before is not None:
            logger.warning("this process lost the %s role to another process", role)
        return lease

    def fence(self, role: str) -> Callable[[Session], bool]:
        """A check, for the role's own write transactions, that this process still holds ``role``
        under the lease it holds now (the row locked until the transaction ends)."""

        def check(session: Session) -> bool:
            lease = self.held().get(role)
            return lease is not None and roles.holds_in(session, lease)

        return check

    def guarded(self, role: str, fn: Callable[..., Any]) -> Callable[..., None]:
        """``fn`` as a job that runs only while this process holds ``role``."""

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            if self.claim(role) is not None:
                fn(*args, **kwargs)

        return run

    def start(self) -> None:
        self._thread = threading.Thread(target=self._renew_loop, name="role-leases", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stopping.wait(self.lease_s / 3):
            for role in self.held():
                self.claim(role)

    def stop(self) -> None:
        """Stops renewing and releases every lease held, so another process takes over at once."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.lease_s)
        for lease in self.held().values():
            with contextlib.suppress(SQLAlchemyError):  # if not, it expires by itself
                roles.release(self.db, lease)
        with self._lock:
            self._held.clear()
