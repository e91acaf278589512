"""Use case: explain how one Scope 3 figure was computed (the target of every dashboard link).

For a period and optional company, department, category and activity type, it re-reads the very
records the figure covers (same filters, same log prefix as the summary or the close) and lists
the rule, the methods, the factor sets and every factor applied with how many records used it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow
from backend.domain.accounting import scope3
from backend.domain.accounting.disclosure import choose_withheld, is_withheld, withheld_block
from backend.domain.accounting.scope3 import Group, Period
from backend.domain.errors import InvalidInput
from backend.domain.states import PeriodStatus
from backend.services.accounting.scope3 import (
    ACCEPTED,
    EXPLAIN_MAX_ROWS,
    PENDING_REVIEW,
    PRIMARY_SOURCE_PREFIX,
    Scope3Config,
    activity_filters,
    latest_close,
    methodology,
)

_FACTOR_FIELDS = ("id", "value", "unit", "source", "gas_basis", "gwp", "region", "year", "status")


def _withheld(
    session: Session, where: list[ColumnElement[bool]], column: Any, value: str, config: Scope3Config
) -> bool:
    """Whether the disclosure rule withholds group ``value`` of ``column`` among its siblings."""
    query = select(column, func.count(func.distinct(ActivityRow.subject_id))).where(*where).group_by(column)
    sizes = {str(key): int(people) for key, people in session.execute(query).tuples()}
    _, withheld = choose_withheld(sizes, config.min_group_size, show_empty=False)
    return value in withheld


def explain(
    db: Database,
    period: Period,
    config: Scope3Config,
    company: str | None = None,
    category: int | None = None,
    department: str | None = None,
    activity_type: str | None = None,
) -> dict[str, Any]:
    if department is not None and company is None:
        raise InvalidInput("department", "needs company as well")
    with db.read_sessions() as session, session.begin():
        close = latest_close(session, period)
        cutoff = close.cutoff_tree_size if close is not None else SqlLogStore(session).size()
        park = activity_filters(period, config.tz, cutoff, None)
        where = activity_filters(period, config.tz, cutoff, company)
        # The company and the department are withheld exactly as the summary withholds them
        # (with the groups that protect them), so an explanation never undoes a summary's rule.
        hidden = company is not None and _withheld(session, park, ActivityRow.org_id, company, config)
        if department is not None:
            hidden = hidden or _withheld(session, where, ActivityRow.department_id, department, config)
            where.append(ActivityRow.department_id == department)
        if category is not None:
            where.append(ActivityRow.scope3_category == category)
        if activity_type is not None:
            where.append(ActivityRow.type == activity_type)
        # Any further narrowing (category, type) may single a person out too.
        reporting = session.execute(
            select(func.count(func.distinct(ActivityRow.subject_id))).where(*where)
        ).scalar_one()
        if hidden or is_withheld(int(reporting), config.min_group_size):
            filters = {
                "company": company,
                "department": department,
                "category": category,
                "type": activity_type,
            }
            return withheld_block(
                {"period": period.label, "filters": filters}, ("period", "filters"), config.min_group_size
            )
        stmt = select(
            ActivityRow.type,
            ActivityRow.factor_set,
            ActivityRow.source,
            ActivityRow.scope3_category,
            ActivityRow.co2e_scope3_g,
            ActivityRow.co2e_avoided_g,
            ActivityRow.calculation,
            ActivityRow.status,
        ).where(*where)
        rows = session.execute(stmt.limit(EXPLAIN_MAX_ROWS + 1)).all()
    if len(rows) > EXPLAIN_MAX_ROWS:
        raise InvalidInput(
            "period", f"covers more than {EXPLAIN_MAX_ROWS} records: narrow it (company, month)"
        )
    scope3_g = sum(int(r[4]) for r in rows)
    avoided_g = sum(int(r[5]) for r in rows if r[7] == ACCEPTED)
    pending = [r for r in rows if r[7] == PENDING_REVIEW]
    sources = Counter(str(r[2]) for r in rows)
    primary = sum(n for s, n in sources.items() if s.startswith(PRIMARY_SOURCE_PREFIX))
    per_type: dict[str, dict[str, Any]] = {}
    factors: dict[tuple[str, str, str], dict[str, Any]] = {}
    groups: dict[tuple[str, str, int | None], int] = defaultdict(int)
    for activity_type_, factor_set, _source, cat, grams, _avoided, calc, _status in rows:
        groups[(str(activity_type_), str(factor_set), cat)] += 1
        entry = per_type.setdefault(
            activity_type_,
            {"type": activity_type_, "records": 0, "co2e_g": 0, "formula": calc.get("formula")},
        )
        entry["records"] += 1
        entry["co2e_g"] += int(grams)
        for applied in calc.get("factors", []):
            key = (str(factor_set), str(applied.get("role")), str(applied.get("id")))
            found = factors.setdefault(
                key,
                {"factor_set": factor_set, "role": applied.get("role"), "records": 0}
                | {f: applied.get(f) for f in _FACTOR_FIELDS},
            )
            found["records"] += 1
    method = methodology(
        [Group("", "", c, t, fs, False, 0, n, 0, 0) for (t, fs, c), n in groups.items()], config.baseline
    )
    return {
        "period": period.label,
        "filters": {
            "company": company,
            "department": department,
            "category": category,
            "type": activity_type,
        },
        "status": PeriodStatus.CLOSED if close is not None else PeriodStatus.OPEN,
        "as_of_tree_size": cutoff,
        "close_leaf_index": close.leaf_index if close is not None else None,
        "figure": {
            "records": len(rows),
            "inventory": scope3.figure(scope3_g),
            "avoided": scope3.figure(avoided_g),
            "pending_review": {"records": len(pending), "co2e_g": sum(int(r[4]) for r in pending)},
        },
        "rule_en": "Sum of co2e_scope3_g (inventory) of the accepted and flagged (pending review) records "
        "and, separately, co2e_avoided_g of the accepted activity records matching the filters"
        " whose occurred_at falls in the period (park time zone "
        f"{config.timezone}) and whose leaf index is below as_of_tree_size. Each record's grams are "
        "distance (or mass, count) × the factor shown, rounded once when it was recorded.",
        "rule_zh": "对符合筛选条件、发生时间在本期内（园区时区）且叶子序号小于 as_of_tree_size 的"
        "已接受行为记录，分别求和其范围三排放克数与减排克数；"
        "每条记录的克数 = 活动量 × 所示因子，记录时取整一次。",
        "method": (
            {
                "category": category,
                "method_en": scope3.METHODS[category][0],
                "method_zh": scope3.METHODS[category][1],
            }
            if category is not None
            else None
        ),
        "methods": method["methods"],
        "activity_types": sorted(per_type.values(), key=lambda e: -e["records"]),
        "factor_sets": method["factor_sets"],
        "factors": sorted(factors.values(), key=lambda f: (f["factor_set"], f["role"] or "", f["id"] or "")),
        "sources": dict(sorted(sources.items())),
        "primary_data_share_records": scope3.share(primary, len(rows)),
        "rounding_en": scope3.ROUNDING_NOTE,
        "rounding_zh": scope3.ROUNDING_NOTE_ZH,
        "verify_en": "Every record counted is a leaf of kind 'activity' among the first as_of_tree_size "
        "leaves of the transparency log (auditors: GET /audit/v1/leaves), whose roots are anchored on chain; "
        "a closed period's totals are themselves a 'period_close' leaf.",
        "verify_zh": "计入的每条记录都是透明日志前 as_of_tree_size 个叶子中类型为 activity 的叶子"
        "（审计方可通过 GET /audit/v1/leaves 获取），其根已锚定上链；"
        "已关账期间的合计本身也是一个 period_close 叶子。",
    }
