"""Use cases: Scope 3 summaries (live or frozen at a period close), headcounts, and "how was this
total computed" explanations.

Totals come from the ``activities`` table restricted to accepted records whose leaf index is below
a tree size read in the same transaction (``as_of_tree_size``), so a summary names exactly which
prefix of the transparency log it covers and can be recomputed from the logged leaves.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow
from backend.adapters.orm_scope3 import HeadcountRow, PeriodCloseRow
from backend.domain.accounting import scope3
from backend.domain.accounting.activities import choose_baseline
from backend.domain.accounting.factors import QUALITY_INDICATORS, QUALITY_LABELS
from backend.domain.accounting.scope3 import Group, Period, Reporters
from backend.domain.errors import ConfigurationError, InvalidInput, NotFound, PermissionDenied
from backend.domain.states import ActivityStatus, PeriodStatus
from backend.services.accounting.factor_sets import all_sets

ACCEPTED = ActivityStatus.ACCEPTED
PENDING_REVIEW = ActivityStatus.FLAGGED
IN_INVENTORY = (ACCEPTED, PENDING_REVIEW)
"""Flagged records' emissions stay in the inventory, marked pending review (inventory
completeness); only their credit (avoided emissions, points) waits for the review."""
PRIMARY_SOURCE_PREFIX = "integration:"
"""Records pushed by an integration (transit card, travel desk, waste contractor) are primary data."""
NO_ORG = ""
MAX_HEADCOUNT = 1_000_000
"""Larger than any park's company; catches a typo before it skews every participation share."""
EXPLAIN_MAX_ROWS = 500_000
"""Rows an explanation reads to count factor use: a year of a large park, bounded in memory."""


@dataclass(frozen=True)
class Scope3Config:
    timezone: str
    min_group_size: int
    baseline: str | None = None
    """The park's avoided-emission baseline (``CARBON_BASELINE``); None: each factor set's default."""

    @property
    def tz(self) -> tzinfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(f"CARBON_SCOPE3_TIMEZONE: unknown time zone {self.timezone!r}") from None


def activity_filters(
    period: Period, tz: tzinfo, cutoff: int, company: str | None
) -> list[ColumnElement[bool]]:
    start, end = period.bounds(tz)
    where = [
        ActivityRow.status.in_(IN_INVENTORY),
        ActivityRow.occurred_at >= start,
        ActivityRow.occurred_at < end,
        ActivityRow.leaf_index < cutoff,
    ]
    if company is not None:
        where.append(ActivityRow.org_id == company)
    return where


GasSums = dict[str, dict[int, list[int]]]
"""Per company and category: [total, CO2, CH4, N2O, unsplit] grams (see :func:`gas_sums`)."""


def gas_sums(
    session: Session, period: Period, tz: tzinfo, cutoff: int, company: str | None = None
) -> GasSums:
    """The inventory's grams by gas per company and category, as the records logged them
    (``scope3_by_gas``, kept in the rows' per-gas columns: each gas in CO2e on the record's GWP
    set, rounded per gas). Records of sets without a split count as unsplit."""
    no_split = and_(ActivityRow.scope3_co2_g.is_(None), ActivityRow.scope3_unsplit_g.is_(None))
    org = func.coalesce(ActivityRow.org_id, NO_ORG)
    stmt = (
        select(
            org,
            ActivityRow.scope3_category,
            func.coalesce(func.sum(ActivityRow.co2e_scope3_g), 0),
            *(
                func.coalesce(func.sum(c), 0)
                for c in (ActivityRow.scope3_co2_g, ActivityRow.scope3_ch4_g, ActivityRow.scope3_n2o_g)
            ),
            func.coalesce(func.sum(ActivityRow.scope3_unsplit_g), 0)
            + func.coalesce(func.sum(case((no_split, ActivityRow.co2e_scope3_g), else_=0)), 0),
        )
        .where(*activity_filters(period, tz, cutoff, company), ActivityRow.scope3_category.is_not(None))
        .group_by(org, ActivityRow.scope3_category)
    )
    out: GasSums = {}
    for name, category, *sums in session.execute(stmt).all():
        out.setdefault(str(name), {})[int(category)] = [int(v) for v in sums]
    return out


