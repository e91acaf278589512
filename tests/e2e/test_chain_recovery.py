"""`make run` after the local chain lost its state: a clear refusal, then `chain reanchor` restores it."""

from __future__ import annotations

import itertools
import json
import subprocess
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import BIN, START_TIMEOUT_S, LedgerServer
from tests.waiting import wait_for

pytestmark = pytest.mark.anvil

METRO = {"type": "metro", "occurred_at": "2026-11-20T08:10:00+08:00", "distance_km": 7.5}


def _headers(token: str, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **({"Idempotency-Key": key} if key else {})}


_TRIPS = itertools.count()


def _record(server: LedgerServer, token: str) -> dict[str, Any]:
    # Trips an hour apart: the same trip twice would be refused as a duplicate.
    when = datetime.fromisoformat(str(METRO["occurred_at"])) - timedelta(hours=next(_TRIPS))
    body = {**METRO, "occurred_at": when.isoformat()}
    created = httpx.post(
        f"{server.url}/mp/v1/activities", json=body, headers=_headers(token, str(uuid.uuid4()))
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def _receipt(server: LedgerServer, token: str, activity_id: str, timeout_s: float = 30) -> httpx.Response:

    def settled() -> httpx.Response | None:
        response = httpx.get(f"{server.url}/mp/v1/activities/{activity_id}/receipt", headers=_headers(token))
        return None if response.status_code == 202 else response

    return wait_for(f"the receipt of activity {activity_id} to be served or refused", settled, timeout_s, 0.3)


def _start_degraded(server: LedgerServer) -> httpx.Response:
    """Starts `serve` and waits for any /readyz answer (start() insists on a healthy /healthz)."""
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(
            [str(BIN / "carbon-ledger"), "serve"], env=server.env, stdout=log, stderr=subprocess.STDOUT
        )
    process = server.process

    def answer() -> httpx.Response:
        assert process.poll() is None, server.log_path.read_text()[-3000:]
        return httpx.get(server.url + "/readyz", timeout=5)

    return wait_for("serve to answer /readyz", answer, START_TIMEOUT_S, 0.3, not_yet=(httpx.HTTPError,))


def test_state_loss_is_refused_then_reanchored_while_serving(
    ledger_server: LedgerServer, tmp_path: Path
) -> None:
    employee = ledger_server.token()
    first = _record(ledger_server, employee)
    assert _receipt(ledger_server, employee, first["id"]).status_code == 200
    assert ledger_server.stop() == 0
    (ledger_server.data_dir / "anvil-state.json").unlink()  # the chain's state is gone

    ready = _start_degraded(ledger_server)
    try:
        assert ready.status_code == 503
        assert httpx.get(ledger_server.url + "/healthz").status_code == 200  # alive, not ready
        chain = ready.json()["checks"]["chain_identity"]
        assert chain["state"] == "mismatch" and "chain reanchor" in chain["action"]
        log = ledger_server.log_path.read_text()
        assert "The chain is not the one this ledger anchored to" in log
        assert ".venv/bin/carbon-ledger chain reanchor" in log
        second = _record(ledger_server, employee)  # recording goes on
        refused = _receipt(ledger_server, employee, second["id"], timeout_s=0)
        assert refused.status_code == 503 and refused.json()["type"].endswith("chain-mismatch")

        moved = ledger_server.cli("chain", "reanchor", check=False)
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert "re-anchored 1 checkpoint(s) (move)" in moved.stdout

        wait_for(
            "the chain identity check to pass",
            lambda: httpx.get(ledger_server.url + "/readyz").json()["checks"]["chain_identity"]["ok"],
            interval_s=0.3,
        )
        for activity in (first, second):
            response = _receipt(ledger_server, employee, activity["id"])
            assert response.status_code == 200, response.text
            path = tmp_path / f"{activity['id']}.json"
            path.write_text(json.dumps(response.json()))
            verified = ledger_server.cli("audit", "verify-receipt", str(path), "--rpc", ledger_server.rpc_url)
            assert verified.stdout.startswith("valid:")
        status = ledger_server.cli("chain", "status", "--full")
        assert status.stdout.startswith("chain ok:")
    finally:
        ledger_server.stop()
