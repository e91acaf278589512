"""Earn → balance → redeem → cancel over HTTP against `carbon-ledger serve`, then the anchored proof
that the points flows are in the log and in the checkpoint's meta."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LedgerServer
from tests.waiting import wait_for

pytestmark = pytest.mark.anvil

METRO = {"type": "metro", "occurred_at": "2026-11-20T08:10:00+08:00", "distance_km": 12.4}


@pytest.fixture
def ledger_server(tmp_path: Path) -> Iterator[LedgerServer]:
    """The app with the solo petrol car baseline: the 12.4 km trip earns 125 points (1256 g)."""
    server = LedgerServer(tmp_path / "var", {"CARBON_BASELINE": "petrol_car_solo"})
    server.start()
    try:
        yield server
    finally:
        if server.process and server.process.poll() is None:
            server.stop()


def _auth(token: str, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **({"Idempotency-Key": key} if key else {})}


def _anchored_meta(server: LedgerServer, auditor: str, leaf_index: int) -> dict[str, Any]:
    """The meta of the first anchored checkpoint covering ``leaf_index``."""

    def covering() -> list[dict[str, Any]]:
        listing = httpx.get(f"{server.url}/audit/v1/checkpoints", headers=_auth(auditor)).json()
        return [c for c in listing["checkpoints"] if c["tree_size"] > leaf_index]

    found = wait_for(f"a checkpoint covering leaf {leaf_index}", covering, interval_s=0.3)
    meta: dict[str, Any] = json.loads(min(found, key=lambda c: c["tree_size"])["meta"])
    return meta


def test_earn_redeem_cancel_and_the_anchored_flows(ledger_server: LedgerServer, tmp_path: Path) -> None:
    url = ledger_server.url
    alice = ledger_server.token(subject="emp-alice")
    operator = ledger_server.token(role="operator", subject="op-1", org="")
    auditor = ledger_server.token(role="auditor", subject="aud-1", org="")

    earned = httpx.post(f"{url}/mp/v1/activities", json=METRO, headers=_auth(alice, str(uuid.uuid4())))
    assert earned.status_code == 201 and earned.json()["points"] == 125
    assert httpx.get(f"{url}/mp/v1/points", headers=_auth(alice)).json()["balance"] == 125

    reward = httpx.post(
        f"{url}/api/v1/rewards",
        json={"name": "Bike-share month", "name_zh": "共享单车月卡", "price_points": 100, "stock": 1},
        headers=_auth(operator, str(uuid.uuid4())),
    )
    assert reward.status_code == 201, reward.text
    reward_id = reward.json()["id"]
    assert [r["id"] for r in httpx.get(f"{url}/mp/v1/rewards", headers=_auth(alice)).json()["items"]] == [
        reward_id
    ]

    key = str(uuid.uuid4())
    redeemed = httpx.post(
        f"{url}/mp/v1/redemptions", json={"reward_id": reward_id}, headers=_auth(alice, key)
    )
    assert redeemed.status_code == 201, redeemed.text
    voucher = redeemed.json()
    assert voucher["balance"] == 25 and voucher["voucher_code"].startswith("CL-")
    replay = httpx.post(f"{url}/mp/v1/redemptions", json={"reward_id": reward_id}, headers=_auth(alice, key))
    assert replay.status_code == 200 and replay.json()["voucher_code"] == voucher["voucher_code"]
    sold_out = httpx.post(
        f"{url}/mp/v1/redemptions", json={"reward_id": reward_id}, headers=_auth(alice, str(uuid.uuid4()))
    )
    assert sold_out.status_code == 409 and sold_out.json()["title_zh"] == "奖品已兑完"

    cancelled = httpx.post(f"{url}/mp/v1/redemptions/{voucher['id']}/cancel", headers=_auth(alice))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert httpx.get(f"{url}/mp/v1/points", headers=_auth(alice)).json()["balance"] == 125
    history = httpx.get(f"{url}/mp/v1/points/history", headers=_auth(alice)).json()
    assert [(i["kind"], i["amount"]) for i in history["items"]] == [
        ("refund", 100),
        ("redemption", -100),
        ("issuance", 125),
    ]
    refund_leaf = history["items"][0]["leaf_index"]

    meta = _anchored_meta(ledger_server, auditor, refund_leaf)
    assert meta["points"]["issued"] == 125 and meta["points"]["redeemed"] == 0
    assert meta["points"]["by_kind"]["redemption"] == 100 and meta["points"]["by_kind"]["refund"] == 100
    receipt = httpx.get(f"{url}/audit/v1/receipts/{refund_leaf}", headers=_auth(auditor)).json()
    path = tmp_path / "refund-receipt.json"
    path.write_text(json.dumps(receipt))
    verified = ledger_server.cli(
        "audit", "verify-receipt", str(path), "--rpc", ledger_server.rpc_url, check=False
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "points_transfer" in verified.stdout
    ledger = httpx.get(f"{url}/api/v1/points/ledger", headers=_auth(auditor)).json()
    assert ledger["consistent"] and ledger["sum_of_balances"] == 0
