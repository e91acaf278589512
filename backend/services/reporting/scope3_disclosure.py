"""The Scope 3 disclosure for categories 5, 6 and 7, laid out the way GRI 305-3 (2016) and the
Ministry of Finance's enterprise sustainability disclosure standard on climate (企业可持续披露准则
——气候) ask: gross emissions per category, gases and GWP, biogenic CO2, methods, factor sources,
data quality, boundary and exclusions, base year, restatements, with avoided emissions apart.

:func:`build` turns a summary view (:func:`backend.services.accounting.scope3.summary`) and the period's
closes into one document; :func:`to_html` renders it; the PDF is rendered from the same document
by :mod:`backend.adapters.disclosure_pdf`, so the three always show the same figures.
"""

from __future__ import annotations

from html import escape
from typing import Any

from backend.adapters import disclosure_pdf
from backend.domain.accounting import scope3

CATEGORIES = (5, 6, 7)
STANDARDS = (
    "GHG Protocol Corporate Value Chain (Scope 3) Accounting and Reporting Standard (2011) and its "
    "Technical Guidance for Calculating Scope 3 Emissions (2013); GRI 305: Emissions 2016, disclosure "
    "305-3; 企业可持续披露准则——气候 (Ministry of Finance of the PRC); ISO 14064-1:2018 for the "
    "indirect-emission categories; verification expected per ISO 14064-3:2019."
)


def _t(grams: int) -> str:
    return f"{scope3.grams_to_t(grams):.3f}"


def build(doc: dict[str, Any], closes: list[dict[str, Any]]) -> dict[str, Any]:
    """The disclosure document for one summary view (park or company)."""
    totals = doc["totals"]
    if totals.get("withheld"):
        return {
            "title_en": "Scope 3 greenhouse gas emissions disclosure: categories 5, 6 and 7",
            "title_zh": "范围三温室气体排放披露：类别5、6、7",
            "entity": doc["scope"]["company"] or "park (all companies)",
            "period": doc["period"],
            "status": doc["status"],
            "withheld": True,
            "privacy": totals["privacy"],
        }
    cats = [c for c in totals["inventory"]["categories"] if c["category"] in CATEGORIES]
    total_g = sum(c["co2e_g"] for c in cats)
    methodology = doc["methodology"]
    restatements = [c for c in closes if c["period"] == doc["period"]["label"]]
    return {
        "title_en": "Scope 3 greenhouse gas emissions disclosure: categories 5, 6 and 7",
        "title_zh": "范围三温室气体排放披露：类别5、6、7",
        "entity": doc["scope"]["company"] or "park (all companies)",
        "period": doc["period"],
        "status": doc["status"],
        "close": doc.get("close"),
        "as_of_tree_size": doc["as_of_tree_size"],
        "computed_at": doc["computed_at"],
        "gross": {
            "categories": [
                {
                    "category": c["category"],
                    "name_en": c["name_en"],
                    "name_zh": c["name_zh"],
                    "method_en": c["method_en"],
                    "method_zh": c["method_zh"],
                    "records": c["records"],
                    "co2e_g": c["co2e_g"],
                    "co2e_t": _t(c["co2e_g"]),
                    "pending_review_g": c.get("pending_review", {}).get("co2e_g", 0),
                }
                for c in cats
            ],
            "total_g": total_g,
            "total_t": _t(total_g),
        },
        "gases_en": "CO2, CH4 and N2O, in CO2e on the IPCC AR5 100-year GWP (CH4 28, N2O 265), as the "
        "DEFRA 2025 factors; MEE grid and city factors are CO2 only, counted as CO2e. Each record splits "
        "its figure by gas where the source does (calculation.scope3_by_gas). HFCs, PFCs, SF6 and NF3 do "
        "not arise in these categories.",
        "gases_zh": "CO2、CH4、N2O，按 IPCC 第五次评估报告（AR5）100年全球变暖潜势（CH4 28，N2O 265）"
        "折算为 CO2e（与 DEFRA 2025 一致）；生态环境部电网因子与城市因子仅含 CO2，按 CO2e 计。"
        "每条记录在来源提供时按气体拆分（calculation.scope3_by_gas）。",
        "biogenic_en": "Biogenic CO2 is not included and not quantified separately: the DEFRA waste "
        "factors (cut-off approach) exclude the biogenic CO2 of treatment, and no biofuel use is recorded.",
        "biogenic_zh": "不含生物源 CO2，亦未单独量化：DEFRA 废弃物因子（截断法）不含处理过程的生物源 CO2，"
        "且未记录生物燃料使用。",
        "base_year_en": "No base year is set for these categories yet; the first closed year can become it. "
        "Recalculation follows the restatement records below.",
        "base_year_zh": "上述类别尚未设定基准年；首个关账年度可作为基准年。重新计算见下方重述记录。",
        "consolidation_en": "Operational control: each company's own employees' commuting (7) and business "
        "travel (6), and the office waste they log (5), as recorded in the park's ledger.",
        "consolidation_zh": "运营控制法：各企业本企业员工的通勤（7）、商务差旅（6）"
        "及其记录的办公废弃物（5）。",
        "standards": STANDARDS,
        "methods": methodology["methods"],
        "factor_sets": methodology["factor_sets"],
        "factors": methodology["factors"],
        "data_quality": doc.get("data_quality_factors") or {"by_category": []},
        "gases_by_category": doc.get("gases_by_category"),
        "primary_data": totals["data_quality"],
        "boundary": doc.get("boundary", {}),
        "exclusions_en": "Categories 1–4 and 8–15 are outside this ledger and are not reported here. "
        "Within 5, 6 and 7 only what employees logged (and integrations delivered) is counted; "
        "records are not extrapolated unless the category 7 estimate is shown apart.",
        "exclusions_zh": "类别1–4、8–15不在本账本范围内，此处不披露。类别5、6、7仅计入员工记录"
        "（及集成推送）的数据；除单列的类别7估算外不作外推。",
        "restatements": restatements,
        "avoided": {
            "total_g": totals["avoided"]["total"]["co2e_g"],
            "total_t": _t(totals["avoided"]["total"]["co2e_g"]),
            "note_en": totals["avoided"]["note_en"],
            "note_zh": totals["avoided"]["note_zh"],
        },
        "rounding_en": scope3.ROUNDING_NOTE,
        "rounding_zh": scope3.ROUNDING_NOTE_ZH,
    }


