"""The points, rewards and leaderboard endpoints in-process (ASGI), on SQLite and PostgreSQL:
status codes, bilingual problem documents, roles, idempotency keys and privacy."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.adapters.database import Database
from backend.api.app import create_app
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import Settings
from backend.services.identity import enrollment
from backend.services.identity.tokens import issue_token

METRO = {"type": "metro", "occurred_at": "2026-11-20T08:10:00+08:00", "distance_km": 12.4}


class Api:
    """A synchronous face over httpx's ASGI transport: requests go straight into the app."""

    def __init__(self, runtime: Runtime) -> None:
        self.app = create_app(runtime)
        self.settings = runtime.settings

    def token(
        self, role: str, subject: str, org: str | None = "acme", dept: str | None = None
    ) -> dict[str, str]:
        token = issue_token(self.settings.token_secret, role, subject, org, 3600, dept=dept)
        return {"Authorization": f"Bearer {token}"}

    def request(self, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://ledger.test") as client:
                return await client.request(method, url, headers=headers, **kwargs)

        return asyncio.run(send())


@pytest.fixture
def api(db: Database, database_url: str, tmp_path: Path) -> Api:
    # figures here are hand-computed against the solo petrol car baseline
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, scheduler_enabled=False, baseline="petrol_car_solo"
    )
    for company in ("acme", "globex"):  # rules and rewards name companies the park enrolled
        enrollment.create_company(db, company, company.title(), datetime.now(UTC))
    return Api(Runtime(settings=settings, db=db, chain=None, target=None, subject_key=b"s" * 32))


def _key() -> str:
    return str(uuid.uuid4())


def _problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + kind) and body["title_zh"] and body["title_en"]
    return body