def gases_by_category(sums: GasSums, versions: set[str], company: str | None = None) -> dict[str, Any]:
    """Per category (of one company, or of all): CO2, CH4 and N2O in CO2e, the part whose source
    gives no split (records saying ``unsplit_g`` and records of sets without a split), and the
    grams by which the per-gas roundings differ from the totals."""
    totals: dict[int, list[int]] = defaultdict(lambda: [0] * 5)
    for name, by_cat in sums.items():
        if company is None or name == company:
            for category, values in by_cat.items():
                totals[category] = [a + b for a, b in zip(totals[category], values, strict=True)]
    rows = [
        {
            "category": category,
            "co2e_g": total,
            "co2_g": co2,
            "ch4_g": ch4,
            "n2o_g": n2o,
            "unsplit_g": unsplit,
            "rounding_g": total - co2 - ch4 - n2o - unsplit,
        }
        for category, (total, co2, ch4, n2o, unsplit) in sorted(totals.items())
        if total
    ]
    sets = {s.version: s for s in all_sets()}
    gwp = sorted(
        {f.gwp for v in versions or () if v in sets for f in sets[v].factors.values() if f.gwp != "-"}
    )
    return {
        "by_category": rows,
        "gwp_sets": gwp,
        "note_en": "CH4 and N2O in CO2e on the GWP set of the factors "
        f"({', '.join(gwp) or '-'}; AR5: CH4 28, N2O 265, as DEFRA 2025); MEE grid and city "
        "factors are CO2 only; unsplit: sources that give no split (DEFRA waste rows) and records "
        "of sets without a split (park-default-2026.1); rounding: each gas is rounded per record "
        "on its own.",
        "note_zh": f"CH4 与 N2O 按因子所用全球变暖潜势（{'、'.join(gwp) or '-'}；AR5：CH4 28，N2O 265，"
        "与 DEFRA 2025 一致）折算为 CO2e；电网与城市因子仅含 CO2；未拆分：来源未按气体拆分（DEFRA 废弃物）"
        "及未拆分的因子集（park-default-2026.1）的记录；取整差：每条记录各气体分别取整。",
    }


def _month_index(period: Period, tz: tzinfo) -> ColumnElement[int]:
    """The 0-based month of ``occurred_at`` within the period (rows are already inside it)."""
    ends = [m.bounds(tz)[1] for m in period.months()]
    if len(ends) == 1:
        return case((ActivityRow.id.is_not(None), 0), else_=0)
    return case(*[(ActivityRow.occurred_at < end, i) for i, end in enumerate(ends[:-1])], else_=len(ends) - 1)


