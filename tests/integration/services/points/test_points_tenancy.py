"""Points routes never cross companies: an award reaches only an enrolled employee of the caller's
company (no account is opened under the wrong company), and another company's employee's transfers
are neither listed nor reversed (``404``: another company's records do not exist for the caller)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.adapters.database import Database
from backend.adapters.orm_points import PointsAccountRow
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import Settings
from backend.domain.points import points as ledger
from backend.services.identity import enrollment
from tests.integration.api.test_points_api import Api, _problem
from tests.integration.points_support import fund

NOW = datetime.now(UTC)


def _enroll(db: Database, company: str, employee_no: str) -> str:
    if company not in {c.id for c in enrollment.list_companies(db)}:
        enrollment.create_company(db, company, company.title(), NOW)
    enrolled = enrollment.enroll_employee(db, company, employee_no, None, None, timedelta(days=1), "t", NOW)
    return enrolled.employee.id


def _award(employee: str, company: str = "acme", amount: int = 1) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "kind": "award",
        "company": company,
        "employee": employee,
        "amount": amount,
    }


@pytest.fixture
def api(db: Database, database_url: str, tmp_path: Path) -> Api:
    settings = Settings(data_dir=tmp_path, database_url=database_url, scheduler_enabled=False)
    return Api(Runtime(settings=settings, db=db, chain=None, target=None, subject_key=b"s" * 32))


@pytest.fixture
def park(api: Api, db: Database) -> dict[str, str]:
    acme_emp = _enroll(db, "acme", "A1")
    globex_emp = _enroll(db, "globex", "G1")
    operator = api.token("operator", "op-1", None)
    for company in ("acme", "globex"):
        allocation = {"id": str(uuid.uuid4()), "kind": "allocation", "company": company, "amount": 100}
        assert api.request("POST", "/api/v1/points/transfers", operator, json=allocation).status_code == 201
    return {"acme": acme_emp, "globex": globex_emp}


def test_awards_only_to_enrolled_employees_of_the_callers_company(
    api: Api, db: Database, park: dict[str, str]
) -> None:
    acme_admin = api.token("company_admin", "hr-1", "acme")
    ok = api.request("POST", "/api/v1/points/transfers", acme_admin, json=_award(park["acme"]))
    assert ok.status_code == 201, ok.text
    for stranger in (park["globex"], "nobody-enrolled"):
        refused = _problem(
            api.request("POST", "/api/v1/points/transfers", acme_admin, json=_award(stranger)),
            422,
            "invalid-input",
        )
        assert refused["errors"][0]["field"] == "employee"
    # An operator, too, awards only to an employee enrolled in the named company.
    operator = api.token("operator", "op-1", None)
    wrong = _problem(
        api.request("POST", "/api/v1/points/transfers", operator, json=_award(park["globex"], "acme")),
        422,
        "invalid-input",
    )
    assert wrong["errors"][0]["field"] == "employee"
    missing = {"id": str(uuid.uuid4()), "kind": "allocation", "company": "initech", "amount": 5}
    unknown = _problem(
        api.request("POST", "/api/v1/points/transfers", operator, json=missing), 422, "invalid-input"
    )
    assert unknown["errors"][0]["field"] == "company"
    with db.read_sessions() as session:
        account = session.get(PointsAccountRow, ledger.employee_account(park["globex"]))
        pools = session.execute(
            select(PointsAccountRow.id).where(PointsAccountRow.owner_id == "initech")
        ).all()
    assert account is None and pools == []  # nothing opened under the wrong company


def test_another_companys_transfers_are_neither_listed_nor_reversed(
    api: Api, db: Database, park: dict[str, str]
) -> None:
    globex = park["globex"]
    issuance = fund(db, globex, 40, NOW, org="acme")  # an account once tagged with the wrong company
    acme_admin = api.token("company_admin", "hr-1", "acme")
    listed = api.request("GET", f"/api/v1/points/transfers?employee={globex}", acme_admin)
    _problem(listed, 404, "not-found")
    by_id = api.request("GET", f"/api/v1/points/transfers?activity_id={uuid.uuid4()}", acme_admin)
    assert by_id.status_code == 200 and by_id.json()["items"] == []
    correction = {"id": str(uuid.uuid4()), "reverses": issuance, "reason_code": "fraud"}
    _problem(api.request("POST", "/api/v1/points/corrections", acme_admin, json=correction), 404, "not-found")
    globex_admin = api.token("company_admin", "hr-2", "globex")
    mine = api.request("GET", f"/api/v1/points/transfers?employee={globex}", globex_admin)
    assert mine.status_code == 200 and [t["id"] for t in mine.json()["items"]] == [issuance]
    done = api.request("POST", "/api/v1/points/corrections", globex_admin, json=correction)
    assert done.status_code == 201, done.text
    # A company admin whose token names no company is refused, not treated as the whole park.
    orgless = api.token("company_admin", "hr-3", None)
    _problem(
        api.request("GET", f"/api/v1/points/transfers?employee={globex}", orgless), 401, "unauthenticated"
    )
