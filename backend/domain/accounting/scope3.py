"""Scope 3 reporting rules: reporting periods, units and rounding, and the summary document.

Pure functions over pre-aggregated groups (the service runs the GROUP BY queries): they fold the
groups into the totals the GHG Protocol Scope 3 Standard asks for, per park, company, department,
category (5, 6, 7) and month, with avoided emissions beside the inventory and never subtracted from
it. Every figure is summed in integer grams first and converted once (:func:`figure`), so the
parts of a total add up exactly in grams.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from backend.domain.accounting.disclosure import choose_withheld, is_withheld, withheld_block
from backend.domain.errors import InvalidInput

CATEGORIES: dict[int, tuple[str, str]] = {
    5: ("Waste generated in operations", "运营中产生的废弃物"),
    6: ("Business travel", "商务差旅"),
    7: ("Employee commuting", "员工通勤"),
}
"""The Scope 3 categories the ledger's activities fall into (GHG Protocol numbering)."""

METHODS: dict[int, tuple[str, str]] = {
    5: ("Waste-type-specific method", "废弃物类型法"),
    6: ("Distance-based method", "基于距离法"),
    7: ("Distance-based method", "基于距离法"),
}
"""The calculation method of each category (Scope 3 Technical Guidance, 2013)."""

MIN_YEAR = 2000
MAX_YEAR = 2100
"""Years a period may name: wide enough for any real inventory, narrow enough to catch typos."""

ROUNDING_NOTE = (
    "Sums are exact integer grams. kg = grams / 1000, exact to three decimals; "
    "t = grams / 1,000,000 rounded half to even to three decimals (whole kg). "
    "Each activity's grams were rounded once, half to even, when it was recorded."
)
ROUNDING_NOTE_ZH = (
    "所有合计均以整数克精确求和。千克 = 克 / 1000（精确到三位小数）；"
    "吨 = 克 / 1,000,000，按四舍六入五成双保留三位小数（即整千克）。"
    "每条记录的克数在记录时已按同一规则取整一次。"
)

