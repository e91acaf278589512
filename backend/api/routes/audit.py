"""Auditor routes: checkpoints, leaves and consistency proofs, all at anchored tree sizes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from backend.api.deps import AuditorDep, RuntimeDep, TargetDep
from backend.services import receipts

router = APIRouter(prefix="/audit/v1", tags=["audit"])


@router.get("/checkpoints", summary="Every anchored checkpoint / 全部链上检查点")
def list_checkpoints(runtime: RuntimeDep, _auditor: AuditorDep, target: TargetDep) -> dict[str, Any]:
    rows = receipts.confirmed_checkpoints(runtime.db, target)
    return {
        "chain_id": target.chain_id,
        "contract": target.contract,
        "checkpoints": [receipts.checkpoint_public(r) for r in rows],
    }


@router.get("/consistency", summary="Consistency proof between two anchored tree sizes / 一致性证明")
def get_consistency(
    runtime: RuntimeDep,
    _auditor: AuditorDep,
    target: TargetDep,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=0)],
) -> dict[str, Any]:
    return receipts.consistency(runtime.db, target, first, second)


@router.get("/leaves", summary="Log leaves in order, for replaying the whole log / 日志叶子")
def list_leaves(
    runtime: RuntimeDep,
    _auditor: AuditorDep,
    start: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=receipts.MAX_LEAVES_PAGE)] = 500,
) -> dict[str, Any]:
    rows = receipts.leaves_page(runtime.db, start, limit)
    return {
        "start": start,
        "leaves": [
            {"index": r.idx, "leaf": "0x" + r.leaf.hex(), "leaf_hash": "0x" + r.leaf_hash.hex()} for r in rows
        ],
    }


@router.get("/receipts/{leaf_index}", summary="Receipt of any logged record / 任意记录的凭证")
def get_receipt(runtime: RuntimeDep, _auditor: AuditorDep, target: TargetDep, leaf_index: int) -> Any:
    result = receipts.receipt_for_leaf(runtime.db, target, leaf_index)
    if isinstance(result, receipts.Pending):
        return {
            "status": "pending",
            "leaf_index": result.leaf_index,
            "anchored_tree_size": result.anchored_tree_size,
        }
    return result
