"""Ingest: single-activity POSTs through the real HTTP server (uvicorn) at a fixed concurrency —
requests/s and latency percentiles — against one request at a time."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from backend.bootstrap import build_runtime
from backend.services.enrollment import create_company, enroll_employee
from backend.services.integrations import add_binding
from backend.settings import Settings
from bench.bench_log import postgres_url
from bench.common import Row, percentile
from bench.server import BenchServer

CONCURRENCY = 32
EMPLOYEES = 50


BASE = datetime.now(UTC) - timedelta(hours=1)
LOAD_ENV = {
    # Measuring throughput, not the anti-abuse rules: lift the per-employee rate limits.
    "CARBON_EMPLOYEE_ACTIVITIES_PER_HOUR": "10000",
    "CARBON_EMPLOYEE_ACTIVITIES_PER_DAY": "100000",
    "CARBON_ANCHOR_INTERVAL_S": "2",
}


def _body(i: int, employees: int = EMPLOYEES) -> dict[str, object]:
    # Each employee's trips 45 minutes apart: distinct trips, never taken for duplicates.
    when = BASE - timedelta(minutes=45 * (i // employees))
    return {"type": "metro", "occurred_at": when.isoformat(), "distance_km": 1 + (i % 300) / 10}


async def _drive(
    url: str, tokens: list[str], total: int, concurrency: int, first: int = 0
) -> tuple[float, list[float], int]:
    """Sends requests ``first`` … ``first + total - 1`` (each a distinct trip) at ``concurrency``."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(first, first + total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                headers = {
                    "Authorization": f"Bearer {tokens[i % len(tokens)]}",
                    "Idempotency-Key": uuid.uuid4().hex,
                }
                t0 = time.perf_counter()
                response = await client.post("/mp/v1/activities", json=_body(i), headers=headers)
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 201:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return total / elapsed, latencies, errors


def run(quick: bool = False, database_url: str | None = None, label: str = "sqlite") -> list[Row]:
    total = 2000 if quick else 10_000
    env = dict(LOAD_ENV)
    if database_url:
        env["CARBON_DATABASE_URL"] = database_url
    rows = []
    with tempfile.TemporaryDirectory() as tmp, BenchServer(Path(tmp) / "var", env) as server:
        tokens = [
            server.cli("dev-token", "--role", "employee", "--subject", f"bench-{i}", "--org", "acme")
            for i in range(EMPLOYEES)
        ]
        asyncio.run(_drive(server.url, tokens, 200, CONCURRENCY))  # warm-up
        naive_total = max(200, total // 10)
        naive_rate, naive_lat, _ = asyncio.run(_drive(server.url, tokens, naive_total, 1, first=200))
        rate, latencies, errors = asyncio.run(
            _drive(server.url, tokens, total, CONCURRENCY, first=200 + naive_total)
        )
    note = f"{total} requests, concurrency {CONCURRENCY}, {errors} non-201"
    rows.append(
        Row(
            "ingest",
            f"single-activity POST requests/s [{label}]",
            rate,
            "req/s",
            naive=naive_rate,
            target=">= 1,000",
            note=note + "; naive: one request at a time",
        )
    )
    for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        rows.append(
            Row(
                "ingest",
                f"POST latency {name} at concurrency {CONCURRENCY} [{label}]",
                percentile(latencies, q) * 1000,
                "ms",
                naive=percentile(naive_lat, q) * 1000,
                target="p99 < 50 ms" if name == "p99" else "",
            )
        )
    return rows


BATCH = 500
BULK_EMPLOYEES = 200


def _signed(secret: str, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Carbon-Timestamp": stamp,
        "X-Carbon-Signature": f"v1={digest}",
        "Content-Type": "application/json",
    }


def _batch(start: int, size: int) -> bytes:
    records = []
    for i in range(start, start + size):
        employee = i % BULK_EMPLOYEES
        when = BASE - timedelta(minutes=45 * (i // BULK_EMPLOYEES))
        records.append(
            {
                "record_id": f"gate-{i:08d}",
                "account": f"card-{employee:05d}",
                "type": "metro",
                "occurred_at": when.isoformat(),
                "distance_km": 1 + (i % 300) / 10,
                "duration_min": 30,
            }
        )
    return json.dumps({"records": records}).encode()


def _enroll_and_bind(data_dir: Path) -> None:
    """Employees enrolled with transit cards bound (consented) a month ago, through the services.

    Consent is not retroactive, and each employee's trips must be distinct trips (45 minutes
    apart), so the cards must have been bound long before the trips the bench delivers: that
    history is set up in-process before the server starts, on the same data dir.
    """
    settings = Settings(data_dir=data_dir)
    runtime = build_runtime(settings, with_chain=False)
    now = datetime.now(UTC)
    create_company(runtime.db, "acme", "Acme", now)
    for employee in range(BULK_EMPLOYEES):
        enrolled = enroll_employee(
            runtime.db, "acme", f"B{employee:05d}", None, None, timedelta(days=7), "bench", now
        )
        add_binding(
            runtime.db,
            enrolled.employee.id,
            "transit_card",
            f"card-{employee:05d}",
            None,
            runtime.subject_key,
            now - timedelta(days=30),
        )
    runtime.db.dispose()


def run_bulk(quick: bool = False) -> list[Row]:
    """Integration batches (500 signed records per delivery): activities recorded per second."""
    total = 2000 if quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "var"
        _enroll_and_bind(data_dir)
        with (
            BenchServer(data_dir, dict(LOAD_ENV)) as server,
            httpx.Client(base_url=server.url, timeout=300) as client,
        ):
            operator = server.cli("dev-token", "--role", "operator", "--subject", "bench-operator")
            source = client.post(
                "/api/v1/integrations/sources",
                headers={"Authorization": f"Bearer {operator}"},
                json={
                    "id": "bench-gates",
                    "name": "Bench gates",
                    "kind": "transit_gate",
                    "activity_types": ["metro"],
                    "max_records_per_min": 100_000,
                },
            )
            source.raise_for_status()
            secret = source.json()["secret"]
            outcomes: dict[str, int] = {}
            start = time.perf_counter()
            for offset in range(0, total, BATCH):
                body = _batch(offset, BATCH)
                response = client.post(
                    "/integrations/v1/bench-gates/records", content=body, headers=_signed(secret, body)
                )
                response.raise_for_status()
                for result in response.json()["results"]:
                    outcomes[result["outcome"]] = outcomes.get(result["outcome"], 0) + 1
            elapsed = time.perf_counter() - start
    recorded = outcomes.get("accepted", 0) + outcomes.get("flagged", 0)
    return [
        Row(
            "ingest",
            "bulk path: activities/s (signed batches of 500)",
            recorded / elapsed,
            "activities/s",
            target=">= 20,000",
            note=f"{total} records in {elapsed:.1f} s; outcomes {outcomes}",
        )
    ]


def run_postgres(quick: bool = False) -> list[Row]:
    """The single-POST benchmark with PostgreSQL as the database."""
    with postgres_url() as url:
        return run(quick, database_url=url, label="postgres")
