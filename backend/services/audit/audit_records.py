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
from backend.adapters.orm_identity import BindingRow, EmployeeRow
from backend.adapters.orm_integrations import ReviewRow
from backend.adapters.orm_points import PointsAccountRow, PointsRulesRow, PointsTransferRow, RedemptionRow
from backend.adapters.orm_privacy import SubjectKeyRow
from backend.adapters.orm_scope3 import PeriodCloseRow, PeriodSignoffRow
from backend.domain.errors import InvalidInput, NotFound
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.log.commitments import FREE_TEXT_QUANTITIES
from backend.domain.log.records import subject_commitment
from backend.domain.points import points as ledger
from backend.domain.points.points import AccountKind, derived_id
from backend.services.accounting.factor_sets import all_sets
from backend.services.audit.record_audit import decode_leaf
from backend.services.log import receipts, subject_keys
from backend.services.privacy.erasure import ERASED_STATUS

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


def _public_account(account_id: str, subject_key: bytes) -> str:
    """An account as an auditor sees it: an employee's by their subject commitment."""
    if ledger.account_kind(account_id) == AccountKind.EMPLOYEE:
        return "employee:" + subject_commitment(subject_key, account_id.removeprefix("employee:"))
    return account_id


def transfer_record(row: PointsTransferRow, subject_key: bytes) -> dict[str, Any]:
    employee = next(
        (a for a in (row.debit_account_id, row.credit_account_id) if a.startswith("employee:")), None
    )
    return {
        "leaf_index": row.leaf_index,
        "kind": "points_transfer",
        "id": row.id,
        "subject": None
        if employee is None
        else subject_commitment(subject_key, employee.removeprefix("employee:")),
        "transfer_kind": row.kind,
        "debit": "employee" if row.debit_account_id == employee else row.debit_account_id,
        "credit": "employee" if row.credit_account_id == employee else row.credit_account_id,
        "amount": int(row.amount),
        "reason_code": row.reason_code,
        "reverses": row.reverses_id,
        "activity": row.activity_id,
        "redemption": row.redemption_id,
    }


def review_record(row: ReviewRow) -> dict[str, Any]:
    return {
        "leaf_index": row.leaf_index,
        "kind": "review",
        "id": row.activity_id,
        "decision": row.decision,
        "org": row.company_id,
        "decided_at": row.decided_at.astimezone(UTC).isoformat(),
    }


def close_record(row: PeriodCloseRow) -> dict[str, Any]:
    return {
        "leaf_index": row.leaf_index,
        "kind": "period_close",
        "id": row.id,
        "period": row.period,
        "close_kind": row.kind,
        "revision": row.revision,
        "cutoff_tree_size": row.cutoff_tree_size,
        "summary_sha256": row.summary_sha256,
        "summary": row.summary,
    }


def rules_record(row: PointsRulesRow) -> dict[str, Any]:
    return {
        "leaf_index": row.leaf_index,
        "kind": "points_rules",
        "id": derived_id("points_rules", row.scope, str(row.version)),
        "scope": row.scope,
        "version": row.version,
        "document": row.document,
    }


LEAF_COLUMNS = (
    ActivityRow.leaf_index,
    CorrectionRow.leaf_index,
    PointsTransferRow.leaf_index,
    ReviewRow.leaf_index,
    PeriodCloseRow.leaf_index,
    PointsRulesRow.leaf_index,
    PeriodSignoffRow.leaf_index,
    BindingRow.leaf_index,
    BindingRow.revoked_leaf_index,
)
"""Every stored column naming the leaf of a record."""


def _window_end(session: Session, start: int, limit: int) -> int | None:
    """The leaf index of the ``limit``-th stored record from ``start`` on (None: none from there),
    read from the indexes alone so that only the page's rows are then loaded."""
    found: list[int] = []
    for column in LEAF_COLUMNS:
        stmt = select(column).where(column >= start).order_by(column).limit(limit)
        found += [int(i) for i in session.execute(stmt).scalars() if i is not None]
    if not found:
        return None
    found.sort()
    return found[min(limit, len(found)) - 1]


def _page(session: Session, table: Any, start: int, end: int) -> list[Any]:
    stmt = select(table).where(table.leaf_index >= start, table.leaf_index <= end).order_by(table.leaf_index)
    return list(session.execute(stmt).scalars())


def _owners(session: Session, activity_ids: list[str]) -> dict[str, str]:
    """The subject of each of ``activity_ids``."""
    if not activity_ids:
        return {}
    query = select(ActivityRow.id, ActivityRow.subject_id).where(ActivityRow.id.in_(activity_ids))
    return {str(a): str(s) for a, s in session.execute(query)}


