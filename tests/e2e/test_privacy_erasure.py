"""Erasure against a running `carbon-ledger serve`: `carbon-ledger privacy erase` on the server's
database, then the receipt an employee kept, the log and verify-log all still verify, and nothing
the employee typed is in the log."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LedgerServer

pytestmark = pytest.mark.anvil

PHONE = "13912345678"
ID_CARD = "44030619900101123X"


def _wait_receipt(server: LedgerServer, token: str, leaf_index: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = httpx.get(f"{server.url}/audit/v1/receipts/{leaf_index}", headers=_auth(token))
        assert response.status_code in (200, 202), response.text
        receipt: dict[str, Any] = response.json()
        if receipt.get("status") != "pending":
            return receipt
        time.sleep(0.3)
    raise AssertionError(f"leaf {leaf_index} not anchored within 60 s")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_cli_erasure_keeps_receipts_and_log_valid(ledger_server: LedgerServer, tmp_path: Path) -> None:
    employee = ledger_server.token(subject="emp-erase-1")
    operator = ledger_server.token(role="operator", subject="ops-1", org="")
    auditor = ledger_server.token(role="auditor", subject="aud-1", org="")
    trips = []
    for hours, extra in ((3, {"evidence_ref": f"ticket photo, phone {PHONE}"}), (6, {})):
        body = {
            "type": "metro",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=hours)).isoformat(),
            "distance_km": 9,
            **extra,
        }
        created = httpx.post(
            f"{ledger_server.url}/mp/v1/activities",
            json=body,
            headers={**_auth(employee), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert created.status_code == 201, created.text
        trips.append(created.json())
    reversal = httpx.post(
        f"{ledger_server.url}/api/v1/activities/{trips[1]['id']}/reversal",
        json={"reason_code": "other", "note": f"same trip, ID card {ID_CARD}"},
        headers=_auth(operator),
    )
    assert reversal.status_code == 201, reversal.text
    kept = _wait_receipt(ledger_server, auditor, reversal.json()["leaf_index"])
    receipt = _wait_receipt(ledger_server, auditor, trips[0]["leaf_index"])

    erased = ledger_server.cli("privacy", "erase", "--subject", "emp-erase-1", "--yes", check=False)
    assert erased.returncode == 0, erased.stdout + erased.stderr
    result = json.loads(erased.stdout)
    assert result["created"] and result["erased"]["texts"] == 2 and result["erased"]["activities"] == 2
    again = ledger_server.cli("privacy", "erase", "--subject", "emp-erase-1", "--yes", check=False)
    assert again.returncode == 0 and json.loads(again.stdout)["id"] == result["id"]
    unknown = ledger_server.cli("privacy", "erase", "--subject", "nobody", "--yes", check=False)
    assert unknown.returncode == 2 and "no employee or records of subject nobody" in unknown.stderr
    _wait_receipt(ledger_server, auditor, result["leaf_index"])

    leaves = httpx.get(f"{ledger_server.url}/audit/v1/leaves", headers=_auth(auditor)).json()["leaves"]
    logged = b"".join(bytes.fromhex(leaf["leaf"][2:]) for leaf in leaves).decode()
    assert PHONE not in logged and ID_CARD not in logged and "emp-erase-1" not in logged

    path = tmp_path / "receipt.json"
    for kept_receipt in (receipt, kept):
        path.write_text(json.dumps(kept_receipt))
        verified = ledger_server.cli(
            "audit", "verify-receipt", str(path), "--rpc", ledger_server.rpc_url, check=False
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
    verified_log = ledger_server.verify_log(auditor)
    assert verified_log.returncode == 0, verified_log.stdout + verified_log.stderr
    assert verified_log.stdout.startswith("valid:")
