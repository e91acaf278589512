"""Exports of a Scope 3 summary view: flat CSV rows and a printable bilingual HTML report.

Both are pure renderings of the document :func:`backend.services.accounting.scope3.summary` returns, so a
report shows exactly the figures the API and the dashboard show.
"""

from __future__ import annotations

import csv
import io
from html import escape
from typing import Any

from backend.domain.states import PeriodStatus

WITHHELD = "withheld"
"""The ``measure`` of a row standing for a group the disclosure rule withholds (its figures blank)."""
WITHHELD_HTML = "已隐藏 Withheld"
CSV_COLUMNS = (
    "period",
    "status",
    "level",
    "company",
    "department",
    "month",
    "measure",
    "category",
    "records",
    "co2e_g",
    "co2e_kg",
    "co2e_t",
)


def csv_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    base = {"period": doc["period"]["label"], "status": doc["status"]}
    rows: list[dict[str, Any]] = []

    def add(
        level: str, company: Any, department: Any, month: Any, measure: str, cat: Any, fig: dict[str, Any]
    ) -> None:
        rows.append(
            base
            | {
                "level": level,
                "company": company,
                "department": department,
                "month": month,
                "measure": measure,
                "category": cat,
                "records": fig.get("records", ""),
                "co2e_g": fig["co2e_g"],
                "co2e_kg": fig["co2e_kg"],
                "co2e_t": fig["co2e_t"],
            }
        )

    def withheld(level: str, company: Any, month: Any) -> None:
        blank = {
            "department": None,
            "category": None,
            "records": "",
            "co2e_g": "",
            "co2e_kg": "",
            "co2e_t": "",
        }
        rows.append(base | blank | {"level": level, "company": company, "month": month, "measure": WITHHELD})

    def block_rows(level: str, company: Any, block: dict[str, Any]) -> None:
        if block.get("withheld"):
            withheld(level, company, None)
            return
        for c in block["inventory"]["categories"]:
            add(level, company, None, None, "inventory", c["category"], c)
        add(level, company, None, None, "inventory", "total", block["inventory"]["total"])
        for a in block["avoided"]["by_category"]:
            add(level, company, None, None, "avoided", a["category"], a)
        if block.get("extrapolation", {}).get("estimate"):
            add(level, company, None, None, "extrapolation_estimate", 7, block["extrapolation"]["estimate"])
        for month in block["months"]:
            if month.get("withheld"):
                withheld(level, company, month["period"])
                continue
            for c in month["inventory"]["categories"]:
                add(level, company, None, month["period"], "inventory", c["category"], c)
        for dept in block.get("departments", []):
            name = dept["department"] if dept["department"] is not None else "(combined small departments)"
            for c in dept["inventory"]["categories"]:
                add("department", company, name, None, "inventory", c["category"], c)

    if doc["scope"]["level"] == "park":
        block_rows("park", None, doc["totals"])
    for block in doc["companies"]:
        block_rows("company", block["company"], block)
    return rows


