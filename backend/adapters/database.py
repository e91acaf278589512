"""Engine creation for SQLite (embedded default) and PostgreSQL (the scale path).

SQLite runs in WAL mode with a busy timeout. Write transactions start with ``BEGIN IMMEDIATE`` so
two writers queue on the database lock instead of failing when a read snapshot goes stale; read
transactions stay deferred so readers never wait for writers. PostgreSQL writers serialize on the
``log_head`` row lock (see :mod:`backend.adapters.log_store`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for the lock before giving up: longer than any transaction."""

_IMMEDIATE = "carbon_ledger_immediate"
SEQUENCING_INFO = "carbon_ledger_sequencing"
"""Key of the session's ``info`` naming how leaves reach the log: ``inline`` or ``queued``."""


class SerializedSession(Session):
    """A write session that queues on an in-process lock before SQLite's database lock.

    SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps and polls
    with growing intervals, so under load some requests wait far longer than the work takes. A fair
    in-process queue in front of it keeps waits proportional to the work ahead. Other processes
    still meet the busy timeout as before.
    """

    write_lock = threading.Lock()

    def __enter__(self) -> SerializedSession:
        self.write_lock.acquire()
        try:
            super().__enter__()
        except BaseException:
            self.write_lock.release()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)
        finally:
            self.write_lock.release()


@dataclass(frozen=True)
class Database:
    engine: Engine
    read_sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]
    sequencing: str = "inline"
    """``inline`` or ``queued`` (``CARBON_SEQUENCING``); every session carries it in ``info``."""

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()


def _install_sqlite_hooks(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_database(
    url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10, sequencing: str = "inline"
) -> Database:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,  # errors must not carry subject ids or keys into the logs
        )
        _install_sqlite_hooks(engine, sqlite_synchronous)
    else:
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, hide_parameters=True
        )
    write_engine = engine.execution_options(**{_IMMEDIATE: True})
    info = {SEQUENCING_INFO: sequencing}
    if engine.dialect.name == "sqlite":
        lock_class = type("SerializedSession", (SerializedSession,), {"write_lock": threading.Lock()})
        write_sessions: sessionmaker[Session] = sessionmaker(
            bind=write_engine, expire_on_commit=False, class_=lock_class, info=info
        )
    else:
        write_sessions = sessionmaker(bind=write_engine, expire_on_commit=False, info=info)
    return Database(
        engine=engine,
        read_sessions=sessionmaker(bind=engine, expire_on_commit=False, info=info),
        write_sessions=write_sessions,
        sequencing=sequencing,
    )
