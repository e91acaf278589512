"""The review queue of flagged activities (company admins, their own company) and aggregates for
managers (small groups suppressed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from backend.api.deps import CompanyAdminDep, PrincipalDep, RuntimeDep
from backend.api.schemas_identity import (
    AggregateGroup,
    AggregatesPublic,
    ReviewDecision,
    ReviewItem,
    ReviewPage,
    ReviewPublic,
)
from backend.domain.accounting.disclosure import Group
from backend.domain.errors import PermissionDenied
from backend.services.accounting.scope3 import Scope3Config
from backend.services.recording import reviews
from backend.services.reporting import aggregates

router = APIRouter(prefix="/api/v1", tags=["reviews and aggregates"])

MAX_PAGE_SIZE = 200


def _item(item: reviews.QueueItem) -> ReviewItem:
    a, f = item.activity, item.footprint
    return ReviewItem(
        activity_id=a.id,
        employee_id=a.subject_id,
        department_id=a.department_id,
        type=a.type,
        occurred_at=a.occurred_at,
        recorded_at=a.created_at,
        quantities=a.quantities,
        co2e_avoided_g=a.co2e_avoided_g,
        status=a.status,
        source=a.source,
        evidence=f.evidence if f else None,
        findings=f.findings if f else [],
        review=ReviewPublic.model_validate(item.review) if item.review else None,
    )


@router.get("/companies/{company_id}/reviews", response_model=ReviewPage, summary="Review queue / 待审核")
def review_queue(
    runtime: RuntimeDep,
    _admin: CompanyAdminDep,
    company_id: str,
    status: Literal["flagged", "accepted", "rejected"] = "flagged",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ReviewPage:
    items, total = reviews.review_queue(runtime.db, company_id, status, limit, offset)
    return ReviewPage(items=[_item(i) for i in items], total=total, limit=limit, offset=offset)


@router.post(
    "/companies/{company_id}/reviews/{activity_id}",
    response_model=ReviewPublic,
    summary="Approve or reject a flagged activity, with a reason (logged) / 审核",
)
def decide(
    runtime: RuntimeDep, admin: CompanyAdminDep, company_id: str, activity_id: str, body: ReviewDecision
) -> ReviewPublic:
    row = reviews.decide(
        runtime.db,
        company_id,
        activity_id,
        body.decision,
        body.reason,
        admin.subject,
        runtime.issuance,
        datetime.now(UTC),
    )
    return ReviewPublic.model_validate(row)


def _group(group: Group) -> AggregateGroup:
    t = group.totals
    return AggregateGroup(
        key=group.key,
        people=group.size,
        activities=t.get("activities", 0),
        co2e_avoided_g=t.get("co2e_avoided_g", 0),
        co2e_scope3_g=t.get("co2e_scope3_g", 0),
        points=t.get("points", 0),
    )


@router.get("/aggregates", response_model=AggregatesPublic, summary="Credited activities in aggregate / 汇总")
def activity_aggregates(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    group_by: Literal["company", "department"] = "company",
    company: Annotated[str | None, Query(max_length=64)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> AggregatesPublic:
    if principal.role == "company_admin":
        if company not in (None, principal.org):
            raise PermissionDenied("company admins see aggregates of their own company only")
        company, group_by = principal.org, "department"
    minimum = runtime.settings.min_group_size
    tz = Scope3Config(runtime.settings.scope3_timezone, minimum).tz
    result, since, until = aggregates.activity_aggregates(
        runtime.db, group_by, company, since, until, minimum, tz
    )
    return AggregatesPublic(
        group_by=group_by,
        company=company,
        min_group_size=minimum,
        groups=[_group(g) for g in result.shown],
        other=_group(result.other) if result.other else None,
        pooled_groups=result.pooled,
        suppressed=result.suppressed_all,
        since=since,
        until=until,
    )