def to_csv(doc: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in csv_rows(doc):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _kg(fig: dict[str, Any]) -> str:
    return f"{fig['co2e_kg']:,.3f}"


STYLE = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #999;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}
th{background:#eef3ee}td.l,th.l{text-align:left}.note{color:#555;font-size:.9em}
.estimate{background:#fff7e0;border:1px dashed #c90;padding:.5em}
@media print{body{margin:0}a{color:inherit;text-decoration:none}}
"""


def _pending(c: dict[str, Any]) -> str:
    pending = c.get("pending_review") or {}
    if not pending.get("records"):
        return "—"
    return f"{pending['co2e_g'] / 1000:,.3f} ({pending['records']})"


def _category_table(block: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td class=l>{c['category']} · {_e(c['name_zh'])} / {_e(c['name_en'])}</td>"
        f"<td>{c['records']}</td><td>{_kg(c)}</td><td>{c['co2e_t']:.3f}</td><td>{_pending(c)}</td>"
        f"<td class=l>{_e(c['method_zh'])} / {_e(c['method_en'])}</td></tr>"
        for c in block["inventory"]["categories"]
    )
    total = block["inventory"]["total"]
    return (
        "<table><tr><th class=l>类别 Category</th><th>记录 Records</th><th>kg CO2e</th><th>t CO2e</th>"
        "<th>其中待审核 of which pending review kg (records)</th>"
        f"<th class=l>方法 Method</th></tr>{rows}<tr><th class=l>合计 Total</th><th>{total['records']}</th>"
        f"<th>{_kg(total)}</th><th>{total['co2e_t']:.3f}</th><th></th><th></th></tr></table>"
    )


def _factor_quality(doc: dict[str, Any]) -> str:
    """The data quality of the factors behind each category (GHG Protocol Scope 3 Standard ch. 7)."""
    dq = doc.get("data_quality_factors") or {}
    rows = []
    for c in dq.get("by_category", []):
        scores = c["scores"] or {}
        cells = "".join(f"<td>{scores.get(k, '—')}</td>" for k in QUALITY_KEYS)
        unc = c.get("uncertainty_g")
        spread = f"{unc['low'] / 1000:,.3f}–{unc['high'] / 1000:,.3f}" if unc else "—"
        rows.append(
            f"<tr><td class=l>{c['category']}</td>{cells}<td>{_pct(c['share_on_proxies'])}</td>"
            f"<td>{_pct(c['share_on_provisional'])}</td><td>{_pct(c.get('share_unscored'))}</td>"
            f"<td>{spread}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<h3>因子数据质量 Data quality of the factors</h3><table><tr><th class=l>类别 Category</th>"
        "<th>技术 Technology</th><th>时间 Time</th><th>地理 Geography</th><th>完整性 Completeness</th>"
        "<th>可靠性 Reliability</th><th>代用因子占比 On proxies</th><th>暂定值占比 On provisional</th>"
        "<th>未评分占比 Unscored</th><th>不确定性范围 Uncertainty range kg</th></tr>"
        + "".join(rows)
        + f"</table><p class=note>{_e(dq.get('note_zh', ''))}<br>{_e(dq.get('note_en', ''))}</p>"
    )


QUALITY_KEYS = ("technology", "time", "geography", "completeness", "reliability")


def _months_table(block: dict[str, Any]) -> str:
    cats = [c["category"] for c in block["inventory"]["categories"]]
    head = "".join(f"<th>类别 Cat. {c} kg</th>" for c in cats)
    rows = "".join(
        f"<tr><td class=l>{_e(m['period'])}</td><td colspan={len(cats) + 2}>{WITHHELD_HTML}</td></tr>"
        if m.get("withheld")
        else f"<tr><td class=l>{_e(m['period'])}</td>"
        + "".join(f"<td>{_kg(c)}</td>" for c in m["inventory"]["categories"])
        + f"<td>{_kg(m['inventory']['total'])}</td><td>{m['employees_reporting']}</td></tr>"
        for m in block["months"]
    )
    return (
        f"<table><tr><th class=l>月份 Month</th>{head}<th>合计 Total kg</th><th>报告人数 Reporting</th></tr>"
        f"{rows}</table>"
    )


def _departments(block: dict[str, Any]) -> str:
    if not block.get("departments"):
        return "<p class=note>无可单独显示的部门。No department large enough to be shown separately.</p>"
    rows = "".join(
        f"<tr><td class=l>{_e(d['department'] or (d.get('label_zh', '') + ' / ' + d.get('label_en', '')))}</td>"
        f"<td>{d['employees_reporting']}</td><td>{_kg(d['inventory']['total'])}</td></tr>"
        for d in block["departments"]
    )
    return (
        "<table><tr><th class=l>部门 Department</th><th>报告人数 Reporting</th><th>kg CO2e</th></tr>"
        f"{rows}</table><p class=note>{_e(block['privacy']['note_zh'])}<br>{_e(block['privacy']['note_en'])}</p>"
    )


def _methodology(doc: dict[str, Any]) -> str:
    m = doc["methodology"]
    sets = "".join(
        f"<li>{_e(s['version'])} (sha256 {_e(s.get('sha256', 'unknown'))}; effective {_e(s.get('effective_from'))}) "
        f"— {_e(s.get('description', ''))}</li>"
        for s in m["factor_sets"]
    )
    factors = "".join(
        f"<tr><td class=l>{_e(f['id'])}</td><td>{_e(f['value'])}</td><td class=l>{_e(f['unit'])}</td>"
        f"<td class=l>{_e(f['gwp'])}</td><td class=l>{_e(f['region'])} {_e(f['year'])}</td>"
        f"<td class=l>{_e(f['source'])}</td><td class=l>{_e(', '.join(f['used_for']))}</td></tr>"
        for f in m["factors"]
    )
    b = doc.get("boundary") or {}
    boundary = "".join(
        f"<p>{_e(b[key + '_zh'])}<br>{_e(b[key + '_en'])}</p>"
        for key in ("category_5", "company_vehicles", "avoided")
        if key + "_en" in b
    )
    return f"""
<h2>方法学 Methodology</h2>
<p>本报告依据《温室气体核算体系：企业价值链（范围三）核算与报告标准》及其技术指南，汇总园区碳账本中员工记录的
行为：类别 7 员工通勤与类别 6 商务差旅采用基于距离法（距离 × 交通方式排放因子），类别 5 运营废弃物采用废弃物类型法
（质量 × 废弃物类型与处理方式因子）。减排量相对所述基准情景计算，单独列示，绝不从排放清单中扣减。</p>
<p>This report follows the GHG Protocol Corporate Value Chain (Scope 3) Standard and its Technical Guidance.
It sums the activities employees recorded in the park's carbon ledger: category 7 (employee commuting) and
category 6 (business travel) by the distance-based method (distance × mode factor), category 5 (waste generated
in operations) by the waste-type-specific method (mass × waste-type and treatment factor). Avoided emissions are
computed against the stated baseline and reported separately, never netted off the inventory.</p>
<p><b>范围与局限 Boundary and limits.</b> 包含账本中已接受的记录，以及待审核记录的排放（单独标注，其减排量待审核后计入）；
未报告员工的排放未计入实测合计（可选的类别 7 平均数据法估算单独列示）。CO2 与 CO2e 口径按各因子标注；不涉及生物源 CO2。
Accepted ledger records are included, and the emissions of flagged records pending review (marked; their
avoided emissions wait for the review); employees who did not report are not in the measured totals (the
optional category 7 average-data estimate is shown apart). Each factor states its gas basis (CO2 or CO2e) and
GWP set; no biogenic CO2 is involved.</p>
{boundary}
<p><b>数据依据 Basis.</b> {_e(doc["basis_zh"])}<br>{_e(doc["basis_en"])}</p>
<p><b>取整 Rounding.</b> {_e(m["rounding_zh"])}<br>{_e(m["rounding_en"])}</p>
<h3>因子集 Factor sets</h3><ul>{sets}</ul>
<h3>排放因子 Emission factors</h3>
<table><tr><th class=l>ID</th><th>值 Value</th><th class=l>单位 Unit</th><th class=l>GWP</th>
<th class=l>地区年份 Region, year</th><th class=l>来源 Source</th><th class=l>用于 Used for</th></tr>{factors}</table>
"""


def to_html(doc: dict[str, Any]) -> str:
    """A printable report of one view (a company or the park) in Chinese and English."""
    block = doc["totals"]
    company = doc["scope"]["company"]
    subject = f"公司 Company {_e(company)}" if company else "园区 Park (all companies)"
    if block.get("withheld"):
        return (
            f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>范围三排放报告 Scope 3 report '
            f"{_e(doc['period']['label'])}</title><style>{STYLE}</style></head><body>"
            f"<h1>范围三排放报告 · Scope 3 emissions report</h1><p>{subject} · 期间 Period "
            f"<b>{_e(doc['period']['label'])}</b></p><p>{WITHHELD_HTML}</p>"
            f"<p class=note>{_e(block['privacy']['note_zh'])}<br>{_e(block['privacy']['note_en'])}</p></body></html>"
        )
    status = (
        f"已关账 Closed (revision {doc['close']['revision']}, log leaf {doc['close']['leaf_index']}, "
        f"summary sha256 {_e(doc['close']['summary_sha256'])})"
        if doc["status"] == PeriodStatus.CLOSED
        else "未关账（临时数据）Open period — provisional figures"
    )
    quality = block["data_quality"]
    avoided = block["avoided"]["total"]
    extrapolation = block.get("extrapolation")
    estimate = ""
    if extrapolation and extrapolation.get("estimate"):
        estimate = (
            f"<div class=estimate><b>估算（非实测）Estimate, not measured:</b> {_kg(extrapolation['estimate'])} kg CO2e "
            f"<br>{_e(extrapolation.get('method_zh', extrapolation.get('note_zh', '')))}"
            f"<br>{_e(extrapolation.get('method_en', extrapolation.get('note_en', '')))}</div>"
        )
    changes = ""
    if doc.get("changes_since_close"):
        changes = (
            "<p class=note>关账后有新的或冲销的记录，需通过重述纳入。Records arrived or were reversed after the close; "
            f"they are not in these totals until a restatement ({len(doc['changes_since_close'])} company-category "
            "changes).</p>"
        )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>范围三排放报告 Scope 3 report {_e(doc["period"]["label"])}</title>
<style>{STYLE}</style></head><body>
<h1>范围三排放报告 · Scope 3 emissions report</h1>
<p>{subject} · 期间 Period <b>{_e(doc["period"]["label"])}</b> ({_e(doc["period"]["start"])} – {_e(doc["period"]["end"])},
{_e(doc["period"]["timezone"])})<br>{status}<br>
生成时间 Computed at {_e(doc["computed_at"])} · 日志前缀 Log prefix: {doc["as_of_tree_size"]} leaves</p>
{changes}
<h2>1. 排放清单 Inventory (kg CO2e)</h2>{_category_table(block)}
<h2>2. 减排量（单独列示）Avoided emissions (reported separately)</h2>
<p>{_kg(avoided)} kg CO2e ({avoided["records"]} records). {_e(block["avoided"]["note_zh"])}
{_e(block["avoided"]["note_en"])}</p>
<h2>3. 按月 By month</h2>{_months_table(block)}
<h2>4. 部门 Departments</h2>{_departments(block) if company else "<p class=note>见各公司报告 See the company reports.</p>"}
<h2>5. 数据质量 Data quality</h2>
<table>
<tr><td class=l>报告员工 Employees reporting</td><td>{quality["employees_reporting"]}</td></tr>
<tr><td class=l>员工总数（配置）Headcount (configured)</td><td>{_e(quality["headcount"] or "—")}</td></tr>
<tr><td class=l>报告率 Share of employees reporting</td><td>{_pct(quality["reporting_share"])}</td></tr>
<tr><td class=l>一手数据占比（记录）Primary data share (records)</td><td>{_pct(quality["primary_data_share_records"])}</td></tr>
<tr><td class=l>一手数据占比（排放量）Primary data share (mass)</td><td>{_pct(quality["primary_data_share_mass"])}</td></tr>
</table>{estimate}
{_factor_quality(doc)}
{_methodology(doc)}
<h2>核验 Verification</h2>
<p>每条计入的记录都是透明日志中的叶子，日志根已锚定在许可链上；审计方可用 <code>carbon-ledger audit verify-log</code>
重放日志并复算。Every record counted is a leaf of the transparency log whose roots are anchored on the
permissioned chain; an auditor can replay the log with <code>carbon-ledger audit verify-log</code> and recompute
these totals.</p>
</body></html>
"""
