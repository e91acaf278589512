"""Points administration: issuance rules, corrections, company pools, transfers and the ledger audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from backend.api.deps import PrincipalDep, RuntimeDep
from backend.api.text_fields import Text
from backend.api.types import UtcDatetime
from backend.domain.errors import PermissionDenied
from backend.domain.points.points import MAX_TRANSFER_POINTS, ReasonCode, TransferKind
from backend.domain.points.points_rules import (
    MAX_CAP_POINTS,
    MAX_COOLDOWN_S,
    MAX_EXPIRY_MONTHS,
    MAX_RATE_POINTS_PER_KG,
)
from backend.services.identity import enrollment
from backend.services.identity.tokens import Principal
from backend.services.points import points, points_rules

router = APIRouter(prefix="/api/v1/points", tags=["points administration"])


def company_of(principal: Principal) -> str | None:
    """The company a company admin is limited to (None for park-wide roles); never "none"."""
    if principal.role != "company_admin":
        return None
    if not principal.org:
        raise PermissionDenied("this company admin token names no company")
    return principal.org


class TypeRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points_per_kg: int | None = Field(default=None, ge=0, le=MAX_RATE_POINTS_PER_KG)
    daily_count_cap: int | None = Field(default=None, ge=0, le=10_000, description="Rewarded actions per day")
    daily_points_cap: int | None = Field(default=None, ge=0, le=MAX_CAP_POINTS)
    cooldown_s: int | None = Field(default=None, ge=0, le=MAX_COOLDOWN_S)


class RulesIn(BaseModel):
    """A rules document. Unset fields keep the default (the park's, for a company's overrides)."""

    model_config = ConfigDict(extra="forbid")

    points_per_kg: int | None = Field(default=None, ge=0, le=MAX_RATE_POINTS_PER_KG)
    default_type: TypeRuleIn | None = None
    types: dict[str, TypeRuleIn] | None = Field(default=None, description="Rules per activity type")
    employee_daily_points_cap: int | None = Field(default=None, ge=0, le=MAX_CAP_POINTS)
    employee_monthly_points_cap: int | None = Field(default=None, ge=0, le=MAX_CAP_POINTS)
    expiry_months: int | None = Field(default=None, ge=0, le=MAX_EXPIRY_MONTHS, description="Park only")
    utc_offset_min: int | None = Field(default=None, ge=-720, le=840, description="Park only")
    company_max_points_per_kg: int | None = Field(
        default=None,
        ge=0,
        le=MAX_RATE_POINTS_PER_KG,
        description="Park only: the highest rate a company may set (its general, default or per-type rate)",
    )


class RulesDocumentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    scope: str
    version: int
    document: dict[str, Any]
    updated_by: str
    updated_at: UtcDatetime
    leaf_index: int


class RulesPublic(BaseModel):
    defaults: dict[str, Any] = Field(description="Settings-level defaults (CARBON_POINTS_*)")
    documents: list[RulesDocumentPublic]


@router.get("/rules", response_model=RulesPublic, summary="Issuance rules in force / 积分发放规则")
def get_rules(runtime: RuntimeDep, principal: PrincipalDep) -> RulesPublic:
    d = runtime.issuance.rules_defaults
    org = principal.org if principal.role == "company_admin" else None
    return RulesPublic(
        defaults={
            "points_per_kg": d.points_per_kg,
            "default_type": vars(d.default_type),
            "employee_daily_points_cap": d.employee_daily_points_cap,
            "employee_monthly_points_cap": d.employee_monthly_points_cap,
            "expiry_months": d.expiry_months,
            "utc_offset_min": d.utc_offset_min,
            "company_max_points_per_kg": d.company_max_points_per_kg,
        },
        documents=[
            RulesDocumentPublic.model_validate(r) for r in points_rules.list_documents(runtime.db, org)
        ],
    )


def _document(body: RulesIn) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude_none=True)


@router.put("/rules/park", response_model=RulesDocumentPublic, summary="Replace the park's issuance rules")
def put_park_rules(
    runtime: RuntimeDep, principal: PrincipalDep, body: Annotated[RulesIn, Body()]
) -> RulesDocumentPublic:
    row = points_rules.put_document(
        runtime.db, points_rules.PARK_SCOPE, _document(body), principal.subject, datetime.now(UTC)
    )
    return RulesDocumentPublic.model_validate(row)


@router.put(
    "/rules/companies/{org_id}",
    response_model=RulesDocumentPublic,
    summary="Replace a company's overrides (caps can only be tightened)",
)
def put_company_rules(
    runtime: RuntimeDep, principal: PrincipalDep, org_id: str, body: Annotated[RulesIn, Body()]
) -> RulesDocumentPublic:
    if principal.role == "company_admin" and principal.org != org_id:
        raise PermissionDenied("a company admin sets its own company's rules only")
    enrollment.require_companies(runtime.db, [org_id])
    scope = points_rules.company_scope(org_id)
    row = points_rules.put_document(
        runtime.db,
        scope,
        _document(body),
        principal.subject,
        datetime.now(UTC),
        runtime.issuance.rules_defaults,
    )
    return RulesDocumentPublic.model_validate(row)


class TransferPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    debit_account: str = Field(validation_alias=AliasChoices("debit_account", "debit_account_id"))
    credit_account: str = Field(validation_alias=AliasChoices("credit_account", "credit_account_id"))
    amount: int
    reason_code: str | None
    reverses: str | None = Field(validation_alias=AliasChoices("reverses", "reverses_id"))
    activity_id: str | None
    redemption_id: str | None
    details: dict[str, Any]
    created_at: UtcDatetime
    created_by: str | None
    leaf_index: int | None = Field(
        description="Where the transfer sits in the transparency log; null until the sequencer has "
        "logged it (CARBON_SEQUENCING=queued): GET it again later."
    )


class CorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(description="Client-chosen transfer id: the idempotency key of this correction.")
    reverses: str = Field(min_length=1, max_length=36, description="The transfer to reverse.")
    reason_code: ReasonCode
    amount: int | None = Field(
        default=None, gt=0, le=MAX_TRANSFER_POINTS, description="Default: all not yet reversed."
    )
    note: Text | None = Field(default=None, max_length=500, description="Kept in the database, never logged.")


def _created(response: Response, posted: points.PostedTransfer) -> TransferPublic:
    if not posted.created:
        response.status_code = 200
    return TransferPublic.model_validate(posted.row)


@router.post(
    "/corrections",
    status_code=201,
    response_model=TransferPublic,
    responses={
        200: {"model": TransferPublic, "description": "A replay of the same correction id and fields"}
    },
    summary="Reverse a transfer with a reason code / 冲正",
)
def create_correction(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    body: Annotated[CorrectionCreate, Body()],
    response: Response,
) -> TransferPublic:
    posted = points.correct(
        runtime.db,
        runtime.subject_key,
        transfer_id=str(body.id),
        reverses_id=body.reverses,
        reason_code=body.reason_code.value,
        amount=body.amount,
        note=body.note,
        actor=principal.subject,
        actor_org=company_of(principal),
        now=datetime.now(UTC),
    )
    return _created(response, posted)


class GrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(description="Client-chosen transfer id: the idempotency key.")
    kind: Literal["allocation", "award"] = Field(
        description="allocation: park issuance → the company's pool (operators); award: pool → an employee."
    )
    company: str = Field(min_length=1, max_length=128)
    employee: str | None = Field(default=None, min_length=1, max_length=128)
    amount: int = Field(gt=0, le=MAX_TRANSFER_POINTS)
    note: Text | None = Field(default=None, max_length=500)


@router.post(
    "/transfers",
    status_code=201,
    response_model=TransferPublic,
    responses={200: {"model": TransferPublic, "description": "A replay of the same id and fields"}},
    summary="Fund a company pool, or award points from it / 企业积分池",
)
def create_grant(
    runtime: RuntimeDep, principal: PrincipalDep, body: Annotated[GrantCreate, Body()], response: Response
) -> TransferPublic:
    posted = points.grant(
        runtime.db,
        runtime.subject_key,
        transfer_id=str(body.id),
        kind=TransferKind(body.kind),
        org_id=body.company,
        employee=body.employee,
        amount=body.amount,
        note=body.note,
        actor=principal,
        now=datetime.now(UTC),
    )
    return _created(response, posted)


class TransferList(BaseModel):
    items: list[TransferPublic]


@router.get(
    "/transfers", response_model=TransferList, summary="Transfers behind an activity, redemption or employee"
)
def list_transfers(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    activity_id: Annotated[str | None, Query(max_length=36)] = None,
    redemption_id: Annotated[str | None, Query(max_length=36)] = None,
    employee: Annotated[str | None, Query(max_length=128)] = None,
) -> TransferList:
    rows = points.find_transfers(
        runtime.db,
        org_id=company_of(principal),
        activity_id=activity_id,
        redemption_id=redemption_id,
        employee=employee,
    )
    return TransferList(items=[TransferPublic.model_validate(r) for r in rows])


class LedgerPublic(BaseModel):
    consistent: bool = Field(
        description="Totals match the transfers, the sum of balances is zero, no overdraft."
    )
    accounts: int
    transfers: int
    sum_of_balances: int
    mismatched_accounts: list[str]
    overdrawn_accounts: list[str]
    totals: dict[str, Any]


def _masked(account_id: str) -> str:
    """Employee ids are personal data: auditors see that an employee account is off, not whose."""
    return "employee:***" if account_id.startswith("employee:") else account_id


@router.get(
    "/ledger", response_model=LedgerPublic, summary="Ledger audit: conservation and totals / 账本核对"
)
def get_ledger(runtime: RuntimeDep, _principal: PrincipalDep) -> LedgerPublic:
    audit = points.audit_ledger(runtime.db)
    with runtime.db.read_sessions() as session:
        totals = points.totals(session)
    return LedgerPublic(
        consistent=audit.ok,
        accounts=audit.accounts,
        transfers=audit.transfers,
        sum_of_balances=audit.sum_of_balances,
        mismatched_accounts=[_masked(a) for a in audit.mismatched_accounts],
        overdrawn_accounts=[_masked(a) for a in audit.overdrawn_accounts],
        totals=totals,
    )
