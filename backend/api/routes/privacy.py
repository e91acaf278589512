"""Privacy: operators erase a person's personal data and key (PIPL art. 47); the erasure is logged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import PrincipalDep, RuntimeDep
from backend.services.privacy import erasure

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])

Basis = Literal[
    "employee_request", "purpose_fulfilled", "retention_expired", "consent_withdrawn", "unlawful_processing"
]

assert set(get_args(Basis)) == set(erasure.BASES), "the schema lists every basis the service knows"


class ErasureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(
        min_length=1,
        max_length=erasure.MAX_SUBJECT_CHARS,
        description="The employee's id (as in the company's employee list) / 员工编号（系统内部 ID）.",
    )
    basis: Basis = Field(description="Why the person is erased (PIPL art. 47) / 删除依据.")


class ErasurePublic(BaseModel):
    id: str
    leaf_index: int = Field(description="The logged erasure record (no subject, no counts in it).")
    erased_at: datetime
    erased: dict[str, int] = Field(description="What this request erased, by kind; empty on a replay.")


@router.post(
    "/erasures",
    status_code=201,
    response_model=ErasurePublic,
    responses={200: {"model": ErasurePublic, "description": "The person was already erased"}},
    summary="Erase a person's personal data and key / 删除个人信息及其密钥",
)
def create_erasure(
    runtime: RuntimeDep, principal: PrincipalDep, body: Annotated[ErasureCreate, Body()], response: Response
) -> ErasurePublic:
    result = erasure.erase_subject(runtime.db, body.subject, body.basis, principal.role, datetime.now(UTC))
    runtime.sign_ins_ended()  # the erased person's access tokens stop now, not at the next reload
    if not result.created:
        response.status_code = 200
    return ErasurePublic(**result.public())
