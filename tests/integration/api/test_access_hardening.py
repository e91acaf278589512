"""Access hardening over HTTP, on SQLite and PostgreSQL: an API key cannot mint or rotate its way to
scopes it lacks; logout and disabling revoke access tokens at once; a company admin without a
company is refused everywhere."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backend.adapters.database import Database
from backend.adapters.identity_providers import DevProvider
from backend.bootstrap.settings import Settings
from backend.domain.errors import ConfigurationError
from backend.services.identity import enrollment, identity, staff
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


def test_logout_and_disabling_revoke_access_tokens_at_once(api: Api, db: Database) -> None:
    operator = staff.create_staff(db, "ops.rev", PASSWORD, "operator", None, NOW)
    auditor = staff.create_staff(db, "aud.rev", PASSWORD, "auditor", None, NOW)
    ops_token = staff.login_staff(db, "ops.rev", PASSWORD, api.runtime.tokens, NOW).access_token
    first = staff.login_staff(db, "aud.rev", PASSWORD, api.runtime.tokens, NOW)
    second = staff.login_staff(db, "aud.rev", PASSWORD, api.runtime.tokens, NOW)
    assert api.client.get("/audit/v1/checkpoints", headers=_bearer(first.access_token)).status_code == 200
    out = api.client.post("/api/v1/auth/logout", json={"refresh_token": first.refresh_token})
    assert out.status_code == 204
    ended = api.client.get("/audit/v1/checkpoints", headers=_bearer(first.access_token))
    assert ended.status_code == 401 and "sign in again" in ended.json()["detail"]
    # Another sign-in of the same person is untouched by that logout ...
    assert api.client.get("/audit/v1/checkpoints", headers=_bearer(second.access_token)).status_code == 200
    # ... and ends when an operator disables the account.
    disabled = api.client.post(f"/api/v1/staff/{auditor.id}/disable", headers=_bearer(ops_token))
    assert disabled.status_code == 200, disabled.text
    assert api.client.get("/audit/v1/checkpoints", headers=_bearer(second.access_token)).status_code == 401
    assert operator.id != auditor.id


def test_disabling_an_employee_ends_their_sign_ins_at_once(api: Api, db: Database) -> None:
    enrolled = enrollment.enroll_employee(db, "acme", "E1", "rd", None, timedelta(days=1), "t", NOW)
    assert enrolled.invitation_code is not None
    login = identity.login_employee(
        db, DevProvider(), "dev:wx-e1", enrolled.invitation_code, api.runtime.tokens, NOW
    )
    headers = _bearer(login.access_token)
    assert api.client.get("/mp/v1/me", headers=headers).status_code == 200
    admin = api.auth("company_admin", "hr-1", "acme")
    patched = api.client.patch(
        f"/api/v1/companies/acme/employees/{enrolled.employee.id}", json={"status": "disabled"}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    assert api.client.get("/mp/v1/me", headers=headers).status_code == 401


def test_a_revocation_made_by_another_process_is_seen_within_the_refresh_interval(
    api: Api, db: Database
) -> None:
    staff.create_staff(db, "aud.cli", PASSWORD, "auditor", None, NOW)
    signed_in = staff.login_staff(db, "aud.cli", PASSWORD, api.runtime.tokens, NOW)
    headers = _bearer(signed_in.access_token)
    assert api.client.get("/audit/v1/checkpoints", headers=headers).status_code == 200
    # as another worker or the CLI would (the database only), at the real time: the list looks back
    # only LOOKBACK_S before its previous reload, and NOW was taken when the module was imported
    identity.logout(db, signed_in.refresh_token, datetime.now(UTC))
    api.runtime.revocations.clock = lambda: 10**9  # the list's refresh interval has passed
    assert api.client.get("/audit/v1/checkpoints", headers=headers).status_code == 401


def test_a_company_admin_token_without_a_company_is_refused_everywhere(api: Api) -> None:
    for org in (None, ""):
        headers = api.auth("company_admin", "hr-x", org)
        for method, path in (
            ("GET", "/api/v1/points/transfers?employee=e1"),
            ("GET", "/api/v1/me/api-keys"),
            ("GET", "/api/v1/factor-sets"),
            ("GET", "/api/v1/rewards"),
        ):
            refused = api.client.request(method, path, headers=headers)
            assert refused.status_code == 401, (org, path, refused.text)
            assert "company" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("secret", "complaint"),
    [
        (" " * 36, "entropy"),
        ("s" * 40, "entropy"),
        ("abababababababababababababababababab", "entropy"),
        ("short", "at least 32"),
    ],
)
def test_a_production_token_secret_needs_real_entropy(tmp_path: Path, secret: str, complaint: str) -> None:
    base = {
        "env": "production",
        "anchoring_key": "0x" + "11" * 32,
        "data_dir": tmp_path,
        "identity_provider": "wechat",
        "wechat_app_id": "a",
        "wechat_app_secret": "b",
    }
    with pytest.raises(ConfigurationError, match="CARBON_TOKEN_SECRET") as refused:
        Settings(**base, token_secret=secret).check_production_safety()
    assert complaint in str(refused.value)
    Settings(**base, token_secret=secrets.token_urlsafe(32)).check_production_safety()
    Settings(**base, token_secret=secrets.token_hex(16)).check_production_safety()  # 128 random bits
