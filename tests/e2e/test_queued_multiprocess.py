"""Queued sequencing across processes on PostgreSQL: ``carbon-ledger serve --workers 2`` accepts,
``carbon-ledger worker`` holds the sequencer and anchorer roles.

Activities posted at once through both API processes answer with ``leaf_index`` null; the elected
sequencer logs them (dense indices, each once), their receipts are anchored and verify, and the
auditor's ``verify-log`` passes over the whole log.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.browserkit import wait_for
from tests.e2e.conftest import BIN, LedgerServer
from tests.e2e.faultkit import metro
from tests.e2e.test_roles_multiprocess import _lease, _pid_of

pytestmark = [pytest.mark.postgres, pytest.mark.anvil]

POSTS = 40


def _post(server: LedgerServer, token: str, seq: int) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/mp/v1/activities",
        json=metro(seq),
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"queued-{seq:06d}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_two_api_processes_accept_and_one_worker_sequences(tmp_path: Path, postgres_url: str) -> None:
    data_dir = tmp_path / "var"
    env = {
        "CARBON_DATABASE_URL": postgres_url,
        "CARBON_SEQUENCING": "queued",
        "CARBON_ROLE_LEASE_S": "3",
        "CARBON_SCHEDULER_ENABLED": "false",  # every role runs in the worker
    }
    server = LedgerServer(data_dir, env, args=("serve", "--workers", "2"))
    data_dir.mkdir(parents=True)
    with (data_dir / "worker.log").open("ab") as log:
        worker = subprocess.Popen(
            [str(BIN / "carbon-ledger"), "worker"], env=server.env, stdout=log, stderr=subprocess.STDOUT
        )
    engine = create_engine(postgres_url)
    try:
        wait_for("the worker to take the sequencer role", lambda: _lease(engine, "sequencer"), 120)
        server.start()
        wait_for(
            "both API processes to start",
            lambda: server.log_path.read_text().count("Application startup complete") >= 2,
            180,
        )
        tokens = [server.token(subject=f"emp-{i:03d}") for i in range(4)]
        with ThreadPoolExecutor(8) as pool:
            posted = list(pool.map(lambda seq: (seq, _post(server, tokens[seq % 4], seq)), range(POSTS)))
        assert all(body["leaf_index"] is None for _, body in posted)  # accepted, not yet sequenced

        def receipt(seq: int, activity_id: str) -> dict[str, Any] | None:
            response = httpx.get(
                f"{server.url}/mp/v1/activities/{activity_id}/receipt",
                headers={"Authorization": f"Bearer {tokens[seq % 4]}"},
                timeout=10,
            )
            return response.json() if response.status_code == 200 else None

        indices = set()
        for seq, body in posted:
            found = wait_for("an anchored receipt", lambda s=seq, b=body: receipt(s, b["id"]), 90)
            again = httpx.get(
                f"{server.url}/mp/v1/activities/{body['id']}",
                headers={"Authorization": f"Bearer {tokens[seq % 4]}"},
                timeout=10,
            ).json()
            assert again["leaf_index"] == found["leaf_index"] < found["tree_size"]
            indices.add(found["leaf_index"])
        assert len(indices) == POSTS

        with engine.connect() as conn:
            leaves = conn.execute(text("SELECT idx, kind, record_id FROM log_leaves ORDER BY idx")).all()
            queued = conn.execute(text("SELECT count(*) FROM log_queue")).scalar()
            unsequenced = conn.execute(
                text("SELECT count(*) FROM activities WHERE leaf_index IS NULL")
            ).scalar()
        assert [idx for idx, _, _ in leaves] == list(range(len(leaves)))
        assert len({(kind, rid) for _, kind, rid in leaves}) == len(leaves)
        assert sum(kind == "activity" for _, kind, _ in leaves) == POSTS
        assert (queued, unsequenced) == (0, 0)
        lease = _lease(engine, "sequencer")
        assert lease is not None and _pid_of(lease[0]) == worker.pid

        verified = server.verify_log(server.token(role="auditor", subject="aud-q", org=""))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert server.stop() == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
        engine.dispose()
    assert not server.log_leaks(), f"serve.log gives away: {server.log_leaks()}"