_PERIOD = re.compile(r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2])))?$")


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period: a calendar year, quarter or month in the park's time zone."""

    year: int
    kind: str
    """``year``, ``quarter`` or ``month``."""
    number: int
    """Quarter 1–4 or month 1–12; 0 for a year."""

    @property
    def label(self) -> str:
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        return str(self.year)

    def first_month(self) -> int:
        return {"year": 1, "quarter": 3 * self.number - 2, "month": self.number}[self.kind]

    def month_count(self) -> int:
        return {"year": 12, "quarter": 3, "month": 1}[self.kind]

    def months(self) -> list[Period]:
        first = self.first_month()
        return [Period(self.year, "month", m) for m in range(first, first + self.month_count())]

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes at midnight in ``tz``."""
        first = self.first_month()
        start = datetime(self.year, first, 1, tzinfo=tz)
        end_month = first + self.month_count()
        end = datetime(self.year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=tz)
        return start, end

    def following(self) -> Period:
        """The next period of the same kind (where late data would otherwise have gone)."""
        if self.kind == "year":
            return Period(self.year + 1, "year", 0)
        last = 4 if self.kind == "quarter" else 12
        if self.number == last:
            return Period(self.year + 1, self.kind, 1)
        return Period(self.year, self.kind, self.number + 1)


def parse_period(text: str) -> Period:
    """``2026`` (year), ``2026-Q4`` (quarter) or ``2026-11`` (month)."""
    match = _PERIOD.fullmatch(text.strip())
    if match is None:
        raise InvalidInput("period", "must be a year (2026), a quarter (2026-Q4) or a month (2026-11)")
    year = int(match["year"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput("period", f"year must be between {MIN_YEAR} and {MAX_YEAR}")
    if match["quarter"]:
        return Period(year, "quarter", int(match["quarter"]))
    if match["month"]:
        return Period(year, "month", int(match["month"]))
    return Period(year, "year", 0)


def parse_category(value: int | None) -> int | None:
    if value is not None and value not in CATEGORIES:
        raise InvalidInput("category", f"must be one of {', '.join(map(str, CATEGORIES))}")
    return value


def grams_to_kg(grams: int) -> Decimal:
    return Decimal(grams).scaleb(-3)


def grams_to_t(grams: int) -> Decimal:
    return Decimal(grams).scaleb(-6).quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)


def figure(grams: int) -> dict[str, Any]:
    """One mass in the three units reported; grams are authoritative, kg and t are for reading."""
    return {"co2e_g": grams, "co2e_kg": float(grams_to_kg(grams)), "co2e_t": float(grams_to_t(grams))}


def share(part: int, whole: int | None) -> float | None:
    """A ratio rounded to four decimals (0.01 %), or None when the whole is unknown or zero."""
    if not whole:
        return None
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def round_grams(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class Group:
    """One row of the aggregation query: accepted activities sharing every key below."""

    org: str
    dept: str
    category: int | None
    type: str
    factor_set: str
    primary: bool
    """True for records that came from an integration (primary data), False for self-reported."""
    month: int
    """Index of the month within the period (0-based)."""
    records: int
    scope3_g: int
    avoided_g: int
    pending: bool = False
    """Flagged records waiting for review: in the inventory, their avoided emissions not yet."""


@dataclass(frozen=True)
class Reporters:
    """Distinct employees with at least one accepted activity in the period."""

    total: int
    per_org: Mapping[str, int]
    per_dept: Mapping[tuple[str, str], int]
    per_org_month: Mapping[tuple[str, int], int]
    per_month: Mapping[int, int]


@dataclass(frozen=True)
class Policy:
    min_group_size: int
    """Departments with fewer reporting employees than this are never shown separately."""
    extrapolate: bool = False


def _categories(groups: Iterable[Group]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    grams: dict[int, int] = defaultdict(int)
    records: dict[int, int] = defaultdict(int)
    pending_g: dict[int, int] = defaultdict(int)
    pending_n: dict[int, int] = defaultdict(int)
    for g in groups:
        if g.category is not None:
            grams[g.category] += g.scope3_g
            records[g.category] += g.records
            if g.pending:
                pending_g[g.category] += g.scope3_g
                pending_n[g.category] += g.records
    rows = [
        {
            "category": c,
            "name_en": name_en,
            "name_zh": name_zh,
            "method_en": METHODS[c][0],
            "method_zh": METHODS[c][1],
            "records": records[c],
            **figure(grams[c]),
            "pending_review": {"records": pending_n[c], "co2e_g": pending_g[c]},
        }
        for c, (name_en, name_zh) in CATEGORIES.items()
    ]
    total = {"records": sum(records.values()), **figure(sum(grams.values()))}
    return rows, total


def _avoided(groups: Iterable[Group]) -> dict[str, Any]:
    grams: dict[int | None, int] = defaultdict(int)
    records: dict[int | None, int] = defaultdict(int)
    for g in groups:
        if g.pending:
            continue  # a flagged record's credit waits for the review
        grams[g.category] += g.avoided_g
        records[g.category] += g.records
    by_category = [
        {"category": c, "records": records[c], **figure(grams[c])}
        for c in sorted(grams, key=lambda c: (c is None, c or 0))
    ]
    return {
        "note_en": "Avoided emissions against the stated baseline; reported beside the inventory, "
        "never subtracted from it.",
        "note_zh": "相对基准情景的减排量，与排放清单并列报告，绝不从清单中扣减。",
        "total": {"records": sum(records.values()), **figure(sum(grams.values()))},
        "by_category": by_category,
    }


def _months(period: Period, groups: list[Group], reporters: Mapping[int, int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, month in enumerate(period.months()):
        in_month = [g for g in groups if g.month == index]
        categories, total = _categories(in_month)
        out.append(
            {
                "period": month.label,
                "inventory": {"total": total, "categories": categories},
                "avoided": figure(sum(g.avoided_g for g in in_month)),
                "employees_reporting": reporters.get(index, 0),
            }
        )
    return out


def _activity_types(groups: Iterable[Group]) -> list[dict[str, Any]]:
    acc: dict[str, dict[str, Any]] = {}
    for g in groups:
        row = acc.setdefault(
            g.type, {"type": g.type, "records": 0, "scope3_g": 0, "avoided_g": 0, "cats": set()}
        )
        row["records"] += g.records
        row["scope3_g"] += g.scope3_g
        row["avoided_g"] += g.avoided_g
        if g.category is not None:
            row["cats"].add(g.category)
    return [
        {
            "type": r["type"],
            "records": r["records"],
            "categories": sorted(r["cats"]),
            "inventory": figure(r["scope3_g"]),
            "avoided": figure(r["avoided_g"]),
        }
        for r in sorted(acc.values(), key=lambda r: (-r["records"], r["type"]))
    ]


def _quality(groups: list[Group], reporting: int, headcount: int | None) -> dict[str, Any]:
    records = sum(g.records for g in groups)
    primary_records = sum(g.records for g in groups if g.primary)
    mass = sum(g.scope3_g for g in groups)
    primary_mass = sum(g.scope3_g for g in groups if g.primary)
    return {
        "employees_reporting": reporting,
        "headcount": headcount,
        "reporting_share": share(reporting, headcount),
        "primary_data_share_records": share(primary_records, records),
        "primary_data_share_mass": share(primary_mass, mass),
        "records": records,
        "primary_records": primary_records,
    }


def _block(
    period: Period,
    groups: list[Group],
    reporting: int,
    headcount: int | None,
    month_reporters: Mapping[int, int],
) -> dict[str, Any]:
    categories, total = _categories(groups)
    return {
        "inventory": {"total": total, "categories": categories},
        "avoided": _avoided(groups),
        "data_quality": _quality(groups, reporting, headcount),
        "months": _months(period, groups, month_reporters),
        "activity_types": _activity_types(groups),
    }


def extrapolate_commuting(measured_g: int, reporting: int, headcount: int | None) -> dict[str, Any]:
    """Category 7 for non-reporting employees by the average-data method, kept apart from totals.

    Assumes the employees who did not report commute like those who did (same mean per person).
    """
    base: dict[str, Any] = {
        "category": 7,
        "method_en": "Average-data method: mean measured category 7 emissions per reporting employee "
        "× employees not reporting. An estimate, not measured; not included in any total.",
        "method_zh": "平均数据法：按已报告员工人均实测通勤排放 × 未报告员工人数估算。"
        "此为估算值，非实测，不计入任何合计。",
        "employees_reporting": reporting,
        "headcount": headcount,
    }
    if headcount is None:
        return {**base, "available": False, "reason": "no headcount configured for this company"}
    if reporting == 0:
        return {**base, "available": False, "reason": "no employee reported in this period"}
    missing = max(0, headcount - reporting)
    estimate = round_grams(Decimal(measured_g) * missing / reporting)
    return {**base, "available": True, "employees_not_reporting": missing, "estimate": figure(estimate)}


def _departments(
    period: Period, org: str, groups: list[Group], reporters: Reporters, policy: Policy
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Department blocks; departments withheld by the disclosure rule are pooled into one block
    (which the rule makes large enough), or not shown at all when the company itself is withheld."""
    by_dept: dict[str, list[Group]] = defaultdict(list)
    for g in groups:
        by_dept[g.dept].append(g)
    sizes = {dept: reporters.per_dept.get((org, dept), 0) for dept in by_dept}
    shown, pooled = choose_withheld(sizes, policy.min_group_size, show_empty=False)
    out: list[dict[str, Any]] = []
    for dept in shown:
        categories, total = _categories(by_dept[dept])
        out.append(
            {
                "department": dept,
                "employees_reporting": sizes[dept],
                "inventory": {"total": total, "categories": categories},
                "avoided": figure(sum(g.avoided_g for g in by_dept[dept])),
            }
        )
    pooled_count = sum(sizes[d] for d in pooled)
    pooled_groups = [g for d in pooled for g in by_dept[d]]
    if pooled and pooled_count >= policy.min_group_size and len(pooled) >= 2:
        categories, total = _categories(pooled_groups)
        out.append(
            {
                "department": None,
                "label_en": f"Other departments (withheld on their own; minimum {policy.min_group_size})",
                "label_zh": f"其他部门（不单独显示，最小分组 {policy.min_group_size} 人，合并显示）",
                "departments_combined": len(pooled),
                "employees_reporting": pooled_count,
                "inventory": {"total": total, "categories": categories},
                "avoided": figure(sum(g.avoided_g for g in pooled_groups)),
            }
        )
        hidden = 0
    else:
        hidden = len(pooled)
    note = {
        "min_group_size": policy.min_group_size,
        "departments_not_shown": hidden,
        "note_en": "Departments with fewer reporting employees than the minimum group size (and, where "
        "needed, the smallest others so that none can be found by subtraction) are combined.",
        "note_zh": "报告员工少于最小分组人数的部门（必要时连同最小的其他部门，以免被差值推算）合并显示。",
    }
    return out, note


