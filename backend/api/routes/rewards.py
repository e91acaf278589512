"""Catalogue management for operators (park-wide rewards) and company admins (their company's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from backend.adapters.orm_points import RewardRow
from backend.api.deps import RuntimeDep, require_roles
from backend.domain import rewards as reward_rules
from backend.domain.errors import InvalidInput
from backend.services import rewards
from backend.services.tokens import Principal

router = APIRouter(prefix="/api/v1/rewards", tags=["rewards"])

ManagerDep = Annotated[Principal, Depends(require_roles("operator", "company_admin"))]
MAX_COMPANIES = 100


class RewardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    name_zh: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=1000)
    price_points: int = Field(gt=0, le=10**9)
    stock: int = Field(ge=0, le=reward_rules.MAX_REWARD_STOCK)
    per_employee_limit: int | None = Field(default=None, ge=1, le=reward_rules.MAX_PER_EMPLOYEE_LIMIT)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    companies: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_COMPANIES,
        description="Companies whose employees may redeem it (operators only; unset: the whole park). "
        "A company admin's rewards are always for its own company.",
    )
    cancel_window_s: int | None = Field(
        default=None,
        ge=0,
        le=reward_rules.MAX_CANCEL_WINDOW_S,
        description="Default CARBON_REDEMPTION_CANCEL_WINDOW_S.",
    )
    active: bool = True
    merchant: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="The merchant whose staff accept its vouchers at the till (a merchant account's "
        "organisation, e.g. park-canteen); unset: vouchers no till accepts.",
    )


class RewardUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    add_stock: int = Field(
        default=0,
        ge=-reward_rules.MAX_REWARD_STOCK,
        le=reward_rules.MAX_REWARD_STOCK,
        description="Units to add (negative: withdraw); relative, so it never races redemptions.",
    )
    active: bool | None = None
    price_points: int | None = Field(default=None, gt=0, le=10**9)
    per_employee_limit: int | None = Field(default=None, ge=1, le=reward_rules.MAX_PER_EMPLOYEE_LIMIT)
    valid_until: AwareDatetime | None = None


class RewardAdmin(BaseModel):
    id: str
    name: str
    name_zh: str | None
    description: str | None
    price_points: int
    stock: int
    per_employee_limit: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    companies: list[str] | None
    owner_org: str | None
    merchant: str | None = None
    cancel_window_s: int
    active: bool
    created_at: datetime
    updated_at: datetime


class RewardAdminList(BaseModel):
    items: list[RewardAdmin]


def reward_admin(row: RewardRow) -> RewardAdmin:
    def utc(value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value else None

    return RewardAdmin(
        id=row.id,
        name=row.name,
        name_zh=row.name_zh,
        description=row.description,
        price_points=row.price_points,
        stock=row.stock,
        per_employee_limit=row.per_employee_limit,
        valid_from=utc(row.valid_from),
        valid_until=utc(row.valid_until),
        companies=row.companies,
        owner_org=row.owner_org,
        merchant=row.merchant,
        cancel_window_s=row.cancel_window_s,
        active=row.active,
        created_at=row.created_at.astimezone(UTC),
        updated_at=row.updated_at.astimezone(UTC),
    )


@router.post(
    "",
    status_code=201,
    response_model=RewardAdmin,
    responses={
        200: {"model": RewardAdmin, "description": "A replay of an earlier request with the same key"}
    },
    summary="Add a reward to the catalogue / 新增奖品",
)
def create_reward(
    runtime: RuntimeDep,
    principal: ManagerDep,
    body: Annotated[RewardCreate, Body()],
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> RewardAdmin:
    if idempotency_key is not None and not 8 <= len(idempotency_key) <= 128:
        raise InvalidInput("Idempotency-Key", "must be 8–128 characters")
    spec = rewards.RewardSpec(
        name=body.name,
        name_zh=body.name_zh,
        description=body.description,
        price_points=body.price_points,
        stock=body.stock,
        per_employee_limit=body.per_employee_limit,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        companies=tuple(body.companies) if body.companies is not None else None,
        cancel_window_s=body.cancel_window_s,
        active=body.active,
        merchant=body.merchant,
    )
    row, created = rewards.create_reward(
        runtime.db,
        principal,
        spec,
        body.model_dump(mode="json", exclude=set() if body.merchant else {"merchant"}),
        idempotency_key,
        runtime.settings.redemption_cancel_window_s,
        datetime.now(UTC),
    )
    if not created:
        response.status_code = 200
    return reward_admin(row)


@router.get("", response_model=RewardAdminList, summary="Rewards I manage / 奖品管理")
def list_rewards(runtime: RuntimeDep, principal: ManagerDep) -> RewardAdminList:
    return RewardAdminList(items=[reward_admin(r) for r in rewards.list_managed(runtime.db, principal)])


@router.patch("/{reward_id}", response_model=RewardAdmin, summary="Restock, withdraw or change a reward")
def update_reward(
    runtime: RuntimeDep, principal: ManagerDep, reward_id: str, body: Annotated[RewardUpdate, Body()]
) -> RewardAdmin:
    changes = rewards.RewardChanges(
        add_stock=body.add_stock,
        active=body.active,
        price_points=body.price_points,
        per_employee_limit=body.per_employee_limit,
        valid_until=body.valid_until,
        fields_set=frozenset(body.model_fields_set),
    )
    return reward_admin(rewards.update_reward(runtime.db, principal, reward_id, changes, datetime.now(UTC)))
