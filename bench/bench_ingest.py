"""Ingest: single-activity POSTs through the real HTTP server (uvicorn) at a fixed concurrency —
requests/s and latency percentiles — against one request at a time; and the bulk path.

The load comes from wrk (a C load generator, ``make bench-deps`` installs it): a Python client
spends ~3.5 ms of CPU per request, which on a 2-core machine takes a core away from the server it
measures. The workload is a park's: many employees, each trip distinct (bench/wrk/activities.lua).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from backend.bootstrap.settings import Settings
from backend.bootstrap.startup import build_runtime
from backend.services.identity.binding_codes import issue_code
from backend.services.identity.enrollment import create_company, enroll_employee
from backend.services.identity.tokens import issue_token
from backend.services.integrations.integrations import (
    add_binding,
    binding_hash,
    register_source,
    signature_header,
)
from bench.bench_log import postgres_url
from bench.common import Row
from bench.server import BenchServer

CONCURRENCY = 32
EMPLOYEES = 2000
"""A park's worth of people: each sends a few trips in a run, as commuters do."""
WRK_SCRIPT = Path(__file__).parent / "wrk" / "activities.lua"
WRK_THREADS = 2


BASE = datetime.now(UTC) - timedelta(hours=1)
LOAD_ENV = {
    # Measuring throughput, not the anti-abuse rules: lift the per-employee rate limits.
    "CARBON_EMPLOYEE_ACTIVITIES_PER_HOUR": "10000",
    "CARBON_EMPLOYEE_ACTIVITIES_PER_DAY": "100000",
    "CARBON_ANCHOR_INTERVAL_S": "2",
}


def _wrk(url: str, workdir: Path, connections: int, seconds: int, first: int, label: str) -> dict[str, float]:
    """One wrk run; requests are numbered from ``first`` (distinct trips in every phase)."""
    threads = min(WRK_THREADS, connections)
    env = {
        **os.environ,
        "BENCH_TOKENS": str(workdir / "tokens.lua"),
        "BENCH_BASE_EPOCH": str(int(BASE.timestamp())),
    }
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
         "-s", str(WRK_SCRIPT), url, "--", str(first), label, str(threads)],
        env=env, capture_output=True, text=True, check=True, timeout=seconds + 120,
    )  # fmt: skip
    match = re.search(r"^WRK-RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no result: {done.stdout}{done.stderr}")
    result: dict[str, float] = json.loads(match.group(1))
    return result


def _tokens(server: BenchServer, workdir: Path) -> None:
    """Dev tokens of EMPLOYEES employees (signed in-process with the server's secret), as Lua."""
    secret = Settings(data_dir=server.data_dir).token_secret
    tokens = [
        issue_token(secret, "employee", f"bench-{i}", "acme", 3600, kind="dev") for i in range(EMPLOYEES)
    ]
    (workdir / "tokens.lua").write_text("return {" + ",".join(f'"{t}"' for t in tokens) + "}\n")


def run(
    quick: bool = False,
    database_url: str | None = None,
    label: str = "sqlite",
    workers: int = 1,
    sequencing: str = "inline",
) -> list[Row]:
    if shutil.which("wrk") is None:
        print("wrk is not installed (make bench-deps): the single-POST benchmark is skipped")
        return []
    seconds = 5 if quick else 20
    env = dict(LOAD_ENV)
    if database_url:
        env["CARBON_DATABASE_URL"] = database_url
    env["CARBON_SEQUENCING"] = sequencing
    with tempfile.TemporaryDirectory() as tmp, BenchServer(Path(tmp) / "var", env, workers) as server:
        _tokens(server, Path(tmp))
        warm = _wrk(server.url, Path(tmp), CONCURRENCY, 3, 0, "warm")
        naive = _wrk(server.url, Path(tmp), 1, max(3, seconds // 4), int(warm["sent"]) + 1000, "naive")
        main = _wrk(
            server.url, Path(tmp), CONCURRENCY, seconds, int(warm["sent"] + naive["sent"]) + 2000, "main"
        )
    rate = main["requests"] / (main["duration_us"] / 1e6)
    naive_rate = naive["requests"] / (naive["duration_us"] / 1e6)
    note = (
        f"{main['requests']:.0f} requests in {main['duration_us'] / 1e6:.0f} s from wrk, concurrency "
        f"{CONCURRENCY}, {EMPLOYEES} employees; {main['not_201']:.0f} not 201, {main['socket_errors']:.0f} "
        "socket errors"
    )
    rows = [
        Row(
            "ingest",
            f"single-activity POST requests/s [{label}]",
            rate,
            "req/s",
            naive=naive_rate,
            target=">= 1,000",
            note=note + "; naive: one request at a time",
            extra={"main": main, "naive": naive},
        )
    ]
    for name, target in (("p50", ""), ("p95", ""), ("p99", "p99 < 50 ms")):
        rows.append(
            Row(
                "ingest",
                f"POST latency {name} at concurrency {CONCURRENCY} [{label}]",
                main[f"{name}_us"] / 1000,
                "ms",
                naive=naive[f"{name}_us"] / 1000,
                target=target,
            )
        )
    return rows


BATCH = 500
BULK_EMPLOYEES = 1000
"""Card holders the gates report: each passes a few times in a run, 3 hours apart."""


def _signed(secret: str, body: bytes) -> dict[str, str]:
    """A source's signed-delivery headers, made by the ledger's own signing rule."""
    stamp, signed = signature_header(secret, body)
    return {"X-Carbon-Timestamp": stamp, "X-Carbon-Signature": signed, "Content-Type": "application/json"}


def _batch(start: int, size: int) -> bytes:
    records = []
    for i in range(start, start + size):
        employee = i % BULK_EMPLOYEES
        when = BASE - timedelta(hours=3 * (i // BULK_EMPLOYEES))
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

    Consent is not retroactive, and each employee's trips must be distinct trips (3 hours
    apart), so the cards must have been bound long before the trips the bench delivers: that
    history is set up in-process before the server starts, on the same data dir.
    """
    settings = Settings(data_dir=data_dir)
    runtime = build_runtime(settings, with_chain=False)
    now = datetime.now(UTC)
    create_company(runtime.db, "acme", "Acme", now)
    cards, _ = register_source(runtime.db, "bench-cards", "Bench cards", "transit_gate", ["metro"], 10, now)
    bound_at = now - timedelta(days=30)
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
            bound_at,
            code=issue_code(
                runtime.db,
                cards,
                binding_hash(runtime.subject_key, "transit_card", f"card-{employee:05d}"),
                bound_at,
            ).code,
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


def run_postgres_workers(quick: bool = False) -> list[Row]:
    """The single-POST benchmark on PostgreSQL with two API processes (``serve --workers 2``)."""
    with postgres_url() as url:
        return run(quick, database_url=url, label="postgres, 2 workers", workers=2)


def run_postgres_workers_queued(quick: bool = False) -> list[Row]:
    """The same with ``CARBON_SEQUENCING=queued``: the workers accept, one of them sequences."""
    with postgres_url() as url:
        return run(
            quick, database_url=url, label="postgres, 2 workers, queued", workers=2, sequencing="queued"
        )
