"""Redemptions per second under contention, on SQLite and PostgreSQL (a benchmark, not a test).

    .venv/bin/python -m bench.redemptions [--threads 16] [--requests 600] [--postgres URL]

Three scenarios, each on a fresh database: many employees on one reward (the catalogue's hot item),
one employee hammering one balance (double taps, two phones), and a crowd after a small stock (most
requests refused). Every redemption is a full write transaction: the log head lock, the reward and
account row locks, the transfer, its Merkle leaf and nodes, the voucher. PostgreSQL is skipped when
it is not reachable.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from backend.adapters import migrations
from backend.adapters.database import Database, create_database
from backend.domain.errors import CarbonLedgerError
from backend.domain.points import points as ledger
from backend.domain.points.points import Transfer, TransferKind
from backend.services.identity.tokens import Principal
from backend.services.points import points, rewards

KEY = b"b" * 32
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
OPERATOR = Principal("operator", "bench-op", None)


@contextmanager
def sqlite_db() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as tmp:
        db = create_database(f"sqlite:///{tmp}/bench.sqlite3")
        migrations.upgrade(db.engine)
        try:
            yield db
        finally:
            db.dispose()


@contextmanager
def postgres_db(admin_url: str, pool: int) -> Iterator[Database]:
    name = f"carbon_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = create_database(
        make_url(admin_url).set(database=name).render_as_string(hide_password=False), pool_size=pool
    )
    try:
        migrations.upgrade(db.engine)
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fund(db: Database, subject: str, amount: int) -> None:
    account = ledger.employee_account(subject)
    transfer = Transfer(str(uuid.uuid4()), ledger.PARK_ISSUANCE, account, amount, TransferKind.ISSUANCE)
    with db.write_sessions() as session, session.begin():
        points.post_transfer(session, transfer, subject=None, now=NOW, org_id="acme")


def reward(db: Database, price: int, stock: int) -> str:
    spec = rewards.RewardSpec(name="bench", price_points=price, stock=stock)
    return rewards.create_reward(db, OPERATOR, spec, {}, None, 3600, NOW)[0].id


def run(threads: int, requests: int, attempt: Callable[[int], object]) -> tuple[float, Counter[str]]:
    def one(i: int) -> str:
        try:
            attempt(i)
        except CarbonLedgerError as exc:
            return type(exc).__name__
        return "redeemed"

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = Counter(pool.map(one, range(requests)))
    return time.perf_counter() - started, outcomes


def scenarios(db: Database, threads: int, requests: int) -> list[tuple[str, float, Counter[str]]]:
    results = []
    employees = 100
    for i in range(employees):
        fund(db, f"e{i}", 10**6)
    hot = reward(db, 10, 10**6)
    elapsed, outcomes = run(
        threads,
        requests,
        lambda i: rewards.redeem(
            db, KEY, Principal("employee", f"e{i % employees}", "acme"), hot, f"h-{i}", NOW
        ),
    )
    results.append((f"{employees} employees, one reward", elapsed, outcomes))

    fund(db, "solo", requests * 10)
    item = reward(db, 10, 10**6)
    elapsed, outcomes = run(
        threads,
        requests,
        lambda i: rewards.redeem(db, KEY, Principal("employee", "solo", "acme"), item, f"s-{i}", NOW),
    )
    results.append(("one employee, one balance", elapsed, outcomes))

    scarce = reward(db, 10, 20)
    elapsed, outcomes = run(
        threads,
        requests,
        lambda i: rewards.redeem(
            db, KEY, Principal("employee", f"e{i % employees}", "acme"), scarce, f"x-{i}", NOW
        ),
    )
    results.append(("crowd after 20 units", elapsed, outcomes))
    audit = points.audit_ledger(db)
    assert audit.ok, audit
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CARBON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    backends: list[tuple[str, Callable[[], object]]] = [("sqlite", sqlite_db)]
    backends.append(("postgresql", lambda: postgres_db(args.postgres, args.threads)))
    for name, factory in backends:
        try:
            with factory() as db:  # type: ignore[attr-defined]
                for label, elapsed, outcomes in scenarios(db, args.threads, args.requests):
                    done = outcomes["redeemed"]
                    rates = f"{args.requests / elapsed:6.0f} requests/s, {done / elapsed:6.0f} redeemed/s"
                    print(f"{name:10} {label:28} {args.threads} threads: {rates}  {dict(outcomes)}")
        except Exception as exc:  # a missing PostgreSQL is reported, not fatal
            print(f"{name:10} skipped: {exc.__class__.__name__}: {exc}")


if __name__ == "__main__":
    main()
