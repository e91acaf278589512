"""Use cases for auditors: the stored records beside their leaves, and one record in full.

Records are served as the database holds them (the read model reports and balances are computed
from), so an auditor can compare them with the logged leaves. No raw personal identifier leaves
the server: the owner is given as the same salted subject commitment the leaf carries.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow
from backend.adapters.orm_corrections import CorrectionRow
from backend.adapters.orm_privacy import SubjectKeyRow
from backend.domain.commitments import FREE_TEXT_QUANTITIES
from backend.domain.errors import InvalidInput, NotFound
from backend.domain.records import subject_commitment
from backend.services import receipts, subject_keys
from backend.services.anchoring import AnchorTarget
from backend.services.factor_sets import all_sets
from backend.services.record_audit import decode_leaf

MAX_RECORDS_PAGE = 1000


def activity_record(row: ActivityRow, subject_key: bytes, key_row: SubjectKeyRow | None) -> dict[str, Any]:
    """The stored activity as its leaf shows it: free text only as its commitment."""
    quantities = dict(row.quantities)
    for name in FREE_TEXT_QUANTITIES:
        if isinstance(quantities.get(name), str):
            quantities[name] = subject_keys.in_leaf(key_row, row.created_at, name, quantities[name])
    return {
        "leaf_index": row.leaf_index,
        "kind": "activity",
        "id": row.id,
        "subject": subject_commitment(subject_key, row.subject_id),
        "status": row.status,
        "type": row.type,
        "occurred_at": row.occurred_at.astimezone(UTC).isoformat(),
        "recorded_at": row.created_at.astimezone(UTC).isoformat(),
        "org": row.org_id,
        "dept": row.department_id,
        "source": row.source,
        "quantities": quantities,
        "co2e_avoided_g": row.co2e_avoided_g,
        "co2e_scope3_g": row.co2e_scope3_g,
        "scope3_category": row.scope3_category,
        "points": row.points,
        "factor_set": row.factor_set,
        "calculation": row.calculation,
    }


def correction_record(row: CorrectionRow, key_row: SubjectKeyRow | None) -> dict[str, Any]:
    """The stored correction; its note as its leaf shows it (``key_row``: the owner's of the
    corrected activity)."""
    return {
        "leaf_index": row.leaf_index,
        "kind": "correction",
        "id": row.id,
        "activity_id": row.activity_id,
        "reason_code": row.reason_code,
        "note": subject_keys.in_leaf(key_row, row.created_at, "note", row.note),
        "actor_role": row.actor_role,
        "org": row.org_id,
        "recorded_at": row.created_at.astimezone(UTC).isoformat(),
    }


def _owners(session: Session, activity_ids: list[str]) -> dict[str, str]:
    """The subject of each of ``activity_ids``."""
    if not activity_ids:
        return {}
    query = select(ActivityRow.id, ActivityRow.subject_id).where(ActivityRow.id.in_(activity_ids))
    return {str(a): str(s) for a, s in session.execute(query)}


def records_page(db: Database, subject_key: bytes, start: int, limit: int) -> list[dict[str, Any]]:
    """Stored activities and corrections from leaf ``start`` on, in leaf order."""
    if start < 0:
        raise InvalidInput("start", "must be >= 0")
    if not 1 <= limit <= MAX_RECORDS_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_RECORDS_PAGE}")
    with db.read_sessions() as session:
        activities = (
            session.execute(
                select(ActivityRow)
                .where(ActivityRow.leaf_index >= start)
                .order_by(ActivityRow.leaf_index)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        corrections = (
            session.execute(
                select(CorrectionRow)
                .where(CorrectionRow.leaf_index >= start)
                .order_by(CorrectionRow.leaf_index)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        owners = _owners(session, [c.activity_id for c in corrections])
        keys = subject_keys.keys_of(session, [a.subject_id for a in activities] + list(owners.values()))
        merged = [activity_record(a, subject_key, keys.get(a.subject_id)) for a in activities] + [
            correction_record(c, keys.get(owners.get(c.activity_id, ""))) for c in corrections
        ]
    merged.sort(key=lambda record: int(record["leaf_index"]))
    return merged[:limit]


def _factor_details(session: Session, calculation: dict[str, Any], version: str) -> dict[str, Any]:
    sets = {s.version: s for s in all_sets(session)}  # built-in and published
    factor_set = sets.get(version)
    return {
        "factor_set": version,
        "factor_set_sha256": None if factor_set is None else "0x" + factor_set.content_hash,
        "baseline": calculation.get("baseline"),
        "factors": calculation.get("factors", []),
        "formula": calculation.get("formula"),
        "rounding": calculation.get("rounding"),
    }


def _evidence(row: ActivityRow) -> dict[str, Any]:
    """Where the record came from and what backs it, as references (no personal data)."""
    references = {
        k: v for k, v in row.quantities.items() if k == "source_record_id" or k.startswith("evidence")
    }
    return {"source": row.source, "request_sha256": row.request_hash, **references}


def record_detail(db: Database, target: AnchorTarget, subject_key: bytes, leaf_index: int) -> dict[str, Any]:
    """One logged record for an auditor's sample: leaf, stored record, factors, evidence, receipt."""
    with db.read_sessions() as session:
        leaf = SqlLogStore(session).leaf(leaf_index)
        if leaf is None:
            raise NotFound(f"leaf {leaf_index} not found")
        activity = session.execute(
            select(ActivityRow).where(ActivityRow.leaf_index == leaf_index)
        ).scalar_one_or_none()
        correction = session.execute(
            select(CorrectionRow).where(CorrectionRow.leaf_index == leaf_index)
        ).scalar_one_or_none()
        reversal = (
            None
            if activity is None
            else session.execute(
                select(CorrectionRow).where(CorrectionRow.activity_id == activity.id)
            ).scalar_one_or_none()
        )
        owner = activity.subject_id if activity is not None else None
        if correction is not None:
            owner = _owners(session, [correction.activity_id]).get(correction.activity_id)
        key_row = None if owner is None else subject_keys.keys_of(session, [owner]).get(owner)
        factors = (
            None if activity is None else _factor_details(session, activity.calculation, activity.factor_set)
        )
    detail: dict[str, Any] = {
        "leaf_index": leaf_index,
        "kind": leaf.kind,
        "record_id": leaf.record_id,
        "leaf": "0x" + bytes(leaf.leaf).hex(),
        "logged": decode_leaf(bytes(leaf.leaf)),
        "stored": None,
        "factors": None,
        "evidence": None,
        "reversed_by": None if reversal is None else {"id": reversal.id, "leaf_index": reversal.leaf_index},
    }
    if activity is not None:
        detail["stored"] = activity_record(activity, subject_key, key_row)
        detail["factors"] = factors
        detail["evidence"] = _evidence(activity)
    elif correction is not None:
        detail["stored"] = correction_record(correction, key_row)
    receipt = receipts.receipt_for_leaf(db, target, leaf_index)
    detail["receipt"] = (
        {"status": "pending", "anchored_tree_size": receipt.anchored_tree_size}
        if isinstance(receipt, receipts.Pending)
        else receipt
    )
    return detail
