"""Ingest: single-activity POSTs through the real HTTP server (uvicorn) at a fixed concurrency —
requests/s and latency percentiles — against one request at a time."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.common import Row, percentile
from bench.server import BenchServer

CONCURRENCY = 32
EMPLOYEES = 50


def _body(i: int) -> dict[str, object]:
    return {"type": "metro", "occurred_at": "2026-11-20T08:10:00+08:00", "distance_km": 1 + (i % 300) / 10}


async def _drive(url: str, tokens: list[str], total: int, concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
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
    env = {"CARBON_ANCHOR_INTERVAL_S": "2"}
    if database_url:
        env["CARBON_DATABASE_URL"] = database_url
    rows = []
    with tempfile.TemporaryDirectory() as tmp, BenchServer(Path(tmp) / "var", env) as server:
        tokens = [
            server.cli("dev-token", "--role", "employee", "--subject", f"bench-{i}", "--org", "acme")
            for i in range(EMPLOYEES)
        ]
        asyncio.run(_drive(server.url, tokens, 200, CONCURRENCY))  # warm-up
        naive_rate, naive_lat, _ = asyncio.run(_drive(server.url, tokens, max(200, total // 10), 1))
        rate, latencies, errors = asyncio.run(_drive(server.url, tokens, total, CONCURRENCY))
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