def aggregate(
    session: Session, period: Period, tz: tzinfo, cutoff: int, company: str | None = None
) -> tuple[list[Group], Reporters]:
    where = activity_filters(period, tz, cutoff, company)
    # Computed keys go through a subquery so PostgreSQL groups by the very same expressions.
    inner = (
        select(
            func.coalesce(ActivityRow.org_id, NO_ORG).label("org"),
            func.coalesce(ActivityRow.department_id, NO_ORG).label("dept"),
            ActivityRow.scope3_category.label("category"),
            ActivityRow.type.label("type"),
            ActivityRow.factor_set.label("factor_set"),
            case((ActivityRow.source.like(PRIMARY_SOURCE_PREFIX + "%"), 1), else_=0).label("primary"),
            _month_index(period, tz).label("month"),
            ActivityRow.subject_id.label("subject"),
            ActivityRow.co2e_scope3_g.label("scope3_g"),
            case((ActivityRow.status == ACCEPTED, ActivityRow.co2e_avoided_g), else_=0).label("avoided_g"),
            case((ActivityRow.status == PENDING_REVIEW, 1), else_=0).label("pending"),
        )
        .where(*where)
        .subquery()
    )
    keys = [
        inner.c.org,
        inner.c.dept,
        inner.c.category,
        inner.c.type,
        inner.c.factor_set,
        inner.c.primary,
        inner.c.month,
        inner.c.pending,
    ]
    rows = session.execute(
        select(*keys, func.count(), func.sum(inner.c.scope3_g), func.sum(inner.c.avoided_g)).group_by(*keys)
    ).all()
    groups = [
        Group(
            str(r[0]),
            str(r[1]),
            None if r[2] is None else int(r[2]),
            str(r[3]),
            str(r[4]),
            bool(r[5]),
            int(r[6]),
            int(r[8]),
            int(r[9] or 0),
            int(r[10] or 0),
            pending=bool(r[7]),
        )
        for r in rows
    ]

    def distinct(*by: Any) -> list[Any]:
        stmt = select(*by, func.count(func.distinct(inner.c.subject)))
        return list(session.execute(stmt.group_by(*by) if by else stmt).all())

    reporters = Reporters(
        total=int(distinct()[0][0]),
        per_org={str(o): int(n) for o, n in distinct(inner.c.org)},
        per_dept={(str(o), str(d)): int(n) for o, d, n in distinct(inner.c.org, inner.c.dept)},
        per_org_month={(str(o), int(m)): int(n) for o, m, n in distinct(inner.c.org, inner.c.month)},
        per_month={int(m): int(n) for m, n in distinct(inner.c.month)},
    )
    return groups, reporters


def headcounts(session: Session, company: str | None = None) -> dict[str, int]:
    stmt = select(HeadcountRow.org_id, HeadcountRow.headcount)
    if company is not None:
        stmt = stmt.where(HeadcountRow.org_id == company)
    return {str(o): int(n) for o, n in session.execute(stmt)}


BASELINE_KINDS = frozenset({"distance", "electric_distance"})
"""Calculation kinds whose avoided emissions are measured against a travel baseline."""


def methodology(groups: list[Group], park_baseline: str | None = None) -> dict[str, Any]:
    """Factor sets, factors (with sources) and methods behind the groups' figures.

    Baseline factors are those the records were computed with: an activity's own fixed baseline
    (e.g. EV against a petrol car), else the park's configured one, else the set's default.
    """
    sets = {s.version: s for s in all_sets()}
    used: dict[str, set[str]] = defaultdict(set)
    for g in groups:
        used[g.factor_set].add(g.type)
    factor_sets, factors = [], []
    for version in sorted(used):
        fs = sets.get(version)
        if fs is None:
            factor_sets.append({"version": version, "known": False})
            continue
        factor_sets.append(
            {
                "version": version,
                "sha256": "0x" + fs.content_hash,
                "effective_from": fs.effective_from.isoformat(),
                "description": fs.description,
                "activity_types": sorted(used[version]),
            }
        )
        by_factor: dict[str, set[str]] = defaultdict(set)
        for activity_type in used[version]:
            try:
                rules = fs.rules(activity_type)
            except LookupError:
                continue
            for factor_id in scope3.factor_ids_referenced(rules, set(fs.factors)):
                by_factor[factor_id].add(activity_type)
            if rules.get("kind") not in BASELINE_KINDS:
                continue
            try:
                park_choice = choose_baseline(park_baseline, fs)
            except ConfigurationError:
                park_choice = fs.default_baseline
            name = rules.get("baseline") or park_choice
            baseline = fs.methodology.get("baselines", {}).get(str(name), {})
            for factor_id in scope3.factor_ids_referenced(baseline, set(fs.factors)):
                by_factor[factor_id].add("baseline (avoided emissions only)")
        for factor_id in sorted(by_factor):
            factors.append(
                {
                    "factor_set": version,
                    **fs.factor(factor_id).public(),
                    "used_for": sorted(by_factor[factor_id]),
                }
            )
    categories_present = sorted({g.category for g in groups if g.category is not None})
    return {
        "factor_sets": factor_sets,
        "factors": factors,
        "methods": [
            {"category": c, "method_en": scope3.METHODS[c][0], "method_zh": scope3.METHODS[c][1]}
            for c in categories_present
        ],
        "rounding_en": scope3.ROUNDING_NOTE,
        "rounding_zh": scope3.ROUNDING_NOTE_ZH,
    }


