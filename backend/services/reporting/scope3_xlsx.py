"""The Scope 3 summary as an Excel workbook (openpyxl): a bilingual summary sheet, every row of the
CSV export with typed numbers, and the factors behind the figures. A rendering of the same document
the API, the CSV and the dashboard show, so the workbook's figures are theirs exactly: grams are
whole numbers; kg and t are the document's own values, shown at 3 and 6 decimals."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from backend.services.reporting.scope3_report import CSV_COLUMNS, csv_rows

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SUMMARY_SHEET = "汇总 Summary"
ROWS_SHEET = "明细 Rows"
FACTORS_SHEET = "因子 Factors"
SUMMARY_HEADER = ("类别 Category", "名称", "Name", "记录数 Records", "g CO2e", "kg CO2e", "t CO2e")
FACTOR_COLUMNS = ("factor_set", "id", "value", "unit", "source", "region", "year", "used_for")
NUMBER_FORMATS = {"co2e_g": "#,##0", "co2e_kg": "#,##0.000", "co2e_t": "#,##0.000000", "records": "#,##0"}
AVOIDED_NOTE = "避免排放另行报告，不从清单中扣减。Avoided emissions: reported separately, never subtracted."
_BOLD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="EEF3EE")


def _header(sheet: Worksheet, row: int, values: tuple[str, ...]) -> None:
    for column, value in enumerate(values, start=1):
        cell = sheet.cell(row=row, column=column, value=value)
        cell.font = _BOLD
        cell.fill = _HEAD_FILL


def _summary(sheet: Worksheet, doc: dict[str, Any], generated_at: datetime) -> None:
    scope = doc["scope"]
    who = "园区 Park" if scope["level"] == "park" else f"企业 Company {scope['company']}"
    facts = (
        ("期间 Period", doc["period"]["label"]),
        ("状态 Status", doc["status"]),
        ("范围 Scope", who),
        ("生成时间 Generated (UTC)", generated_at.strftime("%Y-%m-%d %H:%M:%S")),
    )
    sheet.append(["范围三排放汇总 Scope 3 summary"])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in facts:
        sheet.append([label, value])
    sheet.append([])
    start = sheet.max_row + 1
    _header(sheet, start, SUMMARY_HEADER)
    inventory = doc["totals"]["inventory"]
    for c in inventory["categories"]:
        sheet.append(
            [c["category"], c["name_zh"], c["name_en"], c["records"], c["co2e_g"], c["co2e_kg"], c["co2e_t"]]
        )
    total = inventory["total"]
    figures = [total.get("records"), total["co2e_g"], total["co2e_kg"], total["co2e_t"]]
    sheet.append(["合计 Total", "", "", *figures])
    for cell in sheet[sheet.max_row]:
        cell.font = _BOLD
    for row in sheet.iter_rows(min_row=start + 1, min_col=4, max_col=7):
        for cell, fmt in zip(row, ("#,##0", "#,##0", "#,##0.000", "#,##0.000000"), strict=True):
            cell.number_format = fmt
    sheet.append([])
    sheet.append([AVOIDED_NOTE])
    for column, width in zip("ABCDEFG", (26, 16, 28, 14, 14, 14, 14), strict=True):
        sheet.column_dimensions[column].width = width


def _rows(sheet: Worksheet, doc: dict[str, Any]) -> None:
    _header(sheet, 1, CSV_COLUMNS)
    for row in csv_rows(doc):
        sheet.append([row[column] for column in CSV_COLUMNS])
    for index, column in enumerate(CSV_COLUMNS, start=1):
        fmt = NUMBER_FORMATS.get(column)
        if fmt is None:
            continue
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            cell.number_format = fmt
    sheet.freeze_panes = "A2"


def _factors(sheet: Worksheet, doc: dict[str, Any]) -> None:
    _header(sheet, 1, FACTOR_COLUMNS)
    for factor in doc.get("methodology", {}).get("factors", []):
        values = [factor.get(column) for column in FACTOR_COLUMNS]
        values[-1] = ", ".join(factor.get("used_for", []))
        sheet.append(values)
    sheet.column_dimensions["E"].width = 60


def to_xlsx(doc: dict[str, Any], generated_at: datetime) -> bytes:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = SUMMARY_SHEET
    _summary(summary, doc, generated_at)
    _rows(book.create_sheet(ROWS_SHEET), doc)
    _factors(book.create_sheet(FACTORS_SHEET), doc)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
