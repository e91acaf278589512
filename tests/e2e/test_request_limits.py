"""Oversized bodies and deeply nested JSON are refused before parsing, and the server survives."""

from __future__ import annotations

import httpx
import pytest

from backend.api.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH
from tests.e2e.conftest import LedgerServer

pytestmark = pytest.mark.anvil


def test_deep_json_and_huge_bodies_get_problems_and_the_server_lives(ledger_server: LedgerServer) -> None:
    token = ledger_server.token(subject="limits-1")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "limits-key-0001",
               "Content-Type": "application/json"}  # fmt: skip
    url = f"{ledger_server.url}/mp/v1/activities"
    deep = b"[" * 100_000 + b"]" * 100_000  # this once took the whole process down (SIGSEGV)
    refused = httpx.post(url, content=deep, headers=headers, timeout=30)
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"field": "body", "reason": f"nested deeper than {MAX_JSON_DEPTH} levels"}
    ]
    huge = httpx.post(url, content=b"x" * (MAX_BODY_BYTES + 1), headers=headers, timeout=30)
    assert huge.status_code == 413 and huge.headers["content-type"] == "application/problem+json"
    assert httpx.get(f"{ledger_server.url}/healthz", timeout=10).status_code == 200
    metro = {"type": "metro", "occurred_at": "2026-11-20T08:10:00+08:00", "distance_km": 5}
    fine = httpx.post(url, json=metro, headers=headers, timeout=30)
    assert fine.status_code == 201, fine.text
