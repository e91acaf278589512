"""The README's walk-through, over HTTP against a running `carbon-ledger serve`."""

from __future__ import annotations

import json
import re
import socket
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LedgerServer
from tests.waiting import wait_for

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = pytest.mark.anvil

METRO = {"type": "metro", "occurred_at": "2026-11-20T08:10:00+08:00", "distance_km": 12.4}


def _headers(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def _wait_receipt(server: LedgerServer, token: str, activity_id: str) -> dict[str, Any]:
    def receipt() -> dict[str, Any] | None:
        response = httpx.get(f"{server.url}/mp/v1/activities/{activity_id}/receipt", headers=_headers(token))
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
        return None

    return wait_for(f"the receipt of activity {activity_id}", receipt, interval_s=0.3)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _readme_output(command: str) -> re.Pattern[str]:
    """The output the README shows after ``command`` (its ``# valid: …`` line), with ids and
    hashes shortened there (``3f0c…``, ``0x…``) matching any."""
    lines = README.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if f"audit {command}" in line and "```" not in line)
    shown = next(line for line in lines[at:] if line.startswith("# valid:")).removeprefix("# ")
    parts = re.split(r"[0-9a-fx]*…", shown)
    return re.compile(r"[0-9a-fA-Fx-]+".join(re.escape(part) for part in parts))