def test_earn_redeem_cancel_with_every_refusal(api: Api) -> None:
    alice = api.token("employee", "alice")
    operator = api.token("operator", "op-1", None)
    earned = api.request("POST", "/mp/v1/activities", {**alice, "Idempotency-Key": _key()}, json=METRO)
    assert earned.status_code == 201 and earned.json()["points"] == 125
    assert api.request("GET", "/mp/v1/points", alice).json()["balance"] == 125

    reward_body = {
        "name": "Coffee",
        "name_zh": "咖啡",
        "price_points": 60,
        "stock": 1,
        "per_employee_limit": 1,
    }
    key = _key()
    created = api.request("POST", "/api/v1/rewards", {**operator, "Idempotency-Key": key}, json=reward_body)
    assert created.status_code == 201, created.text
    replay = api.request("POST", "/api/v1/rewards", {**operator, "Idempotency-Key": key}, json=reward_body)
    assert replay.status_code == 200 and replay.json()["id"] == created.json()["id"]
    other = {**reward_body, "stock": 2}
    _problem(
        api.request("POST", "/api/v1/rewards", {**operator, "Idempotency-Key": key}, json=other),
        409,
        "idempotency-conflict",
    )
    coffee = created.json()["id"]
    catalogue = api.request("GET", "/mp/v1/rewards", alice).json()["items"]
    assert [(r["id"], r["name_zh"], r["my_redemptions"]) for r in catalogue] == [(coffee, "咖啡", 0)]

    missing = _problem(
        api.request("POST", "/mp/v1/redemptions", alice, json={"reward_id": coffee}), 422, "invalid-input"
    )
    assert missing["errors"][0]["field"] == "Idempotency-Key"
    key = _key()
    redeemed = api.request(
        "POST", "/mp/v1/redemptions", {**alice, "Idempotency-Key": key}, json={"reward_id": coffee}
    )
    assert redeemed.status_code == 201, redeemed.text
    voucher = redeemed.json()
    assert voucher["voucher_code"].startswith("CL-") and voucher["balance"] == 65
    again = api.request(
        "POST", "/mp/v1/redemptions", {**alice, "Idempotency-Key": key}, json={"reward_id": coffee}
    )
    assert again.status_code == 200 and again.json()["voucher_code"] == voucher["voucher_code"]
    _problem(
        api.request(
            "POST", "/mp/v1/redemptions", {**alice, "Idempotency-Key": key}, json={"reward_id": "other"}
        ),
        409,
        "idempotency-conflict",
    )
    _problem(
        api.request(
            "POST", "/mp/v1/redemptions", {**alice, "Idempotency-Key": _key()}, json={"reward_id": coffee}
        ),
        409,
        "out-of-stock",
    )
    api.request("PATCH", f"/api/v1/rewards/{coffee}", operator, json={"add_stock": 5})
    _problem(
        api.request(
            "POST", "/mp/v1/redemptions", {**alice, "Idempotency-Key": _key()}, json={"reward_id": coffee}
        ),
        409,
        "redemption-limit-reached",
    )
    bob = api.token("employee", "bob")
    poor = _problem(
        api.request(
            "POST", "/mp/v1/redemptions", {**bob, "Idempotency-Key": _key()}, json={"reward_id": coffee}
        ),
        422,
        "insufficient-points",
    )
    assert (poor["balance"], poor["required"], poor["title_zh"]) == (0, 60, "积分不足")
    _problem(
        api.request(
            "POST", "/mp/v1/redemptions", {**bob, "Idempotency-Key": _key()}, json={"reward_id": "nope"}
        ),
        404,
        "not-found",
    )

    cancelled = api.request("POST", f"/mp/v1/redemptions/{voucher['id']}/cancel", alice)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["balance"] == 125
    _problem(api.request("POST", f"/mp/v1/redemptions/{voucher['id']}/cancel", bob), 404, "not-found")
    history = api.request("GET", "/mp/v1/points/history?limit=2", alice).json()
    assert history["total"] == 3 and history["balance"] == 125
    assert [(i["kind"], i["amount"], i["balance_after"]) for i in history["items"]] == [
        ("refund", 60, 125),
        ("redemption", -60, 65),
    ]
    assert history["items"][0]["reward"]["name_zh"] == "咖啡"
    older = api.request("GET", "/mp/v1/points/history?limit=2&offset=2", alice).json()["items"]
    assert older[0]["kind"] == "issuance" and older[0]["activity"]["co2e_avoided_g"] == 1256
    mine = api.request("GET", "/mp/v1/redemptions", alice).json()
    assert mine["total"] == 1 and mine["items"][0]["status"] == "cancelled"


def test_roles_and_company_scope(api: Api) -> None:
    admin = api.token("company_admin", "hr-1", "acme")
    _problem(
        api.request(
            "POST",
            "/api/v1/rewards",
            api.token("employee", "e"),
            json={"name": "x", "price_points": 1, "stock": 1},
        ),
        403,
        "forbidden",
    )
    created = api.request(
        "POST", "/api/v1/rewards", admin, json={"name": "Lunch", "price_points": 10, "stock": 5}
    )
    assert created.status_code == 201 and created.json()["companies"] == ["acme"]
    lunch = created.json()["id"]
    other_admin = api.token("company_admin", "hr-2", "globex")
    _problem(
        api.request("PATCH", f"/api/v1/rewards/{lunch}", other_admin, json={"active": False}),
        404,
        "not-found",
    )
    assert api.request("GET", "/api/v1/rewards", other_admin).json()["items"] == []
    outsider = api.token("employee", "zoe", "globex")
    assert api.request("GET", "/mp/v1/rewards", outsider).json()["items"] == []
    _problem(
        api.request(
            "POST", "/mp/v1/redemptions", {**outsider, "Idempotency-Key": _key()}, json={"reward_id": lunch}
        ),
        404,
        "not-found",
    )
    manager = api.token("park_manager", "pm-1", None)
    assert api.request("GET", "/api/v1/points/rules", manager).status_code == 200
    _problem(api.request("PUT", "/api/v1/points/rules/park", manager, json={}), 403, "forbidden")
    _problem(api.request("PUT", "/api/v1/points/rules/companies/globex", admin, json={}), 403, "forbidden")
    bad = _problem(
        api.request(
            "PUT", "/api/v1/points/rules/companies/acme", admin, json={"types": {"metro": {"cooldown": 5}}}
        ),
        422,
        "invalid-input",
    )
    assert bad["errors"][0]["field"] == "types.metro.cooldown"
    park_only = _problem(
        api.request("PUT", "/api/v1/points/rules/companies/acme", admin, json={"expiry_months": 1}),
        422,
        "invalid-input",
    )
    assert park_only["errors"][0]["field"] == "expiry_months"
    ok = api.request(
        "PUT", "/api/v1/points/rules/companies/acme", admin, json={"employee_daily_points_cap": 100}
    )
    assert ok.status_code == 200 and ok.json()["version"] == 1


