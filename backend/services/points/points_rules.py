"""Use cases: read and replace the issuance rules (the park's document, a company's overrides).

Each change is a new version, logged as a ``points_rules`` leaf in the same transaction, and every
issuance transfer names the versions it applied, so an auditor can recompute any award.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm_points import PointsRulesRow
from backend.domain.log.record_kinds import PointsRulesBody, encode
from backend.domain.points.points import derived_id
from backend.domain.points.points_rules import (
    IssuanceRules,
    RulesDocument,
    check_company_bounds,
    parse_document,
)

PARK_SCOPE = "park"


def company_scope(org_id: str) -> str:
    return f"company:{org_id}"


@dataclass(frozen=True)
class RulesInForce:
    rules: IssuanceRules
    versions: dict[str, int | None]
    """The versions applied: ``{"park": n, "company": m}`` (``None`` where no document exists)."""


def rules_in_force(session: Session, org_id: str | None, defaults: IssuanceRules) -> RulesInForce:
    scopes = [PARK_SCOPE] + ([company_scope(org_id)] if org_id else [])
    rows = {
        r.scope: r
        for r in session.execute(select(PointsRulesRow).where(PointsRulesRow.scope.in_(scopes))).scalars()
    }
    rules = defaults
    park = rows.get(PARK_SCOPE)
    if park is not None:
        rules = rules.with_park(parse_document(park.document, company=False))
    company = rows.get(company_scope(org_id)) if org_id else None
    if company is not None:
        rules = rules.with_company(parse_document(company.document, company=True))
    return RulesInForce(
        rules,
        {"park": park.version if park else None, "company": company.version if company else None},
    )


def park_rules(db: Database, defaults: IssuanceRules) -> IssuanceRules:
    with db.read_sessions() as session:
        return rules_in_force(session, None, defaults).rules


def list_documents(db: Database, org_id: str | None = None) -> list[PointsRulesRow]:
    with db.read_sessions() as session:
        stmt = select(PointsRulesRow).order_by(PointsRulesRow.scope)
        if org_id is not None:
            stmt = stmt.where(PointsRulesRow.scope.in_([PARK_SCOPE, company_scope(org_id)]))
        return list(session.execute(stmt).scalars())


def put_document(
    db: Database,
    scope: str,
    document: dict[str, Any],
    actor: str,
    now: datetime,
    defaults: IssuanceRules | None = None,
) -> PointsRulesRow:
    """Replaces a rules document (a new version, logged); the same document again changes nothing.

    A company's document must keep its rates within the park's bounds (``defaults`` under the
    park's document in force)."""
    parsed: RulesDocument = parse_document(document, company=scope != PARK_SCOPE)
    with db.write_sessions() as session, session.begin():
        log = SqlLogStore(session)
        log.lock_head()
        if scope != PARK_SCOPE:
            check_company_bounds(parsed, rules_in_force(session, None, defaults or IssuanceRules()).rules)
        row = session.get(PointsRulesRow, scope, populate_existing=True)
        if row is not None and row.document == document:
            return row
        version = 1 if row is None else row.version + 1
        body = PointsRulesBody(scope=scope, version=version, document=document, at=now.isoformat())
        record_id = derived_id("points_rules", scope, str(version))
        leaf = encode(record_id, None, body)
        (leaf_index,) = log.append([PendingLeaf("points_rules", record_id, leaf)], now)
        if row is None:
            row = PointsRulesRow(scope=scope, document=document, version=version, updated_by=actor)
            session.add(row)
        row.document, row.version, row.updated_by = document, version, actor
        row.updated_at, row.leaf_index = now, leaf_index
        return row
