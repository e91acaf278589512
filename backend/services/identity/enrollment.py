"""Use cases of enrollment: the park's companies and departments, employees (one by one or from a
CSV file), and invitation codes that bind an employee's mini-program sign-in to their record.

Invitation codes are shown once and stored only as hashes. A code issued for a pre-enrolled
employee works once; an open code for a department creates the employee on redemption, up to its
number of uses. Identity data is administrative, not a ledger record: it stays out of the
append-only log so it can be corrected and erased (PIPL).
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.orm_identity import (
    CompanyRow,
    DepartmentRow,
    EmployeeRow,
    IdentityLinkRow,
    InvitationRow,
)
from backend.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from backend.domain.states import EmployeeStatus
from backend.domain.text import check_name
from backend.services.identity.revocation import revoke_all_sessions
from backend.services.identity.tokens import secret_hash

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I/L: read aloud or typed from paper without mistakes."""
CODE_LENGTH = 12
"""31^12 ≈ 2^59 codes: unguessable within a code's lifetime."""
MAX_IMPORT_ROWS = 5000
"""One CSV import, one transaction: a large company imports in several files."""
MAX_IMPORT_BYTES = 1_000_000
MAX_OPEN_INVITATION_USES = 1000
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
CSV_COLUMNS = ("employee_no", "department_id", "display_name")
EMPLOYEE_STATUSES = (EmployeeStatus.ACTIVE, EmployeeStatus.DISABLED)


@dataclass(frozen=True)
class Enrolled:
    employee: EmployeeRow
    invitation_code: str | None
    """Shown once; None when the employee already existed (an import re-run)."""
    created: bool


