"""Auditor routes: checkpoints, leaves, records and proofs (at anchored tree sizes), chain status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from backend.api.deps import PrincipalDep, RuntimeDep, TargetDep
from backend.domain.log.merkle import MAX_TREE_SIZE
from backend.services.anchoring import chain_identity, reanchoring
from backend.services.audit import audit_records
from backend.services.log import receipts

LeafIndex = Annotated[int, Path(ge=0, le=MAX_TREE_SIZE, description="Zero-based index of a log leaf.")]
"""Indices beyond a 64-bit tree are refused here rather than overflowing a database column."""

router = APIRouter(prefix="/audit/v1", tags=["audit"])


@router.get("/checkpoints", summary="Every anchored checkpoint / 全部链上检查点")
def list_checkpoints(runtime: RuntimeDep, _auditor: PrincipalDep, target: TargetDep) -> dict[str, Any]:
    rows = receipts.confirmed_checkpoints(runtime.db, target)
    return {
        "chain_id": target.chain_id,
        "contract": target.contract,
        "log_size": receipts.log_size(runtime.db),
        "checkpoints": [receipts.checkpoint_public(r) for r in rows],
    }


@router.get("/consistency", summary="Consistency proof between two anchored tree sizes / 一致性证明")
def get_consistency(
    runtime: RuntimeDep,
    _auditor: PrincipalDep,
    target: TargetDep,
    first: Annotated[int, Query(ge=0, le=MAX_TREE_SIZE)],
    second: Annotated[int, Query(ge=0, le=MAX_TREE_SIZE)],
) -> dict[str, Any]:
    return receipts.consistency(runtime.db, target, first, second)


@router.get("/leaves", summary="Log leaves in order, for replaying the whole log / 日志叶子")
def list_leaves(
    runtime: RuntimeDep,
    _auditor: PrincipalDep,
    start: Annotated[int, Query(ge=0, le=MAX_TREE_SIZE)] = 0,
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
def get_receipt(runtime: RuntimeDep, _auditor: PrincipalDep, target: TargetDep, leaf_index: LeafIndex) -> Any:
    result = receipts.receipt_for_leaf(runtime.db, target, leaf_index)
    if isinstance(result, receipts.Pending):
        return {
            "status": "pending",
            "leaf_index": result.leaf_index,
            "anchored_tree_size": result.anchored_tree_size,
        }
    return result


@router.get("/proofs", summary="Inclusion proofs of a range of leaves at an anchored size / 批量包含证明")
def list_proofs(
    runtime: RuntimeDep,
    _auditor: PrincipalDep,
    target: TargetDep,
    tree_size: Annotated[int, Query(ge=1, le=MAX_TREE_SIZE)],
    start: Annotated[int, Query(ge=0, le=MAX_TREE_SIZE)] = 0,
    limit: Annotated[int, Query(ge=1, le=receipts.MAX_PROOFS_PAGE)] = 100,
) -> dict[str, Any]:
    return receipts.inclusion_proofs(runtime.db, target, tree_size, start, limit)


@router.get("/records", summary="Stored records in leaf order, to compare with the log / 存储记录")
def list_records(
    runtime: RuntimeDep,
    _auditor: PrincipalDep,
    start: Annotated[int, Query(ge=0, le=MAX_TREE_SIZE)] = 0,
    limit: Annotated[int, Query(ge=1, le=audit_records.MAX_RECORDS_PAGE)] = 500,
) -> dict[str, Any]:
    return {
        "start": start,
        "records": audit_records.records_page(runtime.db, runtime.subject_key, start, limit),
    }


@router.get("/accounts", summary="Stored points accounts with their totals / 积分账户（存储值）")
def list_accounts(
    runtime: RuntimeDep,
    _principal: PrincipalDep,
    after: Annotated[str, Query(max_length=200, description="Cursor: the last page's last `cursor`.")] = "",
    limit: Annotated[int, Query(ge=1, le=audit_records.MAX_RECORDS_PAGE)] = 500,
) -> dict[str, Any]:
    return {"accounts": audit_records.accounts_page(runtime.db, runtime.subject_key, after, limit)}


@router.get("/redemptions", summary="Stored redemptions, to compare with the log / 兑换记录（存储值）")
def list_redemptions(
    runtime: RuntimeDep,
    _principal: PrincipalDep,
    after: Annotated[str, Query(max_length=200, description="Cursor: the last page's last `cursor`.")] = "",
    limit: Annotated[int, Query(ge=1, le=audit_records.MAX_RECORDS_PAGE)] = 500,
) -> dict[str, Any]:
    return {"redemptions": audit_records.redemptions_page(runtime.db, after, limit)}


@router.get(
    "/records/{leaf_index}",
    summary="One record with its leaf, factors, evidence and receipt / 单条记录详情（抽样）",
)
def get_record(
    runtime: RuntimeDep, _auditor: PrincipalDep, target: TargetDep, leaf_index: LeafIndex
) -> dict[str, Any]:
    return audit_records.record_detail(runtime.db, target, runtime.subject_key, leaf_index)


@router.get("/chain", summary="Chain identity, incidents and moves / 链状态、事件与迁移")
def get_chain(runtime: RuntimeDep, _auditor: PrincipalDep) -> dict[str, Any]:
    return {
        "status": chain_identity.chain_status(runtime),
        "incidents": [
            {
                "id": row.id,
                "chain_id": row.chain_id,
                "contract": row.contract,
                "state": row.state,
                "reasons": row.reasons,
                "detected_at": row.detected_at.isoformat(),
                "cleared_at": row.cleared_at.isoformat() if row.cleared_at else None,
                "resolution": row.resolution,
            }
            for row in chain_identity.incidents(runtime.db)
        ],
        "moves": [
            {
                "id": row.id,
                "state": row.state,
                "mode": row.mode,
                "reasons": row.reasons,
                "from": {"chain_id": row.from_chain_id, "contract": row.from_contract},
                "to": {"chain_id": row.to_chain_id, "contract": row.to_contract},
                "checkpoints": row.checkpoints,
                "tree_size": row.tree_size,
                "leaf_index": row.leaf_index,
                "old_manifest": row.old_manifest,
                "new_manifest": row.new_manifest,
                "started_at": row.started_at.isoformat(),
                "completed_at": row.completed_at.isoformat() if row.completed_at else None,
            }
            for row in reanchoring.moves(runtime.db)
        ],
    }
