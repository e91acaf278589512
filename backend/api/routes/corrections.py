"""Corrections: operators and company admins reverse a record; the reversal is itself logged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import PrincipalDep, RuntimeDep
from backend.api.text_fields import Text
from backend.services import corrections

router = APIRouter(prefix="/api/v1", tags=["corrections"])

ReasonCode = Literal[
    "duplicate",
    "data_entry_error",
    "not_eligible",
    "fraud_suspected",
    "employee_request",
    "factor_error",
    "other",
]


class ReversalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: ReasonCode = Field(description="Why the record is reversed / 冲正原因代码.")
    note: Text | None = Field(
        default=None,
        max_length=corrections.MAX_NOTE_CHARS,
        description="Free text (required for 'other'); kept in the database, only a commitment is logged.",
    )


class ReversedAmounts(BaseModel):
    co2e_avoided_g: int
    co2e_scope3_g: int
    scope3_category: int | None
    points: int


class CorrectionPublic(BaseModel):
    id: str
    activity_id: str
    activity_status: str
    reason_code: str
    note: str | None
    reversed: ReversedAmounts
    leaf_index: int
    created_at: datetime
    receipt_url: str


@router.post(
    "/activities/{activity_id}/reversal",
    status_code=201,
    response_model=CorrectionPublic,
    responses={200: {"model": CorrectionPublic, "description": "A replay of the same reversal"}},
    summary="Reverse a recorded activity / 冲正一条记录",
)
def reverse_activity(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    activity_id: str,
    body: Annotated[ReversalCreate, Body()],
    response: Response,
) -> CorrectionPublic:
    actor = corrections.Actor(principal.role, principal.subject, principal.org)
    result = corrections.reverse_activity(
        runtime.db, actor, activity_id, body.reason_code, body.note, runtime.subject_key
    )
    if not result.created:
        response.status_code = 200
    row, activity = result.row, result.activity
    return CorrectionPublic(
        id=row.id,
        activity_id=activity.id,
        activity_status=activity.status,
        reason_code=row.reason_code,
        note=row.note,
        reversed=ReversedAmounts(
            co2e_avoided_g=-activity.co2e_avoided_g,
            co2e_scope3_g=-activity.co2e_scope3_g,
            scope3_category=activity.scope3_category,
            points=-activity.points,
        ),
        leaf_index=row.leaf_index,
        created_at=row.created_at,
        receipt_url=f"/audit/v1/receipts/{row.leaf_index}",
    )
