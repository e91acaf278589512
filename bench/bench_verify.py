"""Audit: time and peak memory of `carbon-ledger audit verify-log` over a large log, through the real
API and chain, against the naive replay that holds every leaf hash in memory."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from backend.adapters import migrations
from backend.adapters.database import create_database
from backend.domain.log import merkle
from bench.bench_log import append_batched_from
from bench.common import Row
from bench.server import BenchServer

BIN = Path(sys.executable).parent


def _build(data_dir: Path, leaves: int) -> None:
    db = create_database(f"sqlite:///{data_dir / 'carbon-ledger.sqlite3'}", sqlite_synchronous="NORMAL")
    migrations.upgrade(db.engine)
    append_batched_from(db, 0, leaves)
    db.dispose()


def _wait_anchored(server: BenchServer, token: str, size: int) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        response = httpx.get(
            server.url + "/audit/v1/checkpoints", headers={"Authorization": f"Bearer {token}"}
        )
        checkpoints = response.json().get("checkpoints", []) if response.status_code == 200 else []
        if checkpoints and checkpoints[-1]["tree_size"] >= size:
            return
        time.sleep(1)
    raise RuntimeError("log was not anchored")


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MiB) of one child process (its own rusage, from wait4)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode()
    if child.returncode != 0:
        raise RuntimeError(f"verify-log failed: {text}")
    return elapsed, usage.ru_maxrss / 1024, text.strip().splitlines()[-1]


def _naive_replay(url: str, token: str) -> tuple[float, float]:
    """All leaf hashes in a list, root recomputed recursively: memory grows with the log."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    hashes: list[bytes] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        index = 0
        while True:
            page = client.get("/audit/v1/leaves", params={"start": index, "limit": 1000}).json()["leaves"]
            if not page:
                break
            hashes.extend(merkle.leaf_hash(bytes.fromhex(item["leaf"][2:])) for item in page)
            index = page[-1]["index"] + 1

    def mth(items: list[bytes]) -> bytes:
        if len(items) == 1:
            return items[0]
        k = 1 << ((len(items) - 1).bit_length() - 1)
        return merkle.node_hash(mth(items[:k]), mth(items[k:]))

    mth(hashes)
    elapsed = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    return elapsed, grown


def run(quick: bool = False) -> list[Row]:
    sizes = [20_000, 100_000] if quick else [100_000, 1_000_000]
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "var"
            data_dir.mkdir()
            _build(data_dir, size)
            with BenchServer(data_dir, {"CARBON_ANCHOR_INTERVAL_S": "1"}) as server:
                token = server.cli("dev-token", "--role", "auditor", "--subject", "bench-auditor")
                _wait_anchored(server, token, size)
                cmd = [
                    str(BIN / "carbon-ledger"),
                    "audit",
                    "verify-log",
                    "--api",
                    server.url,
                    "--rpc",
                    server.rpc_url,
                    "--token",
                    token,
                ]
                elapsed, peak, out = _timed(cmd, server.env)
                naive_s, naive_grown = _naive_replay(server.url, token) if size <= 1_000_000 else (None, None)
            rows.append(
                Row(
                    "audit",
                    f"verify-log over {size:,} records",
                    elapsed,
                    "s",
                    naive=naive_s,
                    target="< 60 s at 1M" if size == 1_000_000 else "",
                    note=out[:80],
                )
            )
            rows.append(
                Row(
                    "audit",
                    f"verify-log peak RSS at {size:,} records",
                    peak,
                    "MiB",
                    note=f"naive replay grew this process by {naive_grown:.0f} MiB",
                )
            )
    return rows