def test_company_rates_within_the_parks_bounds(api: Api) -> None:
    admin = api.token("company_admin", "hr-1", "acme")
    operator = api.token("operator", "op-1", None)
    greedy = _problem(
        api.request("PUT", "/api/v1/points/rules/companies/acme", admin, json={"points_per_kg": 1_000_000}),
        422,
        "invalid-input",
    )
    assert greedy["errors"][0]["field"] == "points_per_kg"
    assert (
        "1000" in greedy["errors"][0]["reason"]
        and "company_max_points_per_kg" in greedy["errors"][0]["reason"]
    )
    bounded = {"company_max_points_per_kg": 300}
    assert api.request("PUT", "/api/v1/points/rules/park", operator, json=bounded).status_code == 200
    per_type = _problem(
        api.request(
            "PUT",
            "/api/v1/points/rules/companies/acme",
            admin,
            json={"types": {"metro": {"points_per_kg": 301}}},
        ),
        422,
        "invalid-input",
    )
    assert per_type["errors"][0]["field"] == "types.metro.points_per_kg" and "300" in per_type["detail"]
    ok = api.request("PUT", "/api/v1/points/rules/companies/acme", admin, json={"points_per_kg": 300})
    assert ok.status_code == 200, ok.text
    alice = api.token("employee", "alice")
    earned = api.request("POST", "/mp/v1/activities", {**alice, "Idempotency-Key": _key()}, json=METRO)
    assert earned.status_code == 201 and earned.json()["points"] == 376  # 1256 g × 300/kg, rounded down
    rules = api.request("GET", "/api/v1/points/rules", admin).json()
    assert rules["defaults"]["company_max_points_per_kg"] == 1000


def test_corrections_and_the_ledger_over_http(api: Api) -> None:
    alice = api.token("employee", "alice")
    operator = api.token("operator", "op-1", None)
    api.request("POST", "/mp/v1/activities", {**alice, "Idempotency-Key": _key()}, json=METRO)
    issuance = api.request("GET", "/mp/v1/points/history", alice).json()["items"][0]["transfer_id"]
    body = {"id": _key(), "reverses": issuance, "reason_code": "duplicate", "amount": 25}
    created = api.request("POST", "/api/v1/points/corrections", operator, json=body)
    assert created.status_code == 201 and created.json()["reverses"] == issuance
    assert api.request("POST", "/api/v1/points/corrections", operator, json=body).status_code == 200
    _problem(
        api.request("POST", "/api/v1/points/corrections", operator, json={**body, "amount": 26}),
        409,
        "transfer-conflict",
    )
    _problem(
        api.request(
            "POST", "/api/v1/points/corrections", operator, json={**body, "id": _key(), "reason_code": "oops"}
        ),
        422,
        "invalid-input",
    )
    line = api.request("GET", "/mp/v1/points/history", alice).json()["items"][0]
    assert (line["kind"], line["amount"], line["reason_code"], line["reverses"]) == (
        "correction",
        -25,
        "duplicate",
        issuance,
    )
    assert api.request("GET", "/mp/v1/points", alice).json()["corrected"] == -25
    audit = api.request("GET", "/api/v1/points/ledger", api.token("auditor", "au-1", None)).json()
    assert audit["consistent"] and audit["sum_of_balances"] == 0 and audit["totals"]["issued"] == 100


