"""A witness's memory: the latest checkpoint it cosigned per log, in a SQLite file.

The check of the old size and the write of the new state happen in one ``BEGIN IMMEDIATE``
transaction (SQLite's write lock), as the tlog-witness specification requires: two concurrent
submissions cannot both pass the check against the same old state and roll the log back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from backend.domain.log.witness import LogState

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS witnessed_logs (
    origin TEXT PRIMARY KEY,
    tree_size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note BLOB NOT NULL,
    updated_at_s INTEGER NOT NULL
)
"""


class WitnessState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def update(self, origin: str, decide: Callable[[LogState | None], tuple[T, LogState | None, bytes]]) -> T:
        """Runs ``decide(current)`` under the write lock; when it returns a new state, it is stored
        (with the cosigned note) before the transaction commits and ``decide``'s result returns."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                current = self._get(origin)
                result, new_state, note = decide(current)
                if new_state is not None:
                    self._db.execute(
                        "INSERT INTO witnessed_logs (origin, tree_size, root, note, updated_at_s) "
                        "VALUES (?, ?, ?, ?, strftime('%s','now')) ON CONFLICT (origin) DO UPDATE SET "
                        "tree_size = excluded.tree_size, root = excluded.root, note = excluded.note, "
                        "updated_at_s = excluded.updated_at_s",
                        (origin, new_state.tree_size, new_state.root, note),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    def _get(self, origin: str) -> LogState | None:
        row = self._db.execute(
            "SELECT tree_size, root FROM witnessed_logs WHERE origin = ?", (origin,)
        ).fetchone()
        return LogState(int(row[0]), bytes(row[1])) if row else None

    def latest_note(self, origin: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT note FROM witnessed_logs WHERE origin = ?", (origin,)).fetchone()
        return bytes(row[0]) if row else None

    def origins(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT origin FROM witnessed_logs ORDER BY origin")]
