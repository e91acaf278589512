"""Corrections: operators and company admins reverse a record; the reversal is itself logged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import PrincipalDep, RuntimeDep
from backend.api.text_fields import Text
from backend.services.recording import corrections

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


class PointsReversed(BaseModel):
    earned: int = Field(description="Points the activity's issuance credited / 该记录获得的积分.")
    taken_back: int = Field(description="Points this reversal took back from the balance / 本次收回的积分.")
    not_recovered: int = Field(
        description="Earned points not taken back: already spent or reversed before / "
        "未能收回的积分（已使用或此前已冲正）."
    )
    transfer_id: str | None = Field(description="The logged correction transfer that took them back.")


class CorrectionPublic(BaseModel):
    id: str
    activity_id: str
    activity_status: str
    reason_code: str
    note: str | None
    reversed: ReversedAmounts = Field(
        description="What the reversal changed: CO2e removed from totals, points taken back from the balance."
    )
    points: PointsReversed
    summary_en: str
    summary_zh: str
    leaf_index: int
    created_at: datetime
    receipt_url: str


def _summary(avoided_g: int, scope3_g: int, taken: corrections.PointsTakeBack) -> tuple[str, str]:
    """One sentence in each language saying exactly what the reversal did."""
    en = f"Reversed: {avoided_g:,} g avoided and {scope3_g:,} g Scope 3 no longer count in totals"
    zh = f"已冲正：{avoided_g:,} 克减排量与 {scope3_g:,} 克范围三排放不再计入合计"
    if taken.earned == 0:
        return en + "; it had earned no points.", zh + "；该记录未获得积分。"
    en += f"; {taken.taken_back:,} of its {taken.earned:,} points were taken back from the employee's balance"
    zh += f"；其 {taken.earned:,} 积分中已从员工余额收回 {taken.taken_back:,}"
    if taken.not_recovered:
        en += f" ({taken.not_recovered:,} had already been spent or reversed and stay)"
        zh += f"（{taken.not_recovered:,} 积分已被使用或此前已冲正，未收回）"
    return en + ".", zh + "。"


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
    taken = corrections.points_take_back(runtime.db, activity.id)
    en, zh = _summary(activity.co2e_avoided_g, activity.co2e_scope3_g, taken)
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
            points=-taken.taken_back,
        ),
        points=PointsReversed(
            earned=taken.earned,
            taken_back=taken.taken_back,
            not_recovered=taken.not_recovered,
            transfer_id=taken.transfer_id,
        ),
        summary_en=en,
        summary_zh=zh,
        leaf_index=row.leaf_index,
        created_at=row.created_at,
        receipt_url=f"/audit/v1/receipts/{row.leaf_index}",
    )
