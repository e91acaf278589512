"""Request and response schemas of identity, enrollment, reviews, aggregates and integrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from backend.api.text_fields import Name, Text
from backend.domain.identity.access import SCOPES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- sign-in ---


class MiniProgramLogin(_Strict):
    code: str = Field(min_length=1, max_length=256, description="The code from wx.login().")
    invitation_code: str | None = Field(
        default=None, min_length=4, max_length=32, description="Needed at the first sign-in only."
    )


class StaffLogin(_Strict):
    username: Name = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(_Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth 2.0 token type)
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    role: str
    subject: str
    company_id: str | None
    department_id: str | None


class MePublic(BaseModel):
    employee_id: str
    company_id: str | None
    department_id: str | None


# --- staff and API keys ---


class StaffCreate(_Strict):
    username: Name = Field(min_length=3, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: Literal["company_admin", "park_manager", "auditor", "operator", "merchant"]
    company_id: str | None = Field(default=None, max_length=64)


class StaffPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    role: str
    company_id: str | None
    created_at: datetime
    disabled_at: datetime | None


class ApiKeyCreate(_Strict):
    name: Name = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=len(SCOPES), description=f"Of: {', '.join(SCOPES)}")
    ttl_days: int | None = Field(default=None, ge=1, le=366)


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None


class ApiKeyIssued(ApiKeyPublic):
    key: str = Field(description="The full key: shown once, store it now.")


# --- enrollment ---


class CompanyCreate(_Strict):
    id: str = Field(min_length=1, max_length=64)
    name: Name = Field(min_length=1, max_length=200, description="The company's name (English).")
    name_zh: Name | None = Field(default=None, min_length=1, max_length=200, description="公司中文名称")


class CompanyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    name_zh: str | None = None
    created_at: datetime


class DepartmentCreate(_Strict):
    id: str = Field(min_length=1, max_length=64)
    name: Name = Field(min_length=1, max_length=200)


class DepartmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    company_id: str
    name: str


class EmployeeCreate(_Strict):
    employee_no: str = Field(min_length=1, max_length=64)
    department_id: str | None = Field(default=None, max_length=64)
    display_name: Name | None = Field(default=None, max_length=100)


class EmployeeUpdate(_Strict):
    department_id: str | None = Field(default=None, max_length=64)
    status: Literal["active", "disabled"] | None = None


class EmployeePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    employee_no: str
    department_id: str | None
    display_name: str | None
    status: str
    created_at: datetime


class EnrolledPublic(BaseModel):
    employee: EmployeePublic
    created: bool
    invitation_code: str | None = Field(description="Shown once; hand it to the employee.")
    invitation_expires_at: datetime | None


class EmployeePage(BaseModel):
    items: list[EmployeePublic]
    total: int
    limit: int
    offset: int


class ImportResult(BaseModel):
    created: int
    existing: int
    items: list[EnrolledPublic]


class InvitationCreate(_Strict):
    department_id: str | None = Field(default=None, max_length=64)
    employee_id: str | None = Field(default=None, max_length=36, description="Re-issue for one employee.")
    max_uses: int = Field(default=1, ge=1, le=1000)
    ttl_days: int = Field(default=14, ge=1, le=90)


class InvitationPublic(BaseModel):
    id: str
    code: str = Field(description="Shown once.")
    department_id: str | None
    employee_id: str | None
    max_uses: int
    expires_at: datetime


# --- reviews ---


class ReviewDecision(_Strict):
    decision: Literal["approve", "reject"]
    reason: Text = Field(min_length=1, max_length=500)


class ReviewPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    activity_id: str
    decision: str
    reason: str
    reviewer: str
    decided_at: datetime
    leaf_index: int


class ReviewItem(BaseModel):
    activity_id: str
    employee_id: str
    department_id: str | None
    type: str
    occurred_at: datetime
    recorded_at: datetime
    quantities: dict[str, Any]
    co2e_avoided_g: int
    status: str
    source: str
    evidence: str | None
    findings: list[dict[str, Any]]
    review: ReviewPublic | None


class ReviewPage(BaseModel):
    items: list[ReviewItem]
    total: int
    limit: int
    offset: int


# --- bindings and sources ---


class BindingCreate(_Strict):
    kind: Literal["transit_card", "bike_account", "ev_account", "recycling_card", "waste_contract"] = Field(
        description="waste_contract: the company's waste-contractor account, bound by the employee who "
        "looks after the company's waste (its records are the company's category 5 data, earning no points)."
    )
    identifier: str = Field(
        min_length=1, max_length=128, description="Card number or account id; stored hashed."
    )
    label: Name | None = Field(default=None, max_length=40, description="Your own name for it.")
    code: str | None = Field(
        default=None,
        max_length=32,
        description="The one-time binding code the card's or account's operator gave its holder "
        "(required: proof that the account is yours; see docs/integrations.md).",
    )
    consent: Literal[True] = Field(
        description="I agree that records of this account are used to credit my low-carbon trips."
    )


class BindingCodeRequest(_Strict):
    account: str = Field(min_length=1, max_length=128, description="The card or account id the source knows.")
    nonce: str | None = Field(
        default=None,
        max_length=64,
        description="Any unique value: two requests for one account within a second are otherwise "
        "the same signed request, and the second is refused as a replay.",
    )


class BindingCodeIssued(BaseModel):
    code: str = Field(description="One-time code for the account's holder; shown once.")
    kind: str = Field(description="The kind of binding the code is for.")
    expires_at: datetime


class BindingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    label: str | None
    consent_version: str
    consented_at: datetime
    revoked_at: datetime | None


class SourceCreate(_Strict):
    id: str = Field(min_length=1, max_length=64)
    name: Name = Field(min_length=1, max_length=200)
    kind: Literal["transit_gate", "bike_share", "ev_charger", "recycling_station", "waste_contractor"] = (
        Field(
            description="waste_contractor: the company's own waste contractor delivering weighed office "
            "waste (recycling records, Scope 3 category 5, no points)."
        )
    )
    activity_types: list[str] = Field(min_length=1, max_length=20)
    max_records_per_min: int = Field(default=600, ge=1, le=100_000)


class SourceUpdate(_Strict):
    enabled: bool


class SourcePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: str
    binding_kind: str
    activity_types: list[str]
    max_records_per_min: int
    created_at: datetime
    disabled_at: datetime | None
    previous_secret_valid_until: datetime | None = Field(
        validation_alias=AliasChoices("previous_secret_valid_until", "previous_valid_until")
    )


class SourceWithSecret(SourcePublic):
    secret: str = Field(description="HMAC-SHA256 key of this source's deliveries: shown once.")


class RecordOutcomePublic(BaseModel):
    record_id: str
    outcome: str
    activity_id: str | None = None
    field: str | None = None
    reason: str | None = None
    replayed: bool = False
    retry_after_s: int | None = None


class DeliveryResult(BaseModel):
    source: str
    received: int
    results: list[RecordOutcomePublic]


# --- aggregates ---


class AggregateGroup(BaseModel):
    key: str
    people: int
    activities: int
    co2e_avoided_g: int
    co2e_scope3_g: int
    points: int


class AggregatesPublic(BaseModel):
    group_by: str
    company: str | None
    min_group_size: int
    groups: list[AggregateGroup]
    other: AggregateGroup | None = Field(description="Groups too small to show, pooled.")
    pooled_groups: int
    suppressed: bool = Field(description="True when the whole population is below the minimum.")
    since: datetime | None = Field(default=None, description="The window's start, snapped to a whole day.")
    until: datetime | None = Field(default=None, description="The window's end, snapped to a whole day.")
