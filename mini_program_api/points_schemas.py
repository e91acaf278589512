"""Schemas of the mini-program's points, rewards, redemptions and leaderboards endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.api.types import UtcDatetime


class ExpiringPoints(BaseModel):
    points: int = Field(description="Points that will have expired by `by` unless spent first.")
    by: datetime


class PointsBalance(BaseModel):
    balance: int = Field(description="Carbon points available now (integer).")
    earned: int = Field(description="Points ever earned (issuance and awards).")
    redeemed: int = Field(description="Points spent on rewards, net of cancelled redemptions.")
    expired: int
    corrected: int = Field(description="Net effect of corrections (negative when points were taken back).")
    expiring: ExpiringPoints | None = Field(description="Set when points expire in the coming 30 days.")
    history_url: str = "/mp/v1/points/history"


class ActivityRef(BaseModel):
    id: str
    type: str
    occurred_at: datetime
    co2e_avoided_g: int


class RewardRef(BaseModel):
    id: str
    name: str
    name_zh: str | None
    redemption_id: str | None


class HistoryItem(BaseModel):
    transfer_id: str
    at: datetime
    kind: Literal["issuance", "allocation", "award", "redemption", "refund", "expiry", "correction"]
    amount: int = Field(description="Signed points: positive into your account, negative out of it.")
    balance_after: int
    reason_code: str | None = Field(description="Why a correction, refund or expiry happened.")
    reverses: str | None = Field(description="The transfer a correction reverses.")
    activity: ActivityRef | None
    reward: RewardRef | None
    leaf_index: int | None = Field(
        description="Where this transfer sits in the transparency log; null until the sequencer has "
        "logged it (CARBON_SEQUENCING=queued): GET the history or the activity's receipt later."
    )


class HistoryPage(BaseModel):
    items: list[HistoryItem]
    total: int
    limit: int
    offset: int
    balance: int


class RewardPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    name_zh: str | None
    description: str | None
    price_points: int
    stock: int
    per_employee_limit: int | None
    my_redemptions: int = Field(description="How many of your redemptions of it are not cancelled.")
    valid_from: UtcDatetime | None
    valid_until: UtcDatetime | None
    cancel_window_s: int


class RewardList(BaseModel):
    items: list[RewardPublic]


class RedemptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reward_id: str = Field(min_length=1, max_length=36)


class RedemptionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    reward_id: str
    reward_name: str
    reward_name_zh: str | None
    voucher_code: str = Field(description="Show it to the merchant; CL-XXXX-XXXX-XXXX (Crockford base32).")
    price_points: int
    status: Literal["issued", "cancelled", "used"]
    created_at: UtcDatetime
    cancellable_until: UtcDatetime
    cancelled_at: UtcDatetime | None
    balance: int | None = Field(default=None, description="Your balance after this request.")
    expires_at: UtcDatetime | None = Field(default=None, description="After this no merchant accepts it.")
    used_at: UtcDatetime | None = Field(default=None, description="When a merchant marked it used.")
    voucher_qr_url: str | None = Field(
        default=None, description="An SVG QR code of the signed voucher, to show at the till."
    )


class RedemptionPage(BaseModel):
    items: list[RedemptionPublic]
    total: int
    limit: int
    offset: int


class LeaderboardOptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: str | None = Field(
        default=None, max_length=24, description="Shown instead of a generated pseudonym; never your name."
    )


class LeaderboardStatus(BaseModel):
    opted_in: bool
    alias: str | None
    display_name: str | None
    company: str | None
    department: str | None


class LeaderboardEntry(BaseModel):
    rank: int
    name: str
    points: int
    me: bool


class LeaderboardPublic(BaseModel):
    scope: Literal["company", "department"]
    period: str
    available: bool
    reason: str | None = None
    members: int = Field(description="People in the group who opted in.")
    min_group: int
    entries: list[LeaderboardEntry]
    me: LeaderboardEntry | None


class DepartmentEntryPublic(BaseModel):
    rank: int
    department: str
    members: int
    points: int
    points_per_member: int
    mine: bool


class DepartmentBoardPublic(BaseModel):
    period: str
    min_group: int
    departments: list[DepartmentEntryPublic]
    departments_too_small: int = Field(
        description="Departments left out for having too few members opted in."
    )
