"""Bad input gets a precise 4xx naming the field, never a 5xx, and a bad record in a signed delivery
affects only itself: absurd dates, non-string token claims, a non-ASCII timestamp header, control
characters in names, references to companies and employees that do not exist."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest

from backend.adapters.database import Database
from backend.services.identity.tokens import ALGORITHM, ISSUER
from backend.services.integrations import integrations
from tests.integration.services.integrations.test_integrations import CARD, Park, trip

EXTREMES = ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z")


@pytest.fixture
def park(db: Database, tmp_path: Path) -> Park:
    return Park(db, tmp_path)


def _field(response: Any, status: int = 422) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    field: str = response.json()["errors"][0]["field"]
    return field


@pytest.mark.parametrize("when", EXTREMES)
def test_an_absurd_occurred_at_is_a_422_naming_it(park: Park, when: str) -> None:
    for activity in (
        {"type": "metro", "distance_km": 5},
        {"type": "bike_shared", "distance_km": 3},
        {"type": "bus", "distance_km": 4},
    ):
        headers = {**park.employee, "Idempotency-Key": str(uuid.uuid4())}
        response = park.api.client.post(
            "/mp/v1/activities", json={**activity, "occurred_at": when}, headers=headers
        )
        assert _field(response) == "occurred_at"


def test_a_delivery_refuses_only_its_absurd_records(park: Park) -> None:
    assert park.bind().status_code == 201
    records = [
        trip("GOOD-1"),
        {**trip("BAD-1"), "occurred_at": EXTREMES[0]},
        {**trip("BAD-2"), "occurred_at": EXTREMES[1]},
    ]
    response = park.send(records)
    assert response.status_code == 200, response.text
    outcomes = {r["record_id"]: (r["outcome"], r["field"]) for r in response.json()["results"]}
    assert outcomes == {
        "GOOD-1": ("accepted", None),
        "BAD-1": ("rejected", "occurred_at"),
        "BAD-2": ("rejected", "occurred_at"),
    }


@pytest.mark.parametrize("stamp", ["²".encode("latin-1"), "١٢٣".encode(), b"9" * 400, b"-5", b" 17"])
def test_a_timestamp_header_that_is_not_ascii_seconds_is_a_401(park: Park, stamp: bytes) -> None:
    body = json.dumps({"records": []}).encode()
    _, signature = integrations.signature_header(park.secret, body)
    for path in ("/integrations/v1/metro-gates/records", "/integrations/v1/metro-gates/binding-codes"):
        headers = [(b"x-carbon-timestamp", stamp), (b"x-carbon-signature", signature.encode())]
        response = park.api.client.post(path, content=body, headers=headers)  # type: ignore[arg-type]
        assert response.status_code == 401, response.text
        assert "X-Carbon-Timestamp" in response.json()["detail"]


@pytest.mark.parametrize(
    "claims",
    [
        {"org": ["acme", "globex"]},
        {"org": {"id": "acme"}},
        {"dept": 7},
        {"sub": 12345},
        {"role": ["operator"]},
        {"sid": ["a"]},
    ],
    ids=lambda c: ",".join(f"{k}={type(v).__name__}" for k, v in c.items()),
)
def test_a_token_claim_of_the_wrong_type_is_a_401(park: Park, claims: dict[str, Any]) -> None:
    now = int(datetime.now(UTC).timestamp())
    base = {
        "iss": ISSUER,
        "sub": "e1",
        "role": "company_admin",
        "org": "acme",
        "typ": "access",
        "exp": now + 60,
    }
    token = jwt.encode({**base, **claims}, park.api.settings.token_secret, algorithm=ALGORITHM)
    for path in ("/api/v1/companies/acme/employees", "/mp/v1/me", "/api/v1/points/rules"):
        response = park.api.client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (path, response.text)


@pytest.mark.parametrize("bad", ["A\x00B", "bell\x07", "esc\x1b[31m", "line\nbreak", "del\x7f", "c1\x85"])
def test_control_characters_in_names_are_a_422_naming_the_field(park: Park, bad: str) -> None:
    operator = park.api.auth("operator", "op-1")
    admin = park.api.auth("company_admin", "hr-1", "acme")
    calls = [
        ("/api/v1/companies", operator, {"id": f"c-{uuid.uuid4().hex[:8]}", "name": bad}, "name"),
        (
            "/api/v1/companies",
            operator,
            {"id": f"c-{uuid.uuid4().hex[:8]}", "name": "C", "name_zh": bad},
            "name_zh",
        ),
        (
            "/api/v1/companies/acme/departments",
            admin,
            {"id": f"d-{uuid.uuid4().hex[:8]}", "name": bad},
            "name",
        ),
        (
            "/api/v1/companies/acme/employees",
            admin,
            {"employee_no": "E77", "display_name": bad},
            "display_name",
        ),
        ("/api/v1/rewards", operator, {"name": bad, "price_points": 1, "stock": 1}, "name"),
        (
            "/api/v1/integrations/sources",
            operator,
            {"id": "g2", "name": bad, "kind": "transit_gate", "activity_types": ["metro"]},
            "name",
        ),
    ]
    for path, headers, body, field in calls:
        assert _field(park.api.client.post(path, json=body, headers=headers)) == field, path
    imported = park.api.client.post(
        "/api/v1/companies/acme/employees/import",
        content=f'employee_no,department_id,display_name\nE78,,"{bad}"\n'.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert _field(imported) == "csv.line2.display_name"
    if "\n" not in bad:  # free text keeps its line breaks; other control characters are refused
        note = {"id": str(uuid.uuid4()), "kind": "allocation", "company": "acme", "amount": 1, "note": bad}
        assert _field(park.api.client.post("/api/v1/points/transfers", json=note, headers=operator)) == "note"


def test_references_to_companies_and_employees_that_do_not_exist(park: Park) -> None:
    operator = park.api.auth("operator", "op-1")
    admin = park.api.auth("company_admin", "hr-1", "acme")
    client = park.api.client
    assert client.put("/api/v1/points/rules/companies/initech", json={}, headers=operator).status_code == 404
    assert (
        client.put("/api/v1/scope3/headcounts/initech", json={"headcount": 5}, headers=operator).status_code
        == 404
    )
    reward = {"name": "Tea", "price_points": 1, "stock": 1, "companies": ["acme", "initech"]}
    assert _field(client.post("/api/v1/rewards", json=reward, headers=operator)) == "companies"
    award = {"id": str(uuid.uuid4()), "kind": "award", "company": "acme", "employee": "nobody", "amount": 1}
    assert _field(client.post("/api/v1/points/transfers", json=award, headers=admin)) == "employee"
    allocation = {"id": str(uuid.uuid4()), "kind": "allocation", "company": "initech", "amount": 1}
    assert _field(client.post("/api/v1/points/transfers", json=allocation, headers=operator)) == "company"
    staff = {
        "username": "hr.initech",
        "password": "long enough password",
        "role": "company_admin",
        "company_id": "initech",
    }
    assert _field(client.post("/api/v1/staff", json=staff, headers=operator)) == "company_id"
    invitation = client.post(
        "/api/v1/companies/acme/invitations", json={"employee_id": "nobody"}, headers=admin
    )
    assert invitation.status_code == 404
    assert client.get("/api/v1/points/transfers?employee=nobody", headers=admin).status_code == 404
    documented = client.get("/openapi.json").json()["paths"]["/api/v1/points/transfers"]["get"]["responses"]
    assert "404" in documented  # the fuzz test's schema check fails on an undocumented status
    assert CARD  # the park's card stays unbound by all of this