BOUNDARY = {
    "category_5_en": "Category 5 holds only the office waste employees logged (recycling records with "
    "scope office, and deliveries of a waste-contractor integration). It is not the company's full "
    "waste inventory unless the company's waste contractor delivers its data; household waste is "
    "excluded (not the company's).",
    "category_5_zh": "类别5仅包含员工记录的办公废弃物（scope 为 office 的回收记录，以及废弃物承运商集成"
    "推送的数据）；除非企业的废弃物承运商推送其数据，否则并非企业完整的废弃物清单；家庭废弃物不计入。",
    "company_vehicles_en": "Trips in company-owned vehicles are the company's Scope 1 (fuel) or Scope 2 "
    "(electricity) and are excluded from categories 6 and 7 (each record shows them as scope1_g or "
    "scope2_g, reported separately).",
    "company_vehicles_zh": "使用企业自有车辆的出行属于企业范围一（燃料）或范围二（电力），不计入类别6、7"
    "（每条记录以 scope1_g 或 scope2_g 单独列示）。",
    "avoided_en": "Avoided emissions are reported beside the inventory, never subtracted from it, and "
    "are not offsets: the same trip must not also be claimed on a city carbon-inclusion platform.",
    "avoided_zh": "减排量与清单并列报告，绝不从清单中扣减，也不是抵消量；"
    "同一次出行不得再在城市碳普惠平台申领。",
}
"""What every summary and disclosure states about its boundary (GHG Protocol Scope 3 Standard,
chapter 6: exclusions are disclosed and justified)."""


def _inventory_factors(fs: Any, activity_type: str, rules: dict[str, Any]) -> list[Any]:
    """The factors that can give an activity type's Scope 3 figure under a set (for scoring)."""
    ids: set[str] = set()
    for key in ("actual_factor", "shared_factor"):
        if key in rules:
            ids.add(str(rules[key]))
    ids |= {str(v) for v in rules.get("fuel_factors", {}).values()}
    ids |= {str(b["factor"]) for b in rules.get("bands", [])}
    ids |= {str(m["recycling"]) for m in rules.get("materials", {}).values()}
    if rules.get("kind") == "electric_distance":
        ids.add(fs.grid_regions[fs.default_grid_region])
    return [fs.factor(i) for i in sorted(ids) if i in fs.factors]


def _provisional_parameter(fs: Any, rules: dict[str, Any]) -> bool:
    """Whether a provisional parameter (an e-bike's kWh/km) shapes the type's Scope 3 figure."""
    name = rules.get("consumption_parameter")
    return name is not None and name in fs.parameters and fs.parameters[name].status == "provisional"


UNSCORED_UNCERTAINTY_PCT = Decimal(50)
"""Uncertainty of emissions computed with a set that scores no factors (park-default-2026.1): the
percentage of the poorest score, so the range covers the whole inventory without understating it."""


