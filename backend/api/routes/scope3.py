"""Scope 3 routes for park managers, company admins and the park platform (pull API and exports).

Park managers see every company; a company admin sees only the company in their token. Figures
are aggregates: departments with fewer reporting employees than ``CARBON_MIN_GROUP_SIZE``
are never shown separately.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import PrincipalDep, RuntimeDep
from backend.api.text_fields import Text
from backend.bootstrap.runtime import Runtime
from backend.domain.accounting.scope3 import parse_category, parse_period
from backend.domain.canonical import canonical_json
from backend.domain.errors import PermissionDenied
from backend.services.accounting import scope3
from backend.services.identity import enrollment
from backend.services.identity.tokens import Principal
from backend.services.integrations import feed
from backend.services.reporting import (
    scope3_close,
    scope3_disclosure,
    scope3_explain,
    scope3_report,
    scope3_xlsx,
)

router = APIRouter(prefix="/api/v1/scope3", tags=["scope3"])


PeriodQuery = Annotated[
    str,
    Query(
        description="Year `2026`, quarter `2026-Q4` or month `2026-11` (park time zone).",
        examples=["2026-Q4"],
    ),
]
CompanyQuery = Annotated[
    str | None, Query(max_length=128, description="Company id; company admins default to their own.")
]
CategoryQuery = Annotated[int | None, Query(description="GHG Protocol Scope 3 category: 5, 6 or 7.")]
ExtrapolateQuery = Annotated[
    bool,
    Query(description="Add the category 7 average-data estimate for non-reporting employees (kept apart)."),
]


def scope3_config(runtime: Runtime) -> scope3.Scope3Config:
    return scope3.Scope3Config(
        runtime.settings.scope3_timezone, runtime.settings.min_group_size, runtime.settings.baseline
    )


def _summary(
    runtime: Runtime,
    principal: Principal,
    period: str,
    company: str | None,
    category: int | None,
    extrapolate: bool,
) -> dict[str, Any]:
    company = scope3.authorize_company(principal.role, principal.org, company)
    return scope3.summary(
        runtime.db,
        parse_period(period),
        scope3_config(runtime),
        company,
        parse_category(category),
        extrapolate,
    )


@router.get("/summary", summary="Scope 3 totals per category, avoided emissions apart / 范围三汇总")
def get_summary(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    period: PeriodQuery,
    company: CompanyQuery = None,
    category: CategoryQuery = None,
    extrapolate: ExtrapolateQuery = False,
) -> dict[str, Any]:
    """Inventory totals per GHG Protocol category in g, kg and t CO2e (per park, company,
    department and month), avoided emissions reported separately, data quality figures, the
    methods and factor sets used, and an ``explain_url`` beside every total."""
    return _summary(runtime, principal, period, company, category, extrapolate)


@router.get(
    "/export",
    summary="Export a summary as CSV, XLSX or JSON / 导出汇总",
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                scope3_xlsx.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                "application/json": {},
            }
        }
    },
)
def export_summary(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    period: PeriodQuery,
    company: CompanyQuery = None,
    category: CategoryQuery = None,
    extrapolate: ExtrapolateQuery = False,
    format: Annotated[
        Literal["csv", "xlsx", "json"],
        Query(description="csv (UTF-8 with a BOM), xlsx (Excel: summary, rows, factors) or json"),
    ] = "csv",
) -> Response:
    doc = _summary(runtime, principal, period, company, category, extrapolate)
    name = f"scope3-{doc['period']['label']}" + (
        f"-{doc['scope']['company']}" if doc["scope"]["company"] else ""
    )
    if format == "xlsx":
        return Response(
            scope3_xlsx.to_xlsx(doc, datetime.now(UTC)),
            media_type=scope3_xlsx.MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    if format == "json":
        return Response(
            canonical_json(doc),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
        )
    return Response(
        scope3_report.to_csv(doc).encode("utf-8-sig"),  # the BOM lets spreadsheet programs read UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/report", response_class=HTMLResponse, summary="Printable report in Chinese and English / 报告")
def get_report(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    period: PeriodQuery,
    company: CompanyQuery = None,
    extrapolate: ExtrapolateQuery = True,
) -> HTMLResponse:
    """A printable HTML report (print to PDF from the browser) with the methodology section."""
    return HTMLResponse(
        scope3_report.to_html(_summary(runtime, principal, period, company, None, extrapolate))
    )


@router.get(
    "/disclosure",
    summary="Scope 3 disclosure, categories 5–7 (GRI 305-3, climate disclosure standard) / 范围三披露",
    responses={200: {"content": {"text/html": {}, "application/pdf": {}, "application/json": {}}}},
)
def get_disclosure(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    period: PeriodQuery,
    company: CompanyQuery = None,
    format: Annotated[Literal["html", "pdf", "json"], Query()] = "html",
) -> Response:
    """Gross emissions per category, gases and GWP, biogenic CO2, methods, factor sources, data
    quality, boundary and exclusions, base year and restatements, avoided emissions apart; the same
    document as HTML, PDF (ReportLab) or JSON."""
    doc = _summary(runtime, principal, period, company, None, False)
    disclosure = scope3_disclosure.build(doc, scope3_close.list_closes(runtime.db))
    name = f"scope3-disclosure-{doc['period']['label']}" + (
        f"-{doc['scope']['company']}" if doc["scope"]["company"] else ""
    )
    if format == "json":
        return Response(canonical_json(disclosure), media_type="application/json")
    if format == "pdf":
        return Response(
            scope3_disclosure.to_pdf(disclosure),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return HTMLResponse(scope3_disclosure.to_html(disclosure))


@router.get("/explain", summary="How a total was computed / 计算说明")
def get_explanation(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    period: PeriodQuery,
    company: CompanyQuery = None,
    category: CategoryQuery = None,
    department: Annotated[str | None, Query(max_length=128)] = None,
    type: Annotated[str | None, Query(max_length=32, description="Activity type")] = None,
) -> dict[str, Any]:
    """The rule, methods, factor sets and each factor applied (with record counts) behind a total."""
    if company is None and principal.role == "company_admin":
        company = principal.org
    company = scope3.authorize_company(principal.role, principal.org, company)
    return scope3_explain.explain(
        runtime.db,
        parse_period(period),
        scope3_config(runtime),
        company,
        parse_category(category),
        department,
        type,
    )


class HeadcountUpdate(BaseModel):
    headcount: int = Field(ge=1, le=scope3.MAX_HEADCOUNT, description="Employees of the company.")


@router.get("/headcounts", summary="Configured headcounts / 员工人数")
def get_headcounts(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    company = principal.org if principal.role == "company_admin" else None
    if principal.role == "company_admin" and company is None:
        raise PermissionDenied("this company admin token names no company")
    return {"headcounts": scope3.list_headcounts(runtime.db, company)}


@router.put("/headcounts/{company}", summary="Set a company's headcount / 设置员工人数")
def put_headcount(
    runtime: RuntimeDep, principal: PrincipalDep, company: str, body: Annotated[HeadcountUpdate, Body()]
) -> dict[str, Any]:
    """The denominator of the share of employees reporting and of the category 7 extrapolation."""
    scope3.authorize_company(principal.role, principal.org, company)
    enrollment.require_companies(runtime.db, [company])
    scope3.set_headcount(runtime.db, company, body.headcount, principal.role)
    return {"company": company, "headcount": body.headcount}


class RestatementCreate(BaseModel):
    reason: Text = Field(min_length=1, max_length=scope3_close.MAX_REASON_LENGTH)


@router.get("/periods", summary="Closed periods and restatements / 已关账期间")
def get_closes(runtime: RuntimeDep, _principal: PrincipalDep) -> dict[str, Any]:
    return {"closes": scope3_close.list_closes(runtime.db)}


@router.post("/periods/{period}/close", status_code=201, summary="Close a period: freeze its totals / 关账")
def close_period(runtime: RuntimeDep, principal: PrincipalDep, period: str) -> dict[str, Any]:
    """Freezes the park's totals for an ended period, logs them (anchored with the next checkpoint)
    and queues the push to the park platform. Closing twice is a 409; restate instead."""
    return scope3_close.close_period(
        runtime.db,
        parse_period(period),
        scope3_config(runtime),
        principal.role,
        principal.subject,
        runtime.subject_key,
    )


@router.post("/periods/{period}/restatements", status_code=201, summary="Restate a closed period / 重述")
def restate_period(
    runtime: RuntimeDep, principal: PrincipalDep, period: str, body: Annotated[RestatementCreate, Body()]
) -> dict[str, Any]:
    return scope3_close.restate_period(
        runtime.db,
        parse_period(period),
        scope3_config(runtime),
        body.reason,
        principal.role,
        principal.subject,
        runtime.subject_key,
    )


class SignoffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opinion: Literal["unqualified", "qualified", "adverse", "disclaimer"] = Field(
        description="The auditor's opinion on the period's figures / 审计意见."
    )
    revision: int | None = Field(
        default=None, ge=0, description="The close (0) or restatement revision signed; the latest by default."
    )
    statement: str | None = Field(
        default=None,
        max_length=scope3_close.MAX_STATEMENT_LENGTH,
        description="The auditor's statement; kept in the database, only its SHA-256 is logged / 审计说明.",
    )


@router.post(
    "/periods/{period}/signoffs",
    status_code=201,
    responses={200: {"description": "A replay of the same sign-off"}},
    summary="An auditor signs off a closed period (a logged record) / 审计签核",
)
def sign_off_period(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    period: str,
    body: Annotated[SignoffCreate, Body()],
    response: Response,
) -> dict[str, Any]:
    signed, created = scope3_close.sign_off(
        runtime.db,
        parse_period(period),
        body.revision,
        body.opinion,
        body.statement,
        principal.subject,
        runtime.subject_key,
    )
    if not created:
        response.status_code = 200
    return signed


@router.get("/periods/{period}/signoffs", summary="Auditors' sign-offs of a period / 审计签核记录")
def get_signoffs(runtime: RuntimeDep, _principal: PrincipalDep, period: str) -> dict[str, Any]:
    return {"signoffs": scope3_close.list_signoffs(runtime.db, parse_period(period))}


@router.get("/feed", summary="Park-platform outbox status / 推送状态")
def get_feed(runtime: RuntimeDep, _principal: PrincipalDep) -> dict[str, Any]:
    return feed.outbox_status(runtime.db, configured=bool(runtime.settings.park_platform_url))


@router.post("/feed/snapshots", status_code=202, summary="Queue a push of an open period's totals / 推送快照")
def post_snapshot(runtime: RuntimeDep, _principal: PrincipalDep, period: PeriodQuery) -> JSONResponse:
    delivery_id = feed.enqueue_snapshot(runtime.db, parse_period(period), scope3_config(runtime))
    return JSONResponse({"delivery_id": delivery_id, "status": "queued"}, status_code=202)