def records_page(db: Database, subject_key: bytes, start: int, limit: int) -> list[dict[str, Any]]:
    """Stored records (activities, corrections, points transfers, reviews, period closes, points
    rules) from leaf ``start`` on, in leaf order."""
    if start < 0:
        raise InvalidInput("start", "must be >= 0")
    if not 1 <= limit <= MAX_RECORDS_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_RECORDS_PAGE}")
    with db.read_sessions() as session:
        end = _window_end(session, start, limit)
        if end is None:
            return []
        activities = _page(session, ActivityRow, start, end)
        corrections = _page(session, CorrectionRow, start, end)
        owners = _owners(session, [c.activity_id for c in corrections])
        keys = subject_keys.keys_of(session, [a.subject_id for a in activities] + list(owners.values()))
        merged = [activity_record(a, subject_key, keys.get(a.subject_id)) for a in activities]
        merged += [correction_record(c, keys.get(owners.get(c.activity_id, ""))) for c in corrections]
        merged += [transfer_record(t, subject_key) for t in _page(session, PointsTransferRow, start, end)]
        merged += [review_record(r) for r in _page(session, ReviewRow, start, end)]
        merged += [close_record(c) for c in _page(session, PeriodCloseRow, start, end)]
        merged += [rules_record(r) for r in _page(session, PointsRulesRow, start, end)]
        merged += extra_records(session, subject_key, start, end)
    merged.sort(key=lambda record: int(record["leaf_index"]))
    return merged[:limit]


def binding_records(session: Session, subject_key: bytes, start: int, end: int) -> list[dict[str, Any]]:
    """Stored bindings as their consent (``bind``) and withdrawal (``revoke``) records with leaf
    indices ``start..end``."""
    out = []
    for column, action in ((BindingRow.leaf_index, "bind"), (BindingRow.revoked_leaf_index, "revoke")):
        stmt = (
            select(BindingRow, EmployeeRow.status)
            .outerjoin(EmployeeRow, EmployeeRow.id == BindingRow.employee_id)
            .where(column >= start, column <= end)
            .order_by(column)
        )
        for row, employee_status in session.execute(stmt).tuples():
            revoke = action == "revoke"
            out.append(
                {
                    "leaf_index": row.revoked_leaf_index if revoke else row.leaf_index,
                    "kind": "binding",
                    "id": derived_id("binding-revoke", row.id) if revoke else row.id,
                    "subject": subject_commitment(subject_key, row.employee_id),
                    "binding": row.id,
                    "action": action,
                    "binding_kind": row.kind,
                    "consent_version": row.consent_version,
                    "active": row.revoked_at is None,
                    "erased": employee_status == ERASED_STATUS,
                }
            )
    return out


def extra_records(session: Session, subject_key: bytes, start: int, end: int) -> list[dict[str, Any]]:
    """Stored auditors' sign-offs of period closes (the summary hash is the close's), and bindings."""
    rows = session.execute(
        select(PeriodSignoffRow, PeriodCloseRow.summary_sha256)
        .join(PeriodCloseRow, PeriodCloseRow.id == PeriodSignoffRow.close_id)
        .where(PeriodSignoffRow.leaf_index >= start, PeriodSignoffRow.leaf_index <= end)
        .order_by(PeriodSignoffRow.leaf_index)
    ).tuples()
    return [
        {
            "leaf_index": row.leaf_index,
            "kind": "period_signoff",
            "id": row.id,
            "period": row.period,
            "close": row.close_id,
            "opinion": row.opinion,
            "summary_sha256": summary_sha256,
            "subject": subject_commitment(subject_key, row.auditor_id),
        }
        for row, summary_sha256 in rows
    ] + binding_records(session, subject_key, start, end)


def accounts_page(db: Database, subject_key: bytes, after: str, limit: int) -> list[dict[str, Any]]:
    """Stored points accounts with their totals, by id after ``after`` (employees by commitment)."""
    if not 1 <= limit <= MAX_RECORDS_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_RECORDS_PAGE}")
    with db.read_sessions() as session:
        stmt = (
            select(PointsAccountRow)
            .where(PointsAccountRow.id > after)
            .order_by(PointsAccountRow.id)
            .limit(limit)
        )
        return [
            {
                "id": row.id if row.kind != AccountKind.EMPLOYEE.value else None,
                "cursor": row.id,
                "account": _public_account(row.id, subject_key),
                "debits": int(row.debits_posted),
                "credits": int(row.credits_posted),
            }
            for row in session.execute(stmt).scalars()
        ]


def redemptions_page(db: Database, after: str, limit: int) -> list[dict[str, Any]]:
    """Stored redemptions by id after ``after``: price, status and the transfers behind them."""
    if not 1 <= limit <= MAX_RECORDS_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_RECORDS_PAGE}")
    with db.read_sessions() as session:
        stmt = select(RedemptionRow).where(RedemptionRow.id > after).order_by(RedemptionRow.id).limit(limit)
        return [
            {
                "id": row.id,
                "cursor": row.id,
                "price_points": int(row.price_points),
                "status": row.status,
                "transfer_id": row.transfer_id,
                "refund_transfer_id": row.refund_transfer_id,
            }
            for row in session.execute(stmt).scalars()
        ]


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
