"""The stack's own ceiling (issue 15): the smallest apps on the ledger's HTTP stack, for the ``ceiling``
benchmark to measure beside the ledger's single-activity POST.

* ``bare``: FastAPI, one POST route with a pydantic body shaped like the activity request, a small
  JSON 201, no database.
* ``durable``: the same route plus, per request, the leaf's canonical JSON and SHA-256, written with
  the row in one transaction through a group commit (requests waiting at the same moment share
  one transaction). SQLite (WAL, synchronous FULL) or PostgreSQL, from ``CEILING_DATABASE_URL``.

Both run on uvicorn with uvloop, httptools and TCP_NODELAY, as ``carbon-ledger serve`` does:
``python -m bench.ceiling_app {bare|durable} PORT WORKERS``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, Literal

from fastapi import FastAPI, Header
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from backend.domain.canonical import canonical_json

DATABASE_ENV = "CEILING_DATABASE_URL"
Row = tuple[str, str, str, str, str, bytes]
"""id, idempotency key, type, occurred_at, distance_km, leaf hash."""


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["metro", "bus", "bike", "walk", "carpool", "ev"]
    occurred_at: AwareDatetime
    distance_km: Decimal = Field(gt=0, le=1000)


class Accepted(BaseModel):
    id: str
    status: str


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/mp/v1/activities", status_code=201)
    async def create(body: ActivityIn) -> Accepted:
        return Accepted(id=uuid.uuid4().hex, status="accepted")

    return app


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


SCHEMA = (
    "CREATE TABLE IF NOT EXISTS activities (id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, "
    "type TEXT NOT NULL, occurred_at TEXT NOT NULL, distance_km TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS leaves (activity_id TEXT NOT NULL, leaf_hash {blob} NOT NULL, idx {serial})",
)


def prepare(url: str) -> None:
    """Creates the two tables (before the server starts, so that its workers do not race)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            for statement in SCHEMA:
                conn.execute(statement.format(blob="BLOB", serial="INTEGER PRIMARY KEY"))
        return
    import psycopg

    with psycopg.connect(_pg_dsn(url)) as conn:
        for statement in SCHEMA:
            conn.execute(statement.format(blob="BYTEA", serial="BIGSERIAL PRIMARY KEY"))


def _writer(url: str) -> Callable[[list[Row]], None]:
    """One connection and a function writing a group of rows and their leaves in one transaction."""
    activity_sql = "INSERT INTO activities VALUES ({0}, {0}, {0}, {0}, {0})"
    leaf_sql = "INSERT INTO leaves (activity_id, leaf_hash) VALUES ({0}, {0})"
    if url.startswith("sqlite"):
        lite = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
        lite.execute("PRAGMA journal_mode=WAL")
        lite.execute("PRAGMA synchronous=FULL")

        def write_sqlite(rows: list[Row]) -> None:
            lite.execute("BEGIN IMMEDIATE")
            try:
                lite.executemany(activity_sql.format("?"), [row[:5] for row in rows])
                lite.executemany(leaf_sql.format("?"), [(row[0], row[5]) for row in rows])
            except BaseException:
                lite.execute("ROLLBACK")
                raise
            lite.execute("COMMIT")

        return write_sqlite
    import psycopg

    pg = psycopg.connect(_pg_dsn(url))

    def write_postgres(rows: list[Row]) -> None:
        with pg.transaction(), pg.cursor() as cursor:
            cursor.executemany(activity_sql.format("%s"), [row[:5] for row in rows])
            cursor.executemany(leaf_sql.format("%s"), [(row[0], row[5]) for row in rows])

    return write_postgres


class GroupCommit:
    """Requests hand their row to one writer task; whatever is waiting when it is free goes into
    one transaction (run in a thread, so the event loop keeps accepting meanwhile)."""

    def __init__(self, write: Callable[[list[Row]], None]) -> None:
        self._write = write
        self._pending: list[tuple[Row, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()

    async def submit(self, row: Row) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        self._wake.set()
        await done

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            group, self._pending = self._pending, []
            if not group:
                continue
            try:
                await asyncio.to_thread(self._write, [row for row, _ in group])
            except Exception as exc:  # every request of the group learns it failed
                for _, done in group:
                    done.set_exception(exc)
            else:
                for _, done in group:
                    done.set_result(None)


def durable_app() -> FastAPI:
    url = os.environ[DATABASE_ENV]
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["group"] = GroupCommit(_writer(url))
        task = asyncio.create_task(state["group"].run())
        yield
        task.cancel()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/mp/v1/activities", status_code=201)
    async def create(body: ActivityIn, idempotency_key: str = Header()) -> Accepted:
        activity_id = uuid.uuid4().hex
        occurred_at = body.occurred_at.isoformat()
        leaf = canonical_json(
            {
                "kind": "activity",
                "activity_id": activity_id,
                "type": body.type,
                "occurred_at": occurred_at,
                "quantities": {"distance_km": str(body.distance_km)},
            }
        )
        leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()  # RFC 9162 leaf hash
        row = (activity_id, idempotency_key, body.type, occurred_at, str(body.distance_km), leaf_hash)
        await state["group"].submit(row)
        return Accepted(id=activity_id, status="accepted")

    return app


def main(argv: list[str]) -> None:
    import uvicorn

    from backend.entrypoints.asgi import NoDelayHttpToolsProtocol

    kind, port, workers = argv[0], int(argv[1]), int(argv[2])
    uvicorn.run(
        f"bench.ceiling_app:{kind}_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        loop="uvloop",
        http=NoDelayHttpToolsProtocol,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