def test_leaderboards_are_opt_in_pseudonymous_and_need_a_group(api: Api) -> None:
    people = [api.token("employee", f"emp-{i}", "acme", dept="ops" if i < 5 else "hr") for i in range(7)]
    for i, headers in enumerate(people):
        metro = {**METRO, "distance_km": 2 + i}
        assert (
            api.request(
                "POST", "/mp/v1/activities", {**headers, "Idempotency-Key": _key()}, json=metro
            ).status_code
            == 201
        )
    for headers in people[:4]:
        assert api.request("PUT", "/mp/v1/leaderboards/opt-in", headers, json={}).json()["opted_in"]
    # Boards count points by when they were issued: this month in the park's time zone (UTC+8).
    period = datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")
    closed = api.request("GET", f"/mp/v1/leaderboards/company?period={period}", people[0]).json()
    assert not closed["available"] and closed["entries"] == [] and closed["members"] == 4
    _problem(
        api.request("PUT", "/mp/v1/leaderboards/opt-in", people[4], json={"alias": "<b>"}),
        422,
        "invalid-input",
    )
    api.request("PUT", "/mp/v1/leaderboards/opt-in", people[4], json={"alias": "Green Commuter"})
    board = api.request("GET", f"/mp/v1/leaderboards/company?period={period}", people[0])
    assert board.status_code == 200 and "emp-" not in board.text  # no subject ids anywhere
    data = board.json()
    assert data["available"] and data["members"] == 5
    assert [e["points"] for e in data["entries"]] == sorted(
        (e["points"] for e in data["entries"]), reverse=True
    )
    assert data["entries"][0]["name"] == "Green Commuter" and data["me"]["name"].startswith("碳友-")
    dept = api.request("GET", f"/mp/v1/leaderboards/department?period={period}", people[1]).json()
    assert dept["available"] and dept["members"] == 5
    outsider = api.request("GET", f"/mp/v1/leaderboards/department?period={period}", people[5]).json()
    assert not outsider["available"] and outsider["members"] == 0
    departments = api.request("GET", f"/mp/v1/leaderboards/departments?period={period}", people[0]).json()
    assert [d["department"] for d in departments["departments"]] == ["ops"]
    assert departments["departments_too_small"] == 0
    assert api.request("GET", "/mp/v1/leaderboards/company?period=2026-13", people[0]).status_code == 422
    assert (
        api.request("GET", "/mp/v1/leaderboards/company?period=2026-10", people[0]).json()["entries"][0][
            "points"
        ]
        == 0
    )
    assert api.request("DELETE", "/mp/v1/leaderboards/opt-in", people[4]).status_code == 204
    assert not api.request("GET", f"/mp/v1/leaderboards/company?period={period}", people[0]).json()[
        "available"
    ]


def test_reward_outside_its_window_is_hidden_and_refused(api: Api) -> None:
    operator = api.token("operator", "op-1", None)
    alice = api.token("employee", "alice")
    api.request("POST", "/mp/v1/activities", {**alice, "Idempotency-Key": _key()}, json=METRO)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {"name": "Expired voucher", "price_points": 10, "stock": 5, "valid_until": past}
    created = api.request("POST", "/api/v1/rewards", operator, json=body)
    assert created.status_code == 201
    assert api.request("GET", "/mp/v1/rewards", alice).json()["items"] == []
    _problem(
        api.request(
            "POST",
            "/mp/v1/redemptions",
            {**alice, "Idempotency-Key": _key()},
            json={"reward_id": created.json()["id"]},
        ),
        409,
        "reward-unavailable",
    )
    paths = api.request("GET", "/openapi.json", {}).json()["paths"]
    for path in (
        "/mp/v1/points",
        "/mp/v1/points/history",
        "/mp/v1/rewards",
        "/mp/v1/redemptions",
        "/api/v1/rewards",
    ):
        assert path in paths