def data_quality(groups: list[Group], park_baseline: str | None = None) -> dict[str, Any]:
    """Per category: the emission-weighted data quality scores of the factors behind the
    inventory, the share computed on proxies (fair or poor geography or technology, e.g. UK factors
    in China) or provisional values, and an uncertainty range (GHG Protocol Scope 3 Standard ch. 7).

    Each group is scored by the worst of the factors its activity type may use (conservative).
    Sets without scores (park-default-2026.1) count as unscored, and their emissions enter the
    uncertainty range at the poorest score's percentage."""
    del park_baseline
    sets = {s.version: s for s in all_sets()}
    by_cat: dict[int, dict[str, Any]] = {}
    for g in groups:
        if g.category is None or g.scope3_g == 0:
            continue
        acc = by_cat.setdefault(
            g.category,
            {
                "mass": 0,
                "scored": 0,
                "sums": defaultdict(int),
                "proxy": 0,
                "provisional": 0,
                "unc": 0,
                "uns": 0,
            },
        )
        acc["mass"] += g.scope3_g
        fs = sets.get(g.factor_set)
        factors = _inventory_factors(fs, g.type, fs.rules(g.type)) if fs is not None else []
        scored = [f for f in factors if f.quality is not None]
        if not scored or fs is None:
            acc["uns"] += g.scope3_g
            acc["unc"] += Decimal(g.scope3_g) * UNSCORED_UNCERTAINTY_PCT / 100
            continue
        worst = {name: max(f.quality[name] for f in scored) for name in QUALITY_INDICATORS}
        provisional_parameter = _provisional_parameter(fs, fs.rules(g.type))
        if provisional_parameter:  # an unverified assumption: poor reliability
            worst["reliability"] = max(QUALITY_LABELS)
        acc["scored"] += g.scope3_g
        for name, score in worst.items():
            acc["sums"][name] += score * g.scope3_g
        if any(f.is_proxy for f in scored):
            acc["proxy"] += g.scope3_g
        if any(f.status == "provisional" for f in scored) or provisional_parameter:
            acc["provisional"] += g.scope3_g
        table = fs.methodology.get("data_quality", {}).get("uncertainty_pct_by_worst_score", {})
        pct = Decimal(str(table.get(str(max(worst.values())), "50")))
        acc["unc"] += Decimal(g.scope3_g) * pct / 100
    out = []
    for category in sorted(by_cat):
        acc = by_cat[category]
        scores = (
            {
                name: float((Decimal(acc["sums"][name]) / acc["scored"]).quantize(Decimal("0.01")))
                for name in QUALITY_INDICATORS
            }
            if acc["scored"]
            else None
        )
        half = scope3.round_grams(Decimal(acc["unc"]))
        out.append(
            {
                "category": category,
                "inventory_g": acc["mass"],
                "scores": scores,
                "score_scale": "1 very good, 2 good, 3 fair, 4 poor "
                "(emission-weighted, worst factor per type)",
                "share_on_proxies": scope3.share(acc["proxy"], acc["mass"]),
                "share_on_provisional": scope3.share(acc["provisional"], acc["mass"]),
                "share_unscored": scope3.share(acc["uns"], acc["mass"]),
                "uncertainty_g": {"low": max(0, acc["mass"] - half), "high": acc["mass"] + half},
                "uncertainty_basis": "each part ± the percentage of its factors' worst score, "
                f"unscored parts ± {UNSCORED_UNCERTAINTY_PCT} % (the poorest); "
                "parts added linearly (systematic errors)",
            }
        )
    return {
        "by_category": out,
        "note_en": "Scores per the GHG Protocol Scope 3 Standard's five indicators (technology, time, "
        "geography, completeness, reliability), 1 very good to 4 poor.",
        "note_zh": "按《温室气体核算体系 范围三标准》五项指标（技术、时间、地理、完整性、可靠性）评分，"
        "1 很好至 4 差。",
    }


