"""Employee-facing routes the mini-program calls: thin, over the same services as the rest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import JSONResponse

from backend.api.deps import IdempotencyKeyDep, PrincipalDep, RuntimeDep, TargetDep
from backend.domain.accounting.activity_names import names_of
from backend.domain.errors import ConfigurationError
from backend.services.log import receipts
from backend.services.recording import activities
from mini_program_api.schemas import (
    ACTIVITY_TYPES,
    ActivityCreate,
    ActivityPage,
    ActivityPublic,
    ActivityTypeList,
    ActivityTypePublic,
    ChainPublic,
    ReceiptPending,
)

router = APIRouter(prefix="/mp/v1", tags=["mini-program"])

RECEIPT_RETRY_AFTER_S = 3


def _caller(principal: PrincipalDep) -> activities.Caller:
    return activities.Caller(subject_id=principal.subject, org_id=principal.org, dept_id=principal.dept)


@router.post(
    "/activities",
    status_code=201,
    response_model=ActivityPublic,
    responses={
        200: {"model": ActivityPublic, "description": "A replay of an earlier request with the same key"}
    },
    summary="Record a low-carbon activity / 记录低碳行为",
)
def create_activity(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    body: Annotated[ActivityCreate, Body()],
    response: Response,
    idempotency_key: IdempotencyKeyDep,
) -> ActivityPublic:
    payload = body.model_dump(mode="json", exclude_none=True)
    result = activities.record_activity(
        runtime.db, _caller(principal), idempotency_key, payload, body.occurred_at, runtime.issuance
    )
    if not result.created:
        response.status_code = 200
    return ActivityPublic.model_validate(result.view)


@router.get("/activities", response_model=ActivityPage, summary="My activities, newest first / 我的低碳行为")
def list_activities(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=activities.MAX_PAGE_SIZE)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ActivityPage:
    rows, total = activities.list_activities(runtime.db, _caller(principal), limit, offset)
    return ActivityPage(
        items=[ActivityPublic.model_validate(activities.ActivityView.of(r)) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/activities/{activity_id}", response_model=ActivityPublic, summary="One of my activities")
def get_activity(runtime: RuntimeDep, principal: PrincipalDep, activity_id: str) -> ActivityPublic:
    row = activities.get_activity(runtime.db, _caller(principal), activity_id)
    return ActivityPublic.model_validate(activities.ActivityView.of(row))


@router.get(
    "/activities/{activity_id}/receipt",
    responses={
        200: {"description": "The receipt (RFC 9162 inclusion proof at an anchored checkpoint)"},
        202: {"model": ReceiptPending, "description": "Not anchored yet"},
    },
    summary="Receipt of my activity / 我的上链凭证",
)
def get_receipt(
    runtime: RuntimeDep, principal: PrincipalDep, target: TargetDep, activity_id: str
) -> JSONResponse:
    row = activities.get_activity(runtime.db, _caller(principal), activity_id)
    result = receipts.receipt_for_leaf(runtime.db, target, row.leaf_index)
    if isinstance(result, receipts.Pending):
        pending = ReceiptPending(
            leaf_index=result.leaf_index,
            anchored_tree_size=result.anchored_tree_size,
            retry_after_s=RECEIPT_RETRY_AFTER_S,
            message=f"Recorded; waiting for the next on-chain checkpoint (about every "
            f"{runtime.settings.anchor_interval_s:g} s)."
            if result.leaf_index is not None
            else "Recorded; waiting to be sequenced into the log, then for the next on-chain checkpoint.",
            message_zh="已记录，等待下一次上链锚定。"
            if result.leaf_index is not None
            else "已记录，等待排序写入日志，随后上链锚定。",
        )
        return JSONResponse(
            pending.model_dump(), status_code=202, headers={"Retry-After": str(RECEIPT_RETRY_AFTER_S)}
        )
    return JSONResponse(result)


@router.get(
    "/activity-types", response_model=ActivityTypeList, summary="Activity types and their names / 行为类型"
)
def list_activity_types() -> ActivityTypeList:
    items = []
    for activity_type in ACTIVITY_TYPES:
        name_zh, name_en = names_of(activity_type)
        items.append(ActivityTypePublic(type=activity_type, name_zh=name_zh, name_en=name_en))
    return ActivityTypeList(items=items)


@router.get("/chain", response_model=ChainPublic, summary="Where receipts are anchored / 锚定所在的链")
def get_chain(runtime: RuntimeDep) -> ChainPublic:
    """What a phone needs to check a receipt's root on the chain itself: chain id, contract and a
    JSON-RPC URL it can reach (``CARBON_PUBLIC_RPC_URL``). Public: it names no person."""
    settings = runtime.settings
    try:
        rpc_url: str | None = settings.public_rpc_url or settings.resolved_rpc_url
    except ConfigurationError:
        rpc_url = None
    target = runtime.target
    if target is None:
        return ChainPublic(configured=False, chain_id=None, contract=None, rpc_url=rpc_url)
    return ChainPublic(configured=True, chain_id=target.chain_id, contract=target.contract, rpc_url=rpc_url)
