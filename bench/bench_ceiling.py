"""The stack's own ceiling (issue 15), measured in the same run as the ``ingest`` rows: the same wrk
settings and request bodies against a bare FastAPI route, and against the minimal durable path
(canonical JSON, SHA-256 and a leaf inserted with the row through a group commit) on SQLite and on
PostgreSQL with two workers. The apps are in bench/ceiling_app.py.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from backend.adapters.anvil import free_port
from backend.services.identity.tokens import issue_token
from bench import ceiling_app
from bench.bench_ingest import CONCURRENCY, EMPLOYEES, _wrk
from bench.bench_log import postgres_url
from bench.common import Row


@contextmanager
def _serve(kind: str, workers: int, workdir: Path, database_url: str | None = None) -> Iterator[str]:
    """``python -m bench.ceiling_app`` on a free port until every worker has started; its URL."""
    port = free_port()
    env = dict(os.environ)
    if database_url:
        ceiling_app.prepare(database_url)
        env[ceiling_app.DATABASE_ENV] = database_url
    log_path = workdir / f"{kind}-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.ceiling_app", kind, str(port), str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {kind} app did not start (see {log_path})")
            try:
                started = log_path.read_text(errors="replace").count("Application startup complete")
                if httpx.get(url + "/healthz", timeout=2).status_code == 200 and started >= workers:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _measure(url: str, workdir: Path, seconds: int, label: str) -> list[Row]:
    warm = _wrk(url, workdir, CONCURRENCY, 3, 0, "warm")
    main = _wrk(url, workdir, CONCURRENCY, seconds, int(warm["sent"]) + 1000, "main")
    rate = main["requests"] / (main["duration_us"] / 1e6)
    note = (
        f"{main['requests']:.0f} requests in {main['duration_us'] / 1e6:.0f} s from wrk, concurrency "
        f"{CONCURRENCY}; {main['not_201']:.0f} not 201, {main['socket_errors']:.0f} socket errors"
    )
    rows = [Row("ceiling", f"{label} requests/s", rate, "req/s", note=note, extra={"main": main})]
    for name in ("p50", "p95", "p99"):
        rows.append(
            Row(
                "ceiling",
                f"{label} latency {name} at concurrency {CONCURRENCY}",
                main[f"{name}_us"] / 1000,
                "ms",
            )
        )
    return rows


def run(quick: bool = False) -> list[Row]:
    if shutil.which("wrk") is None:
        print("wrk is not installed (make bench-deps): the ceiling benchmark is skipped")
        return []
    seconds = 5 if quick else 20
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        # Tokens of the same shape as the ingest run's (the apps do not read them): same request size.
        secret = secrets.token_hex(32)
        tokens = [
            issue_token(secret, "employee", f"bench-{i}", "acme", 3600, kind="dev") for i in range(EMPLOYEES)
        ]
        (workdir / "tokens.lua").write_text("return {" + ",".join(f'"{t}"' for t in tokens) + "}\n")
        with _serve("bare", 1, workdir) as url:
            rows += _measure(url, workdir, seconds, "bare FastAPI route [1 worker]")
        sqlite_url = f"sqlite:///{workdir / 'ceiling.sqlite3'}"
        with _serve("durable", 1, workdir, sqlite_url) as url:
            rows += _measure(url, workdir, seconds, "durable insert + leaf [sqlite]")
        with postgres_url() as pg_url, _serve("durable", 2, workdir, pg_url) as url:
            rows += _measure(url, workdir, seconds, "durable insert + leaf [postgres, 2 workers]")
    return rows