def compute(
    session: Session,
    period: Period,
    config: Scope3Config,
    cutoff: int,
    now: datetime,
    company: str | None = None,
    extrapolate: bool = False,
) -> dict[str, Any]:
    """The full summary document (park block and company blocks) as of log size ``cutoff``."""
    tz = config.tz
    groups, reporters = aggregate(session, period, tz, cutoff, company)
    counts = headcounts(session, company)
    policy = scope3.Policy(min_group_size=config.min_group_size, extrapolate=extrapolate)
    start, end = period.bounds(tz)
    gases = gas_sums(session, period, tz, cutoff, company)
    blocks = scope3.summarize(period, groups, reporters, counts, policy)
    for block in blocks["companies"]:
        if block.get("withheld"):
            continue  # a withheld company shows nothing about itself, its gases and data quality neither
        # Per company too, so a company's view of a closed (frozen, park-wide) period shows its own.
        org_groups = [g for g in groups if g.org == block["company"]]
        block["gases_by_category"] = gases_by_category(
            gases, {g.factor_set for g in org_groups}, block["company"]
        )
        block["data_quality_factors"] = data_quality(org_groups, config.baseline)
    return {
        "period": {
            "label": period.label,
            "kind": period.kind,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "timezone": config.timezone,
            "months": [m.label for m in period.months()],
        },
        "as_of_tree_size": cutoff,
        "computed_at": now.astimezone(UTC).isoformat(),
        "basis_en": "Accepted and flagged (pending review) activity records in the transparency log with "
        "occurred_at in the period and leaf index below as_of_tree_size. Flagged records' emissions are "
        "in the inventory, marked pending_review; their avoided emissions and points wait for the review. "
        "Rejected and reversed records are excluded.",
        "basis_zh": "透明日志中已接受及待审核（被标记）的行为记录（发生时间在本期内、叶子序号小于 "
        "as_of_tree_size）。待审核记录的排放计入清单并标注 pending_review，其减排量与积分待审核后计入；"
        "被拒绝或冲销的记录不计入。",
        "boundary": BOUNDARY,
        "methodology": methodology(groups, config.baseline),
        "data_quality_factors": data_quality(groups, config.baseline),
        "gases_by_category": gases_by_category(gases, {g.factor_set for g in groups}, company),
        "privacy": {"min_group_size": config.min_group_size},
        **blocks,
    }


