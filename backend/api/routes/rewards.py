"""Catalogue management for operators (park-wide rewards) and company admins (their company's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from backend.api.deps import OptionalIdempotencyKeyDep, PrincipalDep, RuntimeDep
from backend.api.text_fields import Name, Text
from backend.api.types import UtcDatetime
from backend.domain.points import rewards as reward_rules
from backend.services.identity import enrollment
from backend.services.points import rewards

router = APIRouter(prefix="/api/v1/rewards", tags=["rewards"])

MAX_COMPANIES = 100


class RewardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(min_length=1, max_length=120)
    name_zh: Name | None = Field(default=None, min_length=1, max_length=120)
    description: Text | None = Field(default=None, max_length=1000)
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
    """A reward as the catalogue's managers see it, read straight from the service's row."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    name_zh: str | None
    description: str | None
    price_points: int
    stock: int
    per_employee_limit: int | None
    valid_from: UtcDatetime | None
    valid_until: UtcDatetime | None
    companies: list[str] | None
    owner_org: str | None
    merchant: str | None = None
    cancel_window_s: int
    active: bool
    created_at: UtcDatetime
    updated_at: UtcDatetime


class RewardAdminList(BaseModel):
    items: list[RewardAdmin]


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
    principal: PrincipalDep,
    body: Annotated[RewardCreate, Body()],
    response: Response,
    idempotency_key: OptionalIdempotencyKeyDep,
) -> RewardAdmin:
    if body.companies:
        enrollment.require_companies(runtime.db, body.companies, "companies")
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
    return RewardAdmin.model_validate(row)


@router.get("", response_model=RewardAdminList, summary="Rewards I manage / 奖品管理")
def list_rewards(runtime: RuntimeDep, principal: PrincipalDep) -> RewardAdminList:
    return RewardAdminList(
        items=[RewardAdmin.model_validate(r) for r in rewards.list_managed(runtime.db, principal)]
    )


@router.patch("/{reward_id}", response_model=RewardAdmin, summary="Restock, withdraw or change a reward")
def update_reward(
    runtime: RuntimeDep, principal: PrincipalDep, reward_id: str, body: Annotated[RewardUpdate, Body()]
) -> RewardAdmin:
    changes = rewards.RewardChanges(
        add_stock=body.add_stock,
        active=body.active,
        price_points=body.price_points,
        per_employee_limit=body.per_employee_limit,
        valid_until=body.valid_until,
        fields_set=frozenset(body.model_fields_set),
    )
    return RewardAdmin.model_validate(
        rewards.update_reward(runtime.db, principal, reward_id, changes, datetime.now(UTC))
    )