def test_activity_to_verified_receipt_and_restart(ledger_server: LedgerServer, tmp_path: Path) -> None:
    token = ledger_server.token(via_cli=True)
    key = str(uuid.uuid4())
    created = httpx.post(f"{ledger_server.url}/mp/v1/activities", json=METRO, headers=_headers(token, key))
    assert created.status_code == 201, created.text
    activity = created.json()
    assert activity["co2e_avoided_g"] == 579 and activity["points"] == 57
    assert activity["factor_set"] == "park-default-2026.1"
    assert {f["id"] for f in activity["calculation"]["factors"]} == {
        "rail.metro.cn-beijing",
        "mix.city.cn",
    }

    replay = httpx.post(f"{ledger_server.url}/mp/v1/activities", json=METRO, headers=_headers(token, key))
    assert replay.status_code == 200 and replay.json() == activity

    receipt = _wait_receipt(ledger_server, token, activity["id"])
    assert receipt["leaf_index"] == activity["leaf_index"]
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    verified = ledger_server.cli(
        "audit", "verify-receipt", str(path), "--rpc", ledger_server.rpc_url, check=False
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("valid:")
    assert _readme_output("verify-receipt").fullmatch(verified.stdout.strip()), verified.stdout

    tampered = dict(receipt, leaf=receipt["leaf"].replace("3132", "3133", 1))
    assert tampered["leaf"] != receipt["leaf"]
    path.write_text(json.dumps(tampered))
    rejected = ledger_server.cli(
        "audit", "verify-receipt", str(path), "--rpc", ledger_server.rpc_url, check=False
    )
    assert rejected.returncode == 1 and rejected.stdout.startswith("invalid:")

    auditor = ledger_server.token(role="auditor", subject="aud-1", org="")
    verified_log = ledger_server.verify_log(auditor)
    assert verified_log.returncode == 0, verified_log.stdout + verified_log.stderr
    assert _readme_output("verify-log").fullmatch(verified_log.stdout.strip()), verified_log.stdout

    contract = receipt["anchor"]["contract"]
    assert ledger_server.stop() == 0
    assert not _port_open(ledger_server.anvil_port), "Ctrl-C must stop the Anvil it started"
    assert not _port_open(ledger_server.api_port)

    ledger_server.start()  # same data dir: reuses the database, the chain state and the contract
    again = httpx.get(
        f"{ledger_server.url}/mp/v1/activities/{activity['id']}/receipt", headers=_headers(token)
    )
    assert again.status_code == 200 and again.json()["anchor"]["contract"] == contract
    path.write_text(json.dumps(again.json()))
    assert (
        ledger_server.cli(
            "audit", "verify-receipt", str(path), "--rpc", ledger_server.rpc_url, check=False
        ).returncode
        == 0
    )


BAD_INPUTS = [
    ("no key", METRO, None, 422, "Idempotency-Key"),
    ("short key", METRO, "abc", 422, "Idempotency-Key"),
    ("unknown type", {**METRO, "type": "teleport"}, "k-unknown-type", 422, "type"),
    ("negative distance", {**METRO, "distance_km": -3}, "k-negative-1", 422, "distance_km"),
    ("absurd distance", {**METRO, "distance_km": 1e9}, "k-absurd-001", 422, "distance_km"),
    ("string distance", {**METRO, "distance_km": "far"}, "k-string-001", 422, "distance_km"),
    ("future", {**METRO, "occurred_at": "2099-01-01T00:00:00+08:00"}, "k-future-001", 422, "occurred_at"),
    ("no offset", {**METRO, "occurred_at": "2026-11-20T08:10:00"}, "k-offset-001", 422, "occurred_at"),
    ("extra field", {**METRO, "bonus": 5}, "k-extra-0001", 422, "bonus"),
    (
        "missing distance",
        {"type": "metro", "occurred_at": METRO["occurred_at"]},
        "k-missing-01",
        422,
        "distance_km",
    ),
]


def test_bad_input_gets_a_problem_naming_the_field_and_stores_nothing(ledger_server: LedgerServer) -> None:
    token = ledger_server.token(subject="emp-bad")
    for name, body, key, status, field in BAD_INPUTS:
        response = httpx.post(
            f"{ledger_server.url}/mp/v1/activities", json=body, headers=_headers(token, key)
        )
        assert response.status_code == status, (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), name
        problem = response.json()
        assert field in {e["field"] for e in problem.get("errors", [])} or field in problem["detail"], (
            name,
            problem,
        )
        assert problem["title_zh"] and problem["title_en"]

    malformed = httpx.post(
        f"{ledger_server.url}/mp/v1/activities",
        content=b'{"type": "metro",',
        headers={**_headers(token, "k-malformed1"), "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400 and malformed.json()["errors"][0]["field"] == "body"

    listing = httpx.get(f"{ledger_server.url}/mp/v1/activities", headers=_headers(token))
    assert listing.status_code == 200 and listing.json()["total"] == 0

    key = "k-conflict-01"
    assert (
        httpx.post(
            f"{ledger_server.url}/mp/v1/activities", json=METRO, headers=_headers(token, key)
        ).status_code
        == 201
    )
    other = {**METRO, "distance_km": 3}
    conflict = httpx.post(f"{ledger_server.url}/mp/v1/activities", json=other, headers=_headers(token, key))
    assert conflict.status_code == 409
    assert httpx.get(f"{ledger_server.url}/mp/v1/activities", headers=_headers(token)).json()["total"] == 1


def test_authentication_and_ownership(ledger_server: LedgerServer) -> None:
    anonymous = httpx.post(f"{ledger_server.url}/mp/v1/activities", json=METRO)
    assert anonymous.status_code == 401
    forged = httpx.get(f"{ledger_server.url}/mp/v1/activities", headers={"Authorization": "Bearer nonsense"})
    assert forged.status_code == 401
    alice, bob = ledger_server.token(subject="alice"), ledger_server.token(subject="bob")
    created = httpx.post(
        f"{ledger_server.url}/mp/v1/activities", json=METRO, headers=_headers(alice, "k-alice-0001")
    )
    activity_id = created.json()["id"]
    for path in (f"/mp/v1/activities/{activity_id}", f"/mp/v1/activities/{activity_id}/receipt"):
        assert httpx.get(ledger_server.url + path, headers=_headers(bob)).status_code == 404
    manager = ledger_server.token(role="park_manager", subject="pm-1")
    assert httpx.get(f"{ledger_server.url}/mp/v1/activities", headers=_headers(manager)).status_code == 403
    assert httpx.get(f"{ledger_server.url}/audit/v1/checkpoints", headers=_headers(alice)).status_code == 403