def latest_close(session: Session, period: Period) -> PeriodCloseRow | None:
    stmt = (
        select(PeriodCloseRow)
        .where(PeriodCloseRow.period == period.label)
        .order_by(PeriodCloseRow.revision.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def close_public(row: PeriodCloseRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "period": row.period,
        "revision": row.revision,
        "kind": row.kind,
        "reason": row.reason,
        "cutoff_tree_size": row.cutoff_tree_size,
        "summary_sha256": row.summary_sha256,
        "leaf_index": row.leaf_index,
        "closed_by_role": row.closed_by_role,
        "closed_at": row.closed_at.isoformat(),
    }


def _category_grams(block: dict[str, Any]) -> dict[int, tuple[int, int]]:
    if block.get("withheld"):
        return {}
    return {c["category"]: (c["co2e_g"], c["records"]) for c in block["inventory"]["categories"]}


def _changes(frozen: dict[str, Any], live: dict[str, Any]) -> list[dict[str, Any]]:
    """Per company and category: what arrived (or was reversed) after the close."""
    frozen_by = {b["company"]: _category_grams(b) for b in frozen["companies"]}
    withheld = {b["company"] for b in [*frozen["companies"], *live["companies"]] if b.get("withheld")}
    out = []
    for block in live["companies"]:
        if block["company"] in withheld:  # a difference would give its figures away
            continue
        before = frozen_by.get(block["company"], {})
        for category, (grams, records) in _category_grams(block).items():
            old_g, old_n = before.get(category, (0, 0))
            if (grams, records) != (old_g, old_n):
                out.append(
                    {
                        "company": block["company"],
                        "category": category,
                        "records": records - old_n,
                        **scope3.figure(grams - old_g),
                    }
                )
    return out


def _explain_url(doc: dict[str, Any], **params: Any) -> str:
    query = {"period": doc["period"]["label"], **{k: v for k, v in params.items() if v is not None}}
    return "/api/v1/scope3/explain?" + urlencode(query)


def _add_links(doc: dict[str, Any], company: str | None, block: dict[str, Any]) -> None:
    if block.get("withheld"):
        return
    for row in block["inventory"]["categories"]:
        row["explain_url"] = _explain_url(doc, company=company, category=row["category"])
    # A view narrowed to one category explains that category's total, not the whole inventory.
    category = doc["scope"].get("category")
    block["inventory"]["total"]["explain_url"] = _explain_url(doc, company=company, category=category)
    for dept in block.get("departments", []):
        if dept["department"] is not None:
            for row in dept["inventory"]["categories"]:
                row["explain_url"] = _explain_url(
                    doc, company=company, department=dept["department"], category=row["category"]
                )


def view(doc: dict[str, Any], company: str | None, category: int | None) -> dict[str, Any]:
    """The park summary narrowed to one company and/or category, with explain links added."""
    out = {k: v for k, v in doc.items() if k not in ("park", "companies")}
    if company is None:
        out["scope"] = {"level": "park", "company": None, "category": category}
        out["totals"] = doc["park"]
        out["companies"] = doc["companies"]
    else:
        blocks = [b for b in doc["companies"] if b["company"] == company]
        if not blocks:
            raise NotFound(f"company {company} has no records or headcount in {doc['period']['label']}")
        out["scope"] = {"level": "company", "company": company, "category": category}
        out["totals"] = blocks[0]
        out["companies"] = blocks
        # a park-wide document (a closed period) keeps each company's own figures in its block;
        # never show one company the park's (a block closed before these existed has none)
        for key in ("gases_by_category", "data_quality_factors"):
            out[key] = blocks[0].get(key)
    out = scope3.narrow_to_category(out, category) if category is not None else out
    _add_links(out, company, out["totals"])
    for block in out["companies"]:
        _add_links(out, block["company"], block)
    return out


def summary(
    db: Database,
    period: Period,
    config: Scope3Config,
    company: str | None = None,
    category: int | None = None,
    extrapolate: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Live totals of an open period, or the frozen totals of a closed one (with later changes)."""
    now = now or datetime.now(UTC)
    with db.read_sessions() as session, session.begin():
        size = SqlLogStore(session).size()
        close = latest_close(session, period)
        if close is None:
            doc = compute(session, period, config, size, now, company, extrapolate)
            doc.update(status=PeriodStatus.OPEN, close=None, changes_since_close=[])
            return view(doc, company, category)
        frozen = close.summary
        live = compute(session, period, config, size, now, company, extrapolate=False)
    doc = copy.deepcopy(frozen)
    doc.update(status=PeriodStatus.CLOSED, close=close_public(close))
    if not extrapolate:
        for block in [doc["park"], *doc["companies"]]:
            block.pop("extrapolation", None)
    if company is not None:
        doc["companies"] = [b for b in doc["companies"] if b["company"] == company]
    doc["changes_since_close"] = _changes(doc, live)
    return view(doc, company, category)


def authorize_company(role: str, org: str | None, company: str | None) -> str | None:
    """Park managers see every company; company admins only their own (the default for them)."""
    if role in ("park_manager", "operator"):
        return company
    if org is None:
        raise PermissionDenied("this company admin token names no company")
    if company is not None and company != org:
        raise PermissionDenied(f"a company admin of {org} may not see company {company}")
    return org


def set_headcount(db: Database, company: str, headcount: int, role: str, now: datetime | None = None) -> None:
    if not company or len(company) > 128:
        raise InvalidInput("company", "must be 1 to 128 characters")
    if not 1 <= headcount <= MAX_HEADCOUNT:
        raise InvalidInput("headcount", f"must be between 1 and {MAX_HEADCOUNT}")
    now = now or datetime.now(UTC)
    with db.write_sessions() as session, session.begin():
        row = session.get(HeadcountRow, company)
        if row is None:
            session.add(
                HeadcountRow(org_id=company, headcount=headcount, updated_by_role=role, updated_at=now)
            )
        else:
            row.headcount, row.updated_by_role, row.updated_at = headcount, role, now


def list_headcounts(db: Database, company: str | None = None) -> list[dict[str, Any]]:
    with db.read_sessions() as session:
        stmt = select(HeadcountRow).order_by(HeadcountRow.org_id)
        if company is not None:
            stmt = stmt.where(HeadcountRow.org_id == company)
        return [
            {
                "company": r.org_id,
                "headcount": r.headcount,
                "updated_at": r.updated_at.isoformat(),
                "updated_by_role": r.updated_by_role,
            }
            for r in session.execute(stmt).scalars()
        ]