def _gas_table(gases: dict[str, Any] | None) -> list[str | tuple[list[str], list[list[Any]]]]:
    """Per category, grams of CO2e of each gas (a summary closed before the split has none)."""
    if not gases or not gases.get("by_category"):
        return []
    head = [
        "category 类别",
        "g CO2e",
        "CO2 g",
        "CH4 g CO2e",
        "N2O g CO2e",
        "unsplit 未拆分 g",
        "rounding 取整差 g",
    ]
    rows = [
        [c["category"], c["co2e_g"], c["co2_g"], c["ch4_g"], c["n2o_g"], c["unsplit_g"], c["rounding_g"]]
        for c in gases["by_category"]
    ]
    return [(head, rows), gases.get("note_en", ""), gases.get("note_zh", "")]


def _provenance(factor: dict[str, Any]) -> str:
    """Whether the factor's primary document is archived (its SHA-256) or where the value was read."""
    status = factor.get("document_status")
    if status is None:
        return "not stated (set without provenance columns)"
    if factor.get("document_sha256"):
        return f"{status}, sha256 {factor['document_sha256']}"
    return f"{status}: {factor['read_from']}" if factor.get("read_from") else str(status)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def to_pdf(d: dict[str, Any]) -> bytes:
    """The same document as :func:`to_html`, as a PDF (ReportLab)."""
    return disclosure_pdf.render(
        f"{d['title_en']} {d['period']['label']}", f"{d['title_en']} · {d['title_zh']}", sections(d)
    )


