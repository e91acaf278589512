"""Sign-in, enrollment, staff credentials and API keys over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.orm_identity import EmployeeRow, IdentityLinkRow, InvitationRow
from backend.bootstrap.settings import DEV_TOKEN_SECRET, Settings
from backend.domain.errors import ConfigurationError, Unauthenticated
from backend.services.identity import enrollment, staff
from backend.services.identity.tokens import decode_token, issue_token
from tests.integration.api_harness import Api, fast_password_hashing

PASSWORD = "correct horse battery"
NOW = datetime.now(UTC)


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Iterator[Api]:
    with fast_password_hashing():
        api = Api(db, tmp_path)
        enrollment.create_company(db, "acme", "Acme", NOW)
        enrollment.create_company(db, "globex", "Globex", NOW)
        enrollment.create_department(db, "acme", "rd", "R&D", NOW)
        yield api


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _import(api: Api, csv: str, company: str = "acme") -> object:
    return api.client.post(
        f"/api/v1/companies/{company}/employees/import",
        content=csv.encode(),
        headers={**api.auth("company_admin", "adm-1", company), "Content-Type": "text/csv"},
    )


def test_csv_import_then_first_sign_in_with_the_invitation(api: Api, db: Database) -> None:
    response = _import(api, "employee_no,department_id,display_name\nE1,rd,Li Lei\nE2,,Han Meimei\n")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert response.json()["created"] == 2 and all(i["invitation_code"] for i in items)
    again = _import(api, "employee_no,department_id\nE1,rd\n")
    assert (again.json()["created"], again.json()["existing"]) == (0, 1)
    assert again.json()["items"][0]["invitation_code"] is None

    refused = api.client.post("/mp/v1/auth/login", json={"code": "dev:wx-li"})
    assert refused.status_code == 403 and refused.json()["type"].endswith("/not-enrolled")
    login = api.client.post(
        "/mp/v1/auth/login",
        json={"code": "dev:wx-li", "invitation_code": items[0]["invitation_code"].lower()},
    )
    assert login.status_code == 200, login.text
    tokens = login.json()
    assert (tokens["role"], tokens["company_id"], tokens["department_id"]) == ("employee", "acme", "rd")
    assert tokens["expires_in"] == api.settings.access_token_ttl_s
    me = api.client.get("/mp/v1/me", headers=_bearer(tokens["access_token"]))
    assert me.json()["employee_id"] == items[0]["employee"]["id"]
    # Later sign-ins need no code; the code itself is spent.
    assert api.client.post("/mp/v1/auth/login", json={"code": "dev:wx-li"}).status_code == 200
    reuse = api.client.post(
        "/mp/v1/auth/login", json={"code": "dev:wx-other", "invitation_code": items[0]["invitation_code"]}
    )
    assert reuse.status_code == 401
    with db.read_sessions() as session:
        links = list(session.execute(select(IdentityLinkRow)).scalars())
        codes = list(session.execute(select(InvitationRow.code_hash)).scalars())
    assert len(links) == 1 and "wx-li" not in links[0].subject_hash  # openid stored only as a keyed hash
    assert items[0]["invitation_code"] not in codes


def test_invalid_csv_rows_refuse_the_whole_file(api: Api, db: Database) -> None:
    bad = _import(api, "employee_no,department_id\nE1,rd\nbad no!,rd\n")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "csv.line3.employee_no"
    unknown = _import(api, "employee_no,department_id\nE1,rd\nE2,sales\n")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "csv.line3.department_id"
    twice = _import(api, "employee_no\nE1\nE1\n")
    assert twice.status_code == 422
    assert _import(api, "name\nLi\n").status_code == 422
    with db.read_sessions() as session:
        assert session.execute(select(EmployeeRow)).first() is None  # nothing stored


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_sign_in(api: Api, db: Database) -> None:
    enrolled = enrollment.enroll_employee(db, "acme", "E9", "rd", None, timedelta(days=1), "adm", NOW)
    first = api.client.post(
        "/mp/v1/auth/login", json={"code": "dev:wx-9", "invitation_code": enrolled.invitation_code}
    ).json()
    second = api.client.post("/mp/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    stolen = api.client.post("/mp/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert stolen.status_code == 401 and "reused" in stolen.json()["detail"]
    # The whole family is revoked, including the legitimate newer token.
    after = api.client.post("/mp/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]})
    assert after.status_code == 401


def test_disabled_employees_cannot_refresh_and_department_moves_show_on_refresh(
    api: Api, db: Database
) -> None:
    enrollment.create_department(db, "acme", "ops", "Ops", NOW)
    enrolled = enrollment.enroll_employee(db, "acme", "E7", "rd", None, timedelta(days=1), "adm", NOW)
    tokens = api.client.post(
        "/mp/v1/auth/login", json={"code": "dev:wx-7", "invitation_code": enrolled.invitation_code}
    ).json()
    admin = api.auth("company_admin", "adm-1", "acme")
    path = f"/api/v1/companies/acme/employees/{enrolled.employee.id}"
    assert api.client.patch(path, json={"department_id": "ops"}, headers=admin).status_code == 200
    moved = api.client.post("/mp/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    assert moved["department_id"] == "ops"
    assert api.client.patch(path, json={"status": "disabled"}, headers=admin).json()["status"] == "disabled"
    assert (
        api.client.post("/mp/v1/auth/refresh", json={"refresh_token": moved["refresh_token"]}).status_code
        == 401
    )
    assert api.client.post("/mp/v1/auth/login", json={"code": "dev:wx-7"}).status_code == 403
    other = api.client.patch(
        path.replace("acme", "globex"),
        json={"status": "active"},
        headers=api.auth("company_admin", "g", "globex"),
    )
    assert other.status_code == 404  # globex's admin cannot find acme's employee


def test_open_invitations_enroll_up_to_their_uses(api: Api) -> None:
    admin = api.auth("company_admin", "adm-1", "acme")
    invite = api.client.post(
        "/api/v1/companies/acme/invitations", json={"department_id": "rd", "max_uses": 2}, headers=admin
    )
    assert invite.status_code == 201, invite.text
    code = invite.json()["code"]
    for person in ("a", "b"):
        login = api.client.post(
            "/mp/v1/auth/login", json={"code": f"dev:wx-{person}", "invitation_code": code}
        )
        assert login.status_code == 200 and login.json()["department_id"] == "rd"
    assert (
        api.client.post("/mp/v1/auth/login", json={"code": "dev:wx-c", "invitation_code": code}).status_code
        == 401
    )
    listing = api.client.get("/api/v1/companies/acme/employees", headers=admin).json()
    assert listing["total"] == 2
    assert (
        api.client.get(
            "/api/v1/companies/acme/employees", headers=api.auth("company_admin", "g", "globex")
        ).status_code
        == 403
    )


def test_staff_sign_in_lockout_and_disable(api: Api, db: Database) -> None:
    operator = api.auth("operator", "op-1")
    created = api.client.post(
        "/api/v1/staff",
        json={"username": "li.audit", "password": PASSWORD, "role": "auditor"},
        headers=operator,
    )
    assert created.status_code == 201, created.text
    short = api.client.post(
        "/api/v1/staff", json={"username": "x.y", "password": "short", "role": "auditor"}, headers=operator
    )
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "password"
    no_company = api.client.post(
        "/api/v1/staff",
        json={"username": "adm.x", "password": PASSWORD, "role": "company_admin"},
        headers=operator,
    )
    assert no_company.status_code == 422
    login = api.client.post("/api/v1/auth/token", json={"username": "li.audit", "password": PASSWORD})
    assert login.status_code == 200 and login.json()["role"] == "auditor"
    token = login.json()["access_token"]
    assert api.client.get("/audit/v1/checkpoints", headers=_bearer(token)).status_code == 200
    assert api.client.get("/api/v1/staff", headers=_bearer(token)).status_code == 403
    for _ in range(staff.MAX_FAILED_LOGINS):
        assert (
            api.client.post(
                "/api/v1/auth/token", json={"username": "li.audit", "password": "wrong " * 3}
            ).status_code
            == 401
        )
    locked = api.client.post("/api/v1/auth/token", json={"username": "li.audit", "password": PASSWORD})
    assert locked.status_code == 401 and "locked" in locked.json()["detail"]
    nobody = api.client.post("/api/v1/auth/token", json={"username": "nobody", "password": PASSWORD})
    assert nobody.status_code == 401 and nobody.json()["detail"] == "wrong username or password"
    refresh = login.json()["refresh_token"]
    disabled = api.client.post(f"/api/v1/staff/{created.json()['id']}/disable", headers=operator)
    assert disabled.status_code == 200 and disabled.json()["disabled_at"]
    assert api.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).status_code == 401


def test_api_keys_with_scopes_rotate_and_revoke(api: Api, db: Database) -> None:
    row = staff.create_staff(db, "ops.key", PASSWORD, "operator", None, NOW)
    token = staff.login_staff(db, "ops.key", PASSWORD, api.runtime.tokens, NOW).access_token
    beyond = api.client.post(
        "/api/v1/me/api-keys", json={"name": "x", "scopes": ["reviews"]}, headers=_bearer(token)
    )
    assert beyond.status_code == 422 and "cannot grant" in beyond.json()["detail"]
    created = api.client.post(
        "/api/v1/me/api-keys",
        json={"name": "verify-log cron", "scopes": ["audit:read"], "ttl_days": 30},
        headers=_bearer(token),
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("clk_")
    assert api.client.get("/audit/v1/leaves", headers=_bearer(key)).status_code == 200
    # The key's owner is an operator, but the key lacks companies:admin.
    denied = api.client.get("/api/v1/staff", headers=_bearer(key))
    assert denied.status_code == 403 and "scope" in denied.json()["detail"]
    listed = api.client.get("/api/v1/me/api-keys", headers=_bearer(token)).json()
    assert [k["id"] for k in listed] == [created.json()["id"]] and "key" not in listed[0]

    rotated = api.client.post(f"/api/v1/me/api-keys/{created.json()['id']}/rotate", headers=_bearer(token))
    assert rotated.status_code == 200 and rotated.json()["scopes"] == ["audit:read"]
    assert api.client.get("/audit/v1/leaves", headers=_bearer(key)).status_code == 401
    new_key = rotated.json()["key"]
    assert api.client.get("/audit/v1/leaves", headers=_bearer(new_key)).status_code == 200
    revoked = api.client.delete(f"/api/v1/me/api-keys/{rotated.json()['id']}", headers=_bearer(token))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    gone = api.client.get("/audit/v1/leaves", headers=_bearer(new_key))
    assert gone.status_code == 401 and "revoked" in gone.json()["detail"]
    assert api.client.get("/audit/v1/leaves", headers=_bearer(new_key[:-2] + "xx")).status_code == 401
    # Someone else's key is not found, not revocable.
    other = staff.create_staff(db, "aud.other", PASSWORD, "auditor", None, NOW)
    other_token = staff.login_staff(db, "aud.other", PASSWORD, api.runtime.tokens, NOW).access_token
    assert (
        api.client.delete(
            f"/api/v1/me/api-keys/{created.json()['id']}", headers=_bearer(other_token)
        ).status_code
        == 404
    )
    assert row.id != other.id


def test_outside_local_mode_dev_tokens_and_default_secrets_are_refused(db: Database, tmp_path: Path) -> None:
    secret = "k3Vq9-xR2bLm8ZtY4wHc7NpJ0sDf6GaE"  # a generated secret: production refuses weak ones
    prod = Api(
        db,
        tmp_path,
        env="production",
        token_secret=secret,
        identity_provider="wechat",
        wechat_app_id="wx1",
        wechat_app_secret="x",
    )
    dev = issue_token(secret, "auditor", "aud-1", None, 600, kind="dev")
    refused = prod.client.get("/audit/v1/leaves", headers=_bearer(dev))
    assert refused.status_code == 401 and "development tokens" in refused.json()["detail"]
    access = issue_token(secret, "auditor", "aud-1", None, 600, kind="access")
    assert prod.client.get("/audit/v1/leaves", headers=_bearer(access)).status_code == 200
    with pytest.raises(Unauthenticated):
        decode_token(secret, dev, allow_dev=False)

    base = {"env": "production", "anchoring_key": "0x" + "11" * 32, "data_dir": tmp_path}
    with pytest.raises(ConfigurationError, match="CARBON_TOKEN_SECRET"):
        Settings(
            **base,
            token_secret=DEV_TOKEN_SECRET,
            identity_provider="wechat",
            wechat_app_id="a",
            wechat_app_secret="b",
        ).check_production_safety()
    with pytest.raises(ConfigurationError, match="IDENTITY_PROVIDER=dev"):
        Settings(**base, token_secret=secret).check_production_safety()
    with pytest.raises(ConfigurationError, match="WECHAT_APP_ID"):
        Settings(**base, token_secret=secret, identity_provider="wechat").check_production_safety()
    Settings(
        **base, token_secret=secret, identity_provider="wechat", wechat_app_id="a", wechat_app_secret="b"
    ).check_production_safety()


def test_cli_creates_the_first_company_and_operator_and_dev_tokens_stay_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from backend.bootstrap.settings import get_settings
    from backend.entrypoints.cli import main as cli

    monkeypatch.setenv("CARBON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CARBON_NEW_STAFF_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    try:
        with fast_password_hashing():
            assert cli.main(["company-create", "--id", "acme", "--name", "Acme"]) == 0
            assert cli.main(["staff-create", "--username", "root.op", "--role", "operator"]) == 0
            assert cli.main(["staff-create", "--username", "root.op", "--role", "operator"]) == 2  # taken
            assert (
                cli.main(
                    ["staff-create", "--username", "acme.adm", "--role", "company_admin", "--company", "acme"]
                )
                == 0
            )
        assert "root.op (operator) created" in capsys.readouterr().out
        assert cli.main(["dev-token", "--role", "employee", "--subject", "emp-1"]) == 0
        token = capsys.readouterr().out.strip()
        assert decode_token(DEV_TOKEN_SECRET, token, allow_dev=True).via == "dev"
        monkeypatch.setenv("CARBON_ENV", "production")
        get_settings.cache_clear()
        assert cli.main(["dev-token", "--role", "employee", "--subject", "emp-1"]) == 2
    finally:
        get_settings.cache_clear()


def test_an_erased_employees_access_token_stops_at_once(db: Database, tmp_path: Path) -> None:
    api = Api(db, tmp_path, revocation_refresh_s=60)  # only the erasing process's own reload can apply it
    enrollment.create_company(db, "acme", "Acme", NOW)
    enrollment.create_department(db, "acme", "rd", "R&D", NOW)
    enrolled = enrollment.enroll_employee(db, "acme", "E5", "rd", None, timedelta(days=1), "adm", NOW)
    tokens = api.client.post(
        "/mp/v1/auth/login", json={"code": "dev:wx-5", "invitation_code": enrolled.invitation_code}
    ).json()
    signed_in = _bearer(tokens["access_token"])
    assert api.client.get("/mp/v1/me", headers=signed_in).status_code == 200
    erased = api.client.post(
        "/api/v1/privacy/erasures",
        json={"subject": enrolled.employee.id, "basis": "employee_request"},
        headers=api.auth("operator", "op-1"),
    )
    assert erased.status_code == 201, erased.text
    assert api.client.get("/mp/v1/me", headers=signed_in).status_code == 401
