"""Enrollment: the park's companies (operators) and, per company, departments, employees, CSV
import and invitation codes (that company's admins only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Query

from backend.api.deps import CompanyAdminDep, PrincipalDep, RuntimeDep
from backend.api.schemas_identity import (
    CompanyCreate,
    CompanyPublic,
    DepartmentCreate,
    DepartmentPublic,
    EmployeeCreate,
    EmployeePage,
    EmployeePublic,
    EmployeeUpdate,
    EnrolledPublic,
    ImportResult,
    InvitationCreate,
    InvitationPublic,
)
from backend.domain.errors import InvalidInput
from backend.services.identity import enrollment

router = APIRouter(prefix="/api/v1", tags=["enrollment"])

INVITATION_TTL = timedelta(days=14)
"""How long a code from enrollment or import stays valid: two weeks to get round to signing in."""
MAX_PAGE_SIZE = 200


def _enrolled(result: enrollment.Enrolled, now: datetime) -> EnrolledPublic:
    return EnrolledPublic(
        employee=EmployeePublic.model_validate(result.employee),
        created=result.created,
        invitation_code=result.invitation_code,
        invitation_expires_at=now + INVITATION_TTL if result.invitation_code else None,
    )


@router.post("/companies", status_code=201, response_model=CompanyPublic, summary="Add a company to the park")
def create_company(runtime: RuntimeDep, _operator: PrincipalDep, body: CompanyCreate) -> CompanyPublic:
    return CompanyPublic.model_validate(
        enrollment.create_company(runtime.db, body.id, body.name, datetime.now(UTC), body.name_zh)
    )


@router.get("/companies", response_model=list[CompanyPublic], summary="The park's companies / 园区企业")
def list_companies(runtime: RuntimeDep, _caller: PrincipalDep) -> list[CompanyPublic]:
    return [CompanyPublic.model_validate(c) for c in enrollment.list_companies(runtime.db)]


@router.post(
    "/companies/{company_id}/departments",
    status_code=201,
    response_model=DepartmentPublic,
    summary="Add a department",
)
def create_department(
    runtime: RuntimeDep, _admin: CompanyAdminDep, company_id: str, body: DepartmentCreate
) -> DepartmentPublic:
    now = datetime.now(UTC)
    return DepartmentPublic.model_validate(
        enrollment.create_department(runtime.db, company_id, body.id, body.name, now)
    )


@router.get(
    "/companies/{company_id}/departments", response_model=list[DepartmentPublic], summary="Departments"
)
def list_departments(runtime: RuntimeDep, _admin: CompanyAdminDep, company_id: str) -> list[DepartmentPublic]:
    return [DepartmentPublic.model_validate(d) for d in enrollment.list_departments(runtime.db, company_id)]


@router.post(
    "/companies/{company_id}/employees",
    status_code=201,
    response_model=EnrolledPublic,
    summary="Enroll an employee; returns their invitation code once / 登记员工",
)
def enroll_employee(
    runtime: RuntimeDep, admin: CompanyAdminDep, company_id: str, body: EmployeeCreate
) -> EnrolledPublic:
    now = datetime.now(UTC)
    result = enrollment.enroll_employee(
        runtime.db,
        company_id,
        body.employee_no,
        body.department_id,
        body.display_name,
        INVITATION_TTL,
        admin.subject,
        now,
    )
    return _enrolled(result, now)


@router.get(
    "/companies/{company_id}/employees", response_model=EmployeePage, summary="The company's employees"
)
def list_employees(
    runtime: RuntimeDep,
    _admin: CompanyAdminDep,
    company_id: str,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> EmployeePage:
    rows, total = enrollment.list_employees(runtime.db, company_id, limit, offset)
    return EmployeePage(
        items=[EmployeePublic.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.patch(
    "/companies/{company_id}/employees/{employee_id}",
    response_model=EmployeePublic,
    summary="Move or disable",
)
def update_employee(
    runtime: RuntimeDep, _admin: CompanyAdminDep, company_id: str, employee_id: str, body: EmployeeUpdate
) -> EmployeePublic:
    row = enrollment.update_employee(runtime.db, company_id, employee_id, body.department_id, body.status)
    if body.status == "disabled":
        runtime.sign_ins_ended()
    return EmployeePublic.model_validate(row)


@router.post(
    "/companies/{company_id}/employees/import",
    response_model=ImportResult,
    summary="Bulk enrollment from CSV (employee_no,department_id,display_name) / 批量导入",
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
def import_employees(
    runtime: RuntimeDep,
    admin: CompanyAdminDep,
    company_id: str,
    body: Annotated[bytes, Body(media_type="text/csv")] = b"",
) -> ImportResult:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("csv", "must be UTF-8 text") from None
    if not text.strip():
        raise InvalidInput("csv", "the body is empty: send the CSV file as text/csv")
    now = datetime.now(UTC)
    results = enrollment.import_employees_csv(
        runtime.db, company_id, text, INVITATION_TTL, admin.subject, now
    )
    created = sum(r.created for r in results)
    return ImportResult(
        created=created, existing=len(results) - created, items=[_enrolled(r, now) for r in results]
    )


@router.post(
    "/companies/{company_id}/invitations",
    status_code=201,
    response_model=InvitationPublic,
    summary="Issue an invitation code / 生成邀请码",
)
def create_invitation(
    runtime: RuntimeDep, admin: CompanyAdminDep, company_id: str, body: InvitationCreate
) -> InvitationPublic:
    row, code = enrollment.create_invitation(
        runtime.db,
        company_id,
        body.department_id,
        body.employee_id,
        body.max_uses,
        timedelta(days=body.ttl_days),
        admin.subject,
        datetime.now(UTC),
    )
    return InvitationPublic(
        id=row.id,
        code=code,
        department_id=row.department_id,
        employee_id=row.employee_id,
        max_uses=row.max_uses,
        expires_at=row.expires_at,
    )