def _withhold_months(block: dict[str, Any], min_size: int) -> None:
    """Months with too few reporting employees are withheld, by the same rule."""
    sizes = {m["period"]: m["employees_reporting"] for m in block["months"]}
    _, withheld = choose_withheld(sizes, min_size)
    block["months"] = [
        withheld_block(m, ("period",), min_size) if m["period"] in withheld else m for m in block["months"]
    ]


def _park_reporting(orgs: list[str], reporters: Reporters, headcounts: Mapping[str, int]) -> dict[str, Any]:
    """The park's reporting share over the companies that have a headcount: one company without
    one leaves itself out (named in ``companies_without_headcount``) instead of blanking the park's."""
    counted = [o for o in orgs if o in headcounts]
    headcount = sum(headcounts[o] for o in counted) if counted else None
    reporting_counted = sum(reporters.per_org.get(o, 0) for o in counted)
    return {
        "headcount": headcount,
        "reporting_share": share(reporting_counted, headcount),
        "employees_reporting_counted": reporting_counted,
        "companies_without_headcount": [o for o in orgs if o not in headcounts],
    }


def summarize(
    period: Period,
    groups: list[Group],
    reporters: Reporters,
    headcounts: Mapping[str, int],
    policy: Policy,
) -> dict[str, Any]:
    """The park-level summary: park totals, then one block per company (with departments)."""
    by_org: dict[str, list[Group]] = defaultdict(list)
    for g in groups:
        by_org[g.org].append(g)
    orgs = sorted(set(by_org) | set(headcounts))
    minimum = policy.min_group_size
    _, withheld = choose_withheld({org: reporters.per_org.get(org, 0) for org in orgs}, minimum)
    park = _block(period, groups, reporters.total, None, reporters.per_month)
    park["data_quality"].update(_park_reporting(orgs, reporters, headcounts))
    _withhold_months(park, minimum)
    if is_withheld(reporters.total, minimum):
        park = withheld_block(park, (), minimum)
    companies = []
    park_estimate = 0
    estimates_available = 0
    for org in orgs:
        if org in withheld:
            companies.append(withheld_block({"company": org}, ("company",), minimum))
            continue
        org_groups = by_org.get(org, [])
        month_reporters = {m: n for (o, m), n in reporters.per_org_month.items() if o == org}
        block = {
            "company": org,
            **_block(period, org_groups, reporters.per_org.get(org, 0), headcounts.get(org), month_reporters),
        }
        block["departments"], block["privacy"] = _departments(period, org, org_groups, reporters, policy)
        _withhold_months(block, minimum)
        if policy.extrapolate:
            measured = block["inventory"]["categories"][list(CATEGORIES).index(7)]["co2e_g"]
            block["extrapolation"] = extrapolate_commuting(
                measured, reporters.per_org.get(org, 0), headcounts.get(org)
            )
            if block["extrapolation"]["available"]:
                estimates_available += 1
                park_estimate += block["extrapolation"]["estimate"]["co2e_g"]
        companies.append(block)
    if policy.extrapolate and not park.get("withheld"):
        park["extrapolation"] = {
            "category": 7,
            "companies_estimated": estimates_available,
            "companies": len(orgs),
            "estimate": figure(park_estimate),
            "note_en": "Sum of the company estimates that could be made (companies with a headcount "
            "and not withheld).",
            "note_zh": "可估算公司（已配置员工人数且未隐藏）的估算值之和。",
        }
    return {"park": park, "companies": companies}