def check_identifier(field: str, value: str) -> str:
    if not IDENTIFIER.fullmatch(value):
        raise InvalidInput(
            field,
            "must be 1–64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return value


def normalize_code(code: str) -> str:
    return re.sub(r"[\s\-]", "", code).upper()


def new_invitation_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def create_company(
    db: Database, company_id: str, name: str, now: datetime, name_zh: str | None = None
) -> CompanyRow:
    check_identifier("id", company_id)
    row = CompanyRow(id=company_id, name=name, name_zh=name_zh, created_at=now)
    try:
        with db.write_sessions() as session, session.begin():
            if session.get(CompanyRow, company_id) is not None:
                raise Conflict(f"company {company_id} already exists")
            session.add(row)
    except IntegrityError:
        raise Conflict(f"company {company_id} already exists") from None
    return row


def list_companies(db: Database) -> list[CompanyRow]:
    with db.read_sessions() as session:
        return list(session.execute(select(CompanyRow).order_by(CompanyRow.id)).scalars())


def require_companies(db: Database, company_ids: list[str], field: str | None = None) -> None:
    """Refuses a reference to a company the park has not enrolled: ``404`` for a path's company
    (``field`` None), ``422`` naming ``field`` for a body's."""
    wanted = sorted(set(company_ids))
    with db.read_sessions() as session:
        known = set(session.execute(select(CompanyRow.id).where(CompanyRow.id.in_(wanted))).scalars())
    missing = [c for c in wanted if c not in known]
    if missing and field is None:
        raise NotFound(f"company {missing[0]} not found")
    if missing:
        raise InvalidInput(field or "company", f"no company {', '.join(missing)} is enrolled in the park")


def _company(session: Session, company_id: str) -> CompanyRow:
    company = session.get(CompanyRow, company_id)
    if company is None:
        raise NotFound(f"company {company_id} not found")
    return company


def create_department(
    db: Database, company_id: str, department_id: str, name: str, now: datetime
) -> DepartmentRow:
    check_identifier("id", department_id)
    with db.write_sessions() as session, session.begin():
        _company(session, company_id)
        if session.get(DepartmentRow, (company_id, department_id)) is not None:
            raise Conflict(f"department {department_id} already exists in {company_id}")
        row = DepartmentRow(company_id=company_id, id=department_id, name=name, created_at=now)
        session.add(row)
    return row


def list_departments(db: Database, company_id: str) -> list[DepartmentRow]:
    with db.read_sessions() as session:
        _company(session, company_id)
        stmt = select(DepartmentRow).where(DepartmentRow.company_id == company_id).order_by(DepartmentRow.id)
        return list(session.execute(stmt).scalars())


def _department(session: Session, company_id: str, department_id: str | None, field: str) -> None:
    if department_id is not None and session.get(DepartmentRow, (company_id, department_id)) is None:
        raise InvalidInput(field, f"department {department_id} does not exist in company {company_id}")


def _invite(
    session: Session,
    company_id: str,
    department_id: str | None,
    employee_id: str | None,
    max_uses: int,
    ttl: timedelta,
    created_by: str,
    now: datetime,
) -> tuple[InvitationRow, str]:
    code = new_invitation_code()
    row = InvitationRow(
        id=str(uuid.uuid4()),
        code_hash=secret_hash(normalize_code(code)),
        company_id=company_id,
        department_id=department_id,
        employee_id=employee_id,
        max_uses=max_uses,
        uses=0,
        expires_at=now + ttl,
        created_by=created_by,
        created_at=now,
        revoked_at=None,
    )
    session.add(row)
    return row, code


def _enroll(
    session: Session,
    company_id: str,
    employee_no: str,
    department_id: str | None,
    display_name: str | None,
    ttl: timedelta,
    created_by: str,
    now: datetime,
) -> Enrolled:
    existing = session.execute(
        select(EmployeeRow).where(
            EmployeeRow.company_id == company_id, EmployeeRow.employee_no == employee_no
        )
    ).scalar_one_or_none()
    if existing is not None:
        return Enrolled(existing, None, created=False)
    employee = EmployeeRow(
        id=str(uuid.uuid4()),
        company_id=company_id,
        department_id=department_id,
        employee_no=employee_no,
        display_name=display_name,
        status=EmployeeStatus.ACTIVE,
        created_at=now,
    )
    session.add(employee)
    session.flush()
    _, code = _invite(session, company_id, department_id, employee.id, 1, ttl, created_by, now)
    return Enrolled(employee, code, created=True)


def enroll_employee(
    db: Database,
    company_id: str,
    employee_no: str,
    department_id: str | None,
    display_name: str | None,
    ttl: timedelta,
    created_by: str,
    now: datetime,
) -> Enrolled:
    check_identifier("employee_no", employee_no)
    with db.write_sessions() as session, session.begin():
        _company(session, company_id)
        _department(session, company_id, department_id, "department_id")
        result = _enroll(session, company_id, employee_no, department_id, display_name, ttl, created_by, now)
        if not result.created:
            raise Conflict(f"employee {employee_no} is already enrolled in {company_id}")
        return result


def _parse_csv(text: str) -> list[tuple[str, str | None, str | None]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("employee_no",) if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            "csv", f"the header must name the columns {', '.join(CSV_COLUMNS)} (employee_no is required)"
        )
    rows: list[tuple[str, str | None, str | None]] = []
    for line, record in enumerate(reader, start=2):
        if len(rows) >= MAX_IMPORT_ROWS:
            raise InvalidInput("csv", f"at most {MAX_IMPORT_ROWS} employees per import")
        employee_no = (record.get("employee_no") or "").strip()
        if not IDENTIFIER.fullmatch(employee_no):
            raise InvalidInput(f"csv.line{line}.employee_no", "must be 1–64 letters, digits, '.', '_' or '-'")
        department = (record.get("department_id") or "").strip() or None
        check_name(f"csv.line{line}.display_name", record.get("display_name"))
        name = (record.get("display_name") or "").strip() or None
        if name is not None and len(name) > 100:
            raise InvalidInput(f"csv.line{line}.display_name", "at most 100 characters")
        rows.append((employee_no, department, name))
    return rows


def import_employees_csv(
    db: Database, company_id: str, text: str, ttl: timedelta, created_by: str, now: datetime
) -> list[Enrolled]:
    """Enrolls every row of a CSV (``employee_no,department_id,display_name``) in one transaction:
    any invalid row refuses the whole file; employees already enrolled are reported, not changed."""
    if len(text.encode()) > MAX_IMPORT_BYTES:
        raise InvalidInput("csv", f"at most {MAX_IMPORT_BYTES} bytes per import")
    rows = _parse_csv(text)
    seen: set[str] = set()
    for line, (employee_no, _, _) in enumerate(rows, start=2):
        if employee_no in seen:
            raise InvalidInput(f"csv.line{line}.employee_no", f"{employee_no} appears twice in the file")
        seen.add(employee_no)
    with db.write_sessions() as session, session.begin():
        _company(session, company_id)
        for line, (_, department, _) in enumerate(rows, start=2):
            _department(session, company_id, department, f"csv.line{line}.department_id")
        return [_enroll(session, company_id, no, dept, name, ttl, created_by, now) for no, dept, name in rows]


def list_employees(db: Database, company_id: str, limit: int, offset: int) -> tuple[list[EmployeeRow], int]:
    with db.read_sessions() as session:
        _company(session, company_id)
        where = EmployeeRow.company_id == company_id
        total = int(session.execute(select(func.count()).select_from(EmployeeRow).where(where)).scalar_one())
        stmt = select(EmployeeRow).where(where).order_by(EmployeeRow.employee_no).limit(limit).offset(offset)
        return list(session.execute(stmt).scalars()), total


def update_employee(
    db: Database,
    company_id: str,
    employee_id: str,
    department_id: str | None,
    status: str | None,
    now: datetime | None = None,
) -> EmployeeRow:
    """Moves an employee to another department or changes their status; disabling ends their
    sign-ins at once."""
    with db.write_sessions() as session, session.begin():
        employee = session.get(EmployeeRow, employee_id)
        if employee is None or employee.company_id != company_id:
            raise NotFound(f"employee {employee_id} not found in {company_id}")
        if department_id is not None:
            _department(session, company_id, department_id, "department_id")
            employee.department_id = department_id
        if status is not None:
            if status not in EMPLOYEE_STATUSES:
                raise InvalidInput("status", f"must be one of {', '.join(EMPLOYEE_STATUSES)}")
            if status == EmployeeStatus.DISABLED and employee.status != EmployeeStatus.DISABLED:
                revoke_all_sessions(
                    session, "employee", employee.id, "account_disabled", now or datetime.now(UTC)
                )
            employee.status = EmployeeStatus(status)
    return employee


def create_invitation(
    db: Database,
    company_id: str,
    department_id: str | None,
    employee_id: str | None,
    max_uses: int,
    ttl: timedelta,
    created_by: str,
    now: datetime,
) -> tuple[InvitationRow, str]:
    """A new code: for one enrolled employee (a lost or expired code), or open for a department."""
    if not 1 <= max_uses <= MAX_OPEN_INVITATION_USES:
        raise InvalidInput("max_uses", f"must be 1 to {MAX_OPEN_INVITATION_USES}")
    with db.write_sessions() as session, session.begin():
        _company(session, company_id)
        if employee_id is not None:
            employee = session.get(EmployeeRow, employee_id)
            if employee is None or employee.company_id != company_id:
                raise NotFound(f"employee {employee_id} not found in {company_id}")
            department_id, max_uses = employee.department_id, 1
        else:
            _department(session, company_id, department_id, "department_id")
        return _invite(session, company_id, department_id, employee_id, max_uses, ttl, created_by, now)


def redeem_invitation(
    session: Session, code: str, provider: str, subject_hash: str, now: datetime
) -> EmployeeRow:
    """Binds a provider identity to the invited employee (creating one for an open code)."""
    invitation = session.execute(
        select(InvitationRow)
        .where(InvitationRow.code_hash == secret_hash(normalize_code(code)))
        .with_for_update()  # one use of a single-use code, even under concurrent sign-ins
    ).scalar_one_or_none()
    if invitation is None or invitation.revoked_at is not None:
        raise Unauthenticated("unknown invitation code")
    if invitation.expires_at <= now:
        raise Unauthenticated("this invitation code has expired; ask for a new one")
    if invitation.uses >= invitation.max_uses:
        raise Unauthenticated("this invitation code has been used")
    if session.get(IdentityLinkRow, (provider, subject_hash)) is not None:
        raise Conflict("this account is already enrolled; sign in without an invitation code")
    if invitation.employee_id is not None:
        employee = session.get(EmployeeRow, invitation.employee_id)
        assert employee is not None
        # A re-issued code moves the employee to their new account (a new phone, a new WeChat).
        session.execute(
            delete(IdentityLinkRow).where(
                IdentityLinkRow.provider == provider, IdentityLinkRow.employee_id == employee.id
            )
        )
    else:
        employee = EmployeeRow(
            id=str(uuid.uuid4()),
            company_id=invitation.company_id,
            department_id=invitation.department_id,
            employee_no=f"inv-{secrets.token_hex(6)}",
            display_name=None,
            status=EmployeeStatus.ACTIVE,
            created_at=now,
        )
        session.add(employee)
        session.flush()
    invitation.uses += 1
    session.add(
        IdentityLinkRow(provider=provider, subject_hash=subject_hash, employee_id=employee.id, created_at=now)
    )
    return employee
