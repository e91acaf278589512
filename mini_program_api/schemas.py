"""Request and response schemas of the mini-program API, named by role (``…Create``, ``…Public``).

Every activity type has its own schema (a discriminated union on ``type``); unknown fields are
rejected so a typo never silently drops a quantity.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_DISTANCE_KM = Decimal(20_000)
"""Upper bound of any single trip's distance (a long-haul flight); modes have tighter bands."""


class _ActivityBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_at: AwareDatetime = Field(description="When it happened, ISO 8601 with a UTC offset.")


class _DistanceTrip(_ActivityBase):
    distance_km: Decimal = Field(
        gt=0,
        le=MAX_DISTANCE_KM,
        max_digits=9,
        decimal_places=3,
        description="Trip distance in km (up to 3 decimals).",
    )
    duration_min: Decimal | None = Field(default=None, gt=0, le=24 * 60, max_digits=7, decimal_places=2)
    source_record_id: str | None = Field(default=None, min_length=1, max_length=128)
    purpose: Literal["commute", "business"] = Field(
        default="commute", description="commute → Scope 3 category 7; business → category 6."
    )


class MetroTrip(_DistanceTrip):
    type: Literal["metro"]


ActivityCreate = Annotated[MetroTrip, Field(discriminator="type")]
ACTIVITY_TYPES: tuple[str, ...] = ("metro",)


class FactorApplied(BaseModel):
    role: str
    id: str
    value: str
    unit: str
    source: str
    gas_basis: str
    gwp: str
    region: str
    year: int
    status: str


class CalculationPublic(BaseModel):
    baseline: str | None
    inputs: dict[str, str]
    factors: list[FactorApplied]
    formula: str
    rounding: str
    credited: bool
    note: str


class ActivityPublic(BaseModel):
    id: str
    type: str
    status: str
    occurred_at: datetime
    recorded_at: datetime
    quantities: dict[str, Any]
    co2e_avoided_g: int
    co2e_scope3_g: int
    scope3_category: int | None
    points: int
    factor_set: str
    calculation: CalculationPublic
    leaf_index: int
    receipt_url: str


class ActivityPage(BaseModel):
    items: list[ActivityPublic]
    total: int
    limit: int
    offset: int


class ReceiptPending(BaseModel):
    status: Literal["pending"] = "pending"
    leaf_index: int
    anchored_tree_size: int
    retry_after_s: int
    message: str
    message_zh: str