def factor_ids_referenced(rules: Any, known: set[str]) -> set[str]:
    """Every factor id named anywhere in an activity's methodology rules (nested tables included)."""
    found: set[str] = set()
    if isinstance(rules, str):
        if rules in known:
            found.add(rules)
    elif isinstance(rules, Mapping):
        for value in rules.values():
            found |= factor_ids_referenced(value, known)
    elif isinstance(rules, list | tuple):
        for value in rules:
            found |= factor_ids_referenced(value, known)
    return found


def _narrow_inventory(inventory: dict[str, Any], category: int) -> None:
    kept = [c for c in inventory["categories"] if c["category"] == category]
    inventory["categories"] = kept
    inventory["total"] = {"records": kept[0]["records"], **figure(kept[0]["co2e_g"])}


def narrow_to_category(doc: dict[str, Any], category: int) -> dict[str, Any]:
    """A copy of a summary view keeping only one category (inventory, avoided, months, types)."""
    out = copy.deepcopy(doc)
    for block in [out["totals"], *out["companies"]]:
        if block.get("withheld"):
            continue
        _narrow_inventory(block["inventory"], category)
        for part in [*block.get("departments", []), *block["months"]]:
            if not part.get("withheld"):
                _narrow_inventory(part["inventory"], category)
        avoided = [a for a in block["avoided"]["by_category"] if a["category"] == category]
        block["avoided"]["by_category"] = avoided
        block["avoided"]["total"] = avoided[0] if avoided else {"records": 0, **figure(0)}
        block["activity_types"] = [t for t in block["activity_types"] if category in t["categories"]]
    return out


def period_containing(moment: datetime, kind: str) -> Period:
    """The ``kind`` period (in ``moment``'s own time zone) that contains ``moment``."""
    if kind == "year":
        return Period(moment.year, "year", 0)
    if kind == "quarter":
        return Period(moment.year, "quarter", (moment.month - 1) // 3 + 1)
    return Period(moment.year, "month", moment.month)
