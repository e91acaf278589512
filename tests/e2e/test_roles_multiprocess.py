"""Background roles elected across processes on one PostgreSQL database and one data directory.

A ``carbon-ledger worker`` and a ``carbon-ledger serve`` run side by side: the worker starts the
managed Anvil and takes the roles; serve shares the node (it must not stop it as an orphan) and
waits. Activities are anchored by the worker; then the worker is killed with SIGKILL, and serve
takes the anchoring role over within the lease time and anchors what follows. Nothing is anchored
twice: one checkpoint row per tree size, and the contract's checkpoints match the database's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from tests.e2e.browserkit import wait_for
from tests.e2e.conftest import BIN, LedgerServer
from tests.e2e.faultkit import metro

pytestmark = [pytest.mark.postgres, pytest.mark.anvil]

LEASE_S = 3.0


def _lease(engine: Any, role: str) -> tuple[str, int] | None:
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT holder, epoch FROM role_leases WHERE role = :r"), {"r": role}
            ).first()
    except ProgrammingError:
        return None  # not migrated yet
    return None if row is None else (str(row[0]), int(row[1]))


def _pid_of(holder: str) -> int:
    return int(holder.split(":")[-2])


def _post(server: LedgerServer, token: str, seq: int) -> str:
    response = httpx.post(
        f"{server.url}/mp/v1/activities",
        json=metro(seq),
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"roles-{seq:06d}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    activity_id: str = response.json()["id"]
    return activity_id


def _receipt(server: LedgerServer, token: str, activity_id: str) -> dict[str, Any] | None:
    response = httpx.get(
        f"{server.url}/mp/v1/activities/{activity_id}/receipt",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.json() if response.status_code == 200 else None


def test_worker_killed_serve_takes_over_anchoring_once(tmp_path: Path, postgres_url: str) -> None:
    data_dir = tmp_path / "var"
    env = {"CARBON_DATABASE_URL": postgres_url, "CARBON_ROLE_LEASE_S": str(LEASE_S)}
    server = LedgerServer(data_dir, env)
    data_dir.mkdir(parents=True)
    with (data_dir / "worker.log").open("ab") as log:
        worker = subprocess.Popen(
            [str(BIN / "carbon-ledger"), "worker"], env=server.env, stdout=log, stderr=subprocess.STDOUT
        )
    engine = create_engine(postgres_url)
    try:
        holder = wait_for("the worker to take the anchoring role", lambda: _lease(engine, "anchor"), 120)
        assert _pid_of(holder[0]) == worker.pid
        anvil_pid = int((data_dir / "anvil-state.json.pid").read_text().split()[0])

        server.start()  # a second process on the same data directory: shares the node
        assert int((data_dir / "anvil-state.json.pid").read_text().split()[0]) == anvil_pid
        assert "shared with another process" in server.log_path.read_text()
        token = server.token()
        first = [_post(server, token, seq) for seq in range(5)]
        for activity_id in first:
            wait_for("a receipt anchored by the worker", lambda a=activity_id: _receipt(server, token, a), 60)
        assert _pid_of(_lease(engine, "anchor")[0]) == worker.pid  # type: ignore[index]

        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        killed_at = time.monotonic()
        assert server.process is not None
        serve_pid = server.process.pid

        def taken() -> tuple[str, int] | None:
            lease = _lease(engine, "anchor")
            return lease if lease is not None and _pid_of(lease[0]) == serve_pid else None

        takeover = wait_for("serve to take the anchoring role over", taken, LEASE_S * 4 + 10)
        taken_after_s = time.monotonic() - killed_at
        assert takeover[1] == 2  # a new epoch
        assert taken_after_s < LEASE_S + 3.0  # the lease time, plus one anchoring tick and a poll
        second = [_post(server, token, seq) for seq in range(5, 10)]
        for activity_id in second:
            wait_for(
                "a receipt anchored after the takeover", lambda a=activity_id: _receipt(server, token, a), 60
            )
        assert os.path.exists(f"/proc/{anvil_pid}") or not Path("/proc").exists()  # the node survived

        with engine.connect() as conn:
            sizes = conn.execute(text("SELECT tree_size, count(*) FROM checkpoints GROUP BY tree_size")).all()
            confirmed = conn.execute(
                text("SELECT count(*) FROM checkpoints WHERE state = 'confirmed'")
            ).scalar()
        assert sizes and all(count == 1 for _, count in sizes), f"a tree size anchored twice: {sizes}"
        assert confirmed is not None and confirmed >= 2  # one before the kill, one after at least
        print(
            f"takeover after {taken_after_s:.1f} s (lease {LEASE_S:g} s); {len(sizes)} checkpoints, "
            f"{confirmed} confirmed, no tree size twice"
        )
        assert server.stop() == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
        engine.dispose()
    assert not server.log_leaks(), f"serve.log gives away: {server.log_leaks()}"


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads process parents from /proc")
def test_serve_with_two_workers_records_and_anchors_through_one_elected_anchorer(
    tmp_path: Path, postgres_url: str
) -> None:
    env = {"CARBON_DATABASE_URL": postgres_url, "CARBON_ROLE_LEASE_S": str(LEASE_S)}
    server = LedgerServer(tmp_path / "var", env, args=("serve", "--workers", "2"))
    server.start()
    engine = create_engine(postgres_url)
    try:
        wait_for(
            "both worker processes to start",
            lambda: server.log_path.read_text().count("Application startup complete") >= 2,
            180,
        )
        token = server.token()
        created = [_post(server, token, seq) for seq in range(8)]
        for activity_id in created:
            wait_for("a receipt", lambda a=activity_id: _receipt(server, token, a), 60)
        lease = _lease(engine, "anchor")
        assert lease is not None
        assert server.process is not None
        assert _parent_of(_pid_of(lease[0])) == server.process.pid  # one of serve's workers anchors
        with engine.connect() as conn:
            sizes = conn.execute(text("SELECT tree_size, count(*) FROM checkpoints GROUP BY tree_size")).all()
        assert sizes and all(count == 1 for _, count in sizes), f"a tree size anchored twice: {sizes}"
        assert server.stop() == 0
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
        engine.dispose()
    assert not server.log_leaks(), f"serve.log gives away: {server.log_leaks()}"