def sections(d: dict[str, Any]) -> disclosure_pdf.Sections:
    """The disclosure as (heading, [paragraph or (table head, rows)]) — shared by HTML and PDF."""
    if d.get("withheld"):
        note = d["privacy"]
        return [
            (f"{d['entity']} · {d['period']['label']}: 已隐藏 Withheld", [note["note_zh"], note["note_en"]])
        ]
    gross = d["gross"]
    close = d["close"]
    status = f"{d['status']}" + (
        f", revision {close['revision']} (leaf {close['leaf_index']})" if close else ""
    )
    dq_rows = [
        [
            c["category"],
            *(c["scores"][k] if c["scores"] else "—" for k in scope3_quality_keys()),
            c["share_on_proxies"],
            c["share_on_provisional"],
            f"{_t(c['uncertainty_g']['low'])}–{_t(c['uncertainty_g']['high'])}"
            if c["uncertainty_g"]
            else "—",
        ]
        for c in d["data_quality"]["by_category"]
    ]
    boundary = d["boundary"]
    return [
        (
            "Reporting entity and period · 报告主体与期间",
            [
                f"{d['entity']} · {d['period']['label']} ({d['period']['start']} – {d['period']['end']}, "
                f"{d['period']['timezone']}) · status {status} · transparency log size {d['as_of_tree_size']}"
                f" · computed {d['computed_at']}",
                d["standards"],
            ],
        ),
        (
            "GRI 305-3-a · Gross Scope 3 emissions by category · 范围三排放总量（按类别）",
            [
                (
                    [
                        "category 类别",
                        "name",
                        "名称",
                        "method 方法",
                        "records",
                        "t CO2e",
                        "g CO2e",
                        "pending review g",
                    ],
                    [
                        [
                            c["category"],
                            c["name_en"],
                            c["name_zh"],
                            f"{c['method_en']} / {c['method_zh']}",
                            c["records"],
                            c["co2e_t"],
                            c["co2e_g"],
                            c["pending_review_g"],
                        ]
                        for c in gross["categories"]
                    ]
                    + [["5–7", "Total", "合计", "", "", gross["total_t"], gross["total_g"], ""]],
                ),
                "Flagged records awaiting review are included (pending review column); their avoided "
                "emissions and points wait for the review. 待审核记录的排放已计入（见待审核列）。",
            ],
        ),
        (
            "GRI 305-3-b · Gases and GWP · 气体与全球变暖潜势",
            [d["gases_en"], d["gases_zh"], *_gas_table(d.get("gases_by_category"))],
        ),
        ("GRI 305-3-c · Biogenic CO2 · 生物源二氧化碳", [d["biogenic_en"], d["biogenic_zh"]]),
        (
            "GRI 305-3-d · Categories, methods and boundary · 类别、方法与边界",
            [
                boundary.get("category_5_en", ""),
                boundary.get("category_5_zh", ""),
                boundary.get("company_vehicles_en", ""),
                boundary.get("company_vehicles_zh", ""),
                d["exclusions_en"],
                d["exclusions_zh"],
            ],
        ),
        ("GRI 305-3-e · Base year · 基准年", [d["base_year_en"], d["base_year_zh"]]),
        (
            "GRI 305-3-f · Emission factor sources · 排放因子来源",
            [
                (
                    ["factor set", "sha256", "effective from"],
                    [
                        [s["version"], s.get("sha256", ""), s.get("effective_from", "")]
                        for s in d["factor_sets"]
                    ],
                ),
                (
                    ["factor", "value", "unit", "source", "year", "status", "document", "used for"],
                    [
                        [
                            f["id"],
                            f["value"],
                            f["unit"],
                            f["source"],
                            f["year"],
                            f["status"],
                            _provenance(f),
                            ", ".join(f["used_for"]),
                        ]
                        for f in d["factors"]
                    ],
                ),
            ],
        ),
        ("GRI 305-3-g · Consolidation approach · 合并方法", [d["consolidation_en"], d["consolidation_zh"]]),
        (
            "Data quality and uncertainty · 数据质量与不确定性",
            [
                (
                    [
                        "category",
                        "technology",
                        "time",
                        "geography",
                        "completeness",
                        "reliability",
                        "share on proxies",
                        "share provisional",
                        "range t CO2e",
                    ],
                    dq_rows,
                ),
                d["data_quality"].get("note_en", ""),
                d["data_quality"].get("note_zh", ""),
                _primary(d["primary_data"]),
            ],
        ),
        (
            "Restatements · 重述",
            [
                (
                    ["revision", "kind", "reason", "closed at", "leaf"],
                    [
                        [r["revision"], r["kind"], r["reason"] or "", r["closed_at"], r["leaf_index"]]
                        for r in d["restatements"]
                    ],
                )
                if d["restatements"]
                else "No close or restatement of this period yet. 本期尚无关账或重述记录。"
            ],
        ),
        (
            "Avoided emissions (memo, not netted) · 减排量（备忘，不抵扣）",
            [
                f"{d['avoided']['total_t']} t CO2e ({d['avoided']['total_g']} g)",
                d["avoided"]["note_en"],
                d["avoided"]["note_zh"],
                boundary.get("avoided_en", ""),
                boundary.get("avoided_zh", ""),
            ],
        ),
        ("Rounding · 取整", [d["rounding_en"], d["rounding_zh"]]),
    ]


def _primary(quality: dict[str, Any]) -> str:
    return (
        f"Primary data (integrations): {quality.get('primary_data_share_mass')} of the mass, "
        f"{quality.get('primary_data_share_records')} of the records; employees reporting "
        f"{quality.get('employees_reporting')}. 一手数据（集成）占比见左。"
    )


def scope3_quality_keys() -> tuple[str, ...]:
    return ("technology", "time", "geography", "completeness", "reliability")


def to_html(d: dict[str, Any]) -> str:
    parts = [
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(d['title_en'])} · {escape(d['period']['label'])}</title>",
        "<style>body{font-family:system-ui,'Noto Sans SC',sans-serif;margin:2rem;max-width:70rem}"
        "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #999;padding:.2rem .4rem;"
        "font-size:.85rem;text-align:left}h2{margin-top:1.5rem}</style></head><body>",
        f"<h1>{escape(d['title_en'])}<br>{escape(d['title_zh'])}</h1>",
    ]
    for heading, blocks in sections(d):
        parts.append(f"<h2>{escape(heading)}</h2>")
        for block in blocks:
            if isinstance(block, tuple):
                parts.append(_table(*block))
            elif block:
                parts.append(f"<p>{escape(block)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
