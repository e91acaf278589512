"""Access hardening over HTTP, on SQLite and PostgreSQL: an API key cannot mint or rotate its way to
scopes it lacks; logout and disabling revoke access tokens at once; a company admin without a
company is refused everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backend.adapters.database import Database
from backend.services import enrollment, staff
from tests.integration.api_harness import Api, fast_password_hashing

PASSWORD = "correct horse battery"
NOW = datetime.now(UTC)


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Iterator[Api]:
    with fast_password_hashing():
        api = Api(db, tmp_path)
        enrollment.create_company(db, "acme", "Acme", NOW)
        enrollment.create_department(db, "acme", "rd", "R&D", NOW)
        yield api


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_api_key_mints_and_rotates_only_within_its_own_scopes(api: Api, db: Database) -> None:
    staff.create_staff(db, "hr.keys", PASSWORD, "company_admin", "acme", NOW)
    token = staff.login_staff(db, "hr.keys", PASSWORD, api.runtime.tokens, NOW).access_token
    wide = api.client.post(
        "/api/v1/me/api-keys",
        json={"name": "wide", "scopes": ["enrollment:read", "enrollment:write", "reviews"]},
        headers=_bearer(token),
    )
    assert wide.status_code == 201, wide.text  # a signed-in person grants any scope of their role
    narrow = api.client.post(
        "/api/v1/me/api-keys", json={"name": "keys only", "scopes": ["keys"]}, headers=_bearer(token)
    )
    key = narrow.json()["key"]
    escalation = api.client.post(
        "/api/v1/me/api-keys",
        json={"name": "more", "scopes": ["keys", "enrollment:write", "reviews"]},
        headers=_bearer(key),
    )
    assert escalation.status_code == 403, escalation.text
    assert "enrollment:write, reviews" in escalation.json()["detail"]
    rotated = api.client.post(f"/api/v1/me/api-keys/{wide.json()['id']}/rotate", headers=_bearer(key))
    assert rotated.status_code == 403, rotated.text  # a new secret for a wider key is a wider key
    same = api.client.post(
        "/api/v1/me/api-keys", json={"name": "same", "scopes": ["keys"]}, headers=_bearer(key)
    )
    assert same.status_code == 201 and same.json()["scopes"] == ["keys"]
    enroll = api.client.post(
        "/api/v1/companies/acme/employees", json={"employee_no": "E9"}, headers=_bearer(same.json()["key"])
    )
    assert enroll.status_code == 403
    listed = {k["name"] for k in api.client.get("/api/v1/me/api-keys", headers=_bearer(token)).json()}
    assert listed == {"wide", "keys only", "same"}
