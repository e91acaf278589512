"""PDF rendering of the Scope 3 disclosure with ReportLab. Chinese is set in ReportLab's built-in
Adobe CID font STSong-Light (UniGB-UCS2-H): no font file is shipped or downloaded, and PDF readers
map it to their Simplified Chinese serif (the text stays extractable)."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=15, leading=20, spaceAfter=6)
_HEADING = ParagraphStyle("heading", fontName=FONT, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=4)
_BODY = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11.5, spaceAfter=3)
_CELL = ParagraphStyle("cell", fontName=FONT, fontSize=7, leading=9)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(head: list[str], rows: list[list[Any]]) -> Table:
    data = [[Paragraph(_escape(str(v)), _CELL) for v in row] for row in [head, *rows]]
    table = Table(data, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


Sections = list[tuple[str, list[str | tuple[list[str], list[list[Any]]]]]]
"""(heading, [paragraph or (table head, rows)]), as the disclosure service lays them out."""


def render(title: str, heading: str, sections: Sections) -> bytes:
    """The disclosure's sections as a landscape A4 PDF; ``title`` is the document's metadata title."""
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=title,
        author="Carbon Ledger",
    )
    story: list[Any] = [Paragraph(_escape(heading), _TITLE)]
    for section, blocks in sections:
        story.append(Paragraph(_escape(section), _HEADING))
        for block in blocks:
            if isinstance(block, tuple):
                story.append(_table(*block))
                story.append(Spacer(1, 3))
            elif block:
                story.append(Paragraph(_escape(block), _BODY))
    document.build(story)
    return out.getvalue()
