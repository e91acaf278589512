"""Engine creation for SQLite (embedded default) and PostgreSQL (the scale path).

SQLite runs in WAL mode with a busy timeout. Write transactions start with ``BEGIN IMMEDIATE`` so
two writers queue on the database lock instead of failing when a read snapshot goes stale; read
transactions stay deferred so readers never wait for writers. PostgreSQL writers serialize on the
``log_head`` row lock (see :mod:`backend.adapters.log_store`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for the lock before giving up: longer than any transaction."""

_IMMEDIATE = "carbon_ledger_immediate"


@dataclass(frozen=True)
class Database:
    engine: Engine
    read_sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]

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


def create_database(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10) -> Database:
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
    return Database(
        engine=engine,
        read_sessions=sessionmaker(bind=engine, expire_on_commit=False),
        write_sessions=sessionmaker(bind=write_engine, expire_on_commit=False),
    )
