"""Over HTTP against `carbon-ledger serve`: enrollment, sign-in, a consented binding, a signed
delivery from a transit source that ends in an anchored, verifiable receipt, and the refusals."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.services.integrations.integrations import signature_header
from tests.e2e.conftest import LedgerServer
from tests.waiting import wait_for

pytestmark = pytest.mark.anvil


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _deliver(
    server: LedgerServer, secret: str, records: list[dict[str, Any]], key: str | None = None
) -> httpx.Response:
    body = json.dumps({"records": records}).encode()
    stamp, signature = signature_header(key or secret, body)
    headers = {
        "X-Carbon-Timestamp": stamp,
        "X-Carbon-Signature": signature,
        "Content-Type": "application/json",
    }
    return httpx.post(f"{server.url}/integrations/v1/metro-gates/records", content=body, headers=headers)


def test_enrolled_employee_gets_a_verified_receipt_for_a_signed_gate_record(
    ledger_server: LedgerServer, tmp_path: Path
) -> None:
    url = ledger_server.url
    operator = _auth(ledger_server.token(role="operator", subject="op-1", org=""))
    admin = _auth(ledger_server.token(role="company_admin", subject="adm-1", org="acme"))
    assert (
        httpx.post(
            f"{url}/api/v1/companies", json={"id": "acme", "name": "Acme"}, headers=operator
        ).status_code
        == 201
    )
    enrolled = httpx.post(f"{url}/api/v1/companies/acme/employees", json={"employee_no": "E1"}, headers=admin)
    assert enrolled.status_code == 201, enrolled.text
    code = enrolled.json()["invitation_code"]
    login = httpx.post(f"{url}/mp/v1/auth/login", json={"code": "dev:wx-e1", "invitation_code": code})
    assert login.status_code == 200, login.text
    employee = _auth(login.json()["access_token"])
    source = httpx.post(
        f"{url}/api/v1/integrations/sources",
        json={
            "id": "metro-gates",
            "name": "Metro gates",
            "kind": "transit_gate",
            "activity_types": ["metro"],
        },
        headers=operator,
    )
    assert source.status_code == 201, source.text
    secret = source.json()["secret"]
    # The gates' operator issues a one-time code for the card to its holder, who binds it with it.
    request = json.dumps({"account": "3104887011229"}).encode()
    stamp, signature = signature_header(secret, request)
    issued = httpx.post(
        f"{url}/integrations/v1/metro-gates/binding-codes",
        content=request,
        headers={"X-Carbon-Timestamp": stamp, "X-Carbon-Signature": signature},
    )
    assert issued.status_code == 201, issued.text
    card = {
        "kind": "transit_card",
        "identifier": "3104887011229",
        "consent": True,
        "code": issued.json()["code"],
    }
    assert httpx.post(f"{url}/mp/v1/bindings", json=card, headers=employee).status_code == 201

    when = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    record = {
        "record_id": "G-1",
        "account": "3104887011229",
        "type": "metro",
        "occurred_at": when,
        "distance_km": 12.4,
        "duration_min": 28,
    }
    assert _deliver(ledger_server, secret, [record], key="wrong").status_code == 401
    delivered = _deliver(ledger_server, secret, [record])
    assert delivered.status_code == 200, delivered.text
    result = delivered.json()["results"][0]
    assert result["outcome"] == "accepted"
    manual = {"type": "metro", "occurred_at": when, "distance_km": 12.0}
    duplicate = httpx.post(
        f"{url}/mp/v1/activities", json=manual, headers={**employee, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert duplicate.status_code == 422 and duplicate.json()["rule"] == "duplicate"

    def anchored() -> httpx.Response | None:
        response = httpx.get(f"{url}/mp/v1/activities/{result['activity_id']}/receipt", headers=employee)
        return response if response.status_code == 200 else None

    receipt = wait_for("the integration record's receipt", anchored, interval_s=0.3)
    assert b"3104887011229" not in bytes.fromhex(receipt.json()["leaf"].removeprefix("0x"))
    path = tmp_path / "receipt.json"
    path.write_text(receipt.text)
    verified = ledger_server.cli(
        "audit", "verify-receipt", str(path), "--rpc", ledger_server.rpc_url, check=False
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
