"""The Scope 3 and dashboard routes over HTTP (FastAPI's test client, real database, no chain)."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
import uvicorn

from backend.adapters.anvil import free_port
from backend.adapters.database import Database
from backend.api.app import create_app
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import DEV_TOKEN_SECRET, Settings
from backend.entrypoints.cli.main import main
from backend.services.identity import enrollment
from backend.services.identity.tokens import issue_token
from backend.services.recording.activities import Caller, record_activity
from tests.waiting import wait_for

SUMMARY = "/api/v1/scope3/summary"
LAST_DAY_OF_2026_1 = datetime(2026, 12, 30, 4, tzinfo=UTC)
"""Noon on 30 December 2026 in the park (UTC+8): the 2027.1 set takes effect on 1 January."""


class Client(httpx.Client):
    period: str


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[Client]:
    """The app served by a real uvicorn in a thread (no chain, no scheduler)."""
    # no points: one leaf per activity keeps the expected log size easy to state
    settings = Settings(
        data_dir=tmp_path,
        scheduler_enabled=False,
        min_group_size=2,
        points_per_kg_avoided=0,
        baseline="petrol_car_solo",  # the figures below are computed against the solo petrol car
    )
    runtime = Runtime(settings=settings, db=db, chain=None, target=None, subject_key=b"k" * 32)
    now = datetime.now(UTC)
    # A past month (always closable), and within the 2026.1 set, whose factors the figures below
    # are: from 2027-02-10 on, forty days ago falls under the 2027.1 set.
    when = min(now - timedelta(days=40), LAST_DAY_OF_2026_1)
    enrollment.create_company(db, "acme", "Acme Tools", now, name_zh="艾克米工具")  # headcounts need it
    people = [("acme", "eng"), ("acme", "eng"), ("acme", "ops"), ("globex", "hq"), ("initech", "hq")]
    for i, (org, dept) in enumerate(people):
        payload = {"type": "metro", "occurred_at": when.isoformat(), "distance_km": "10"}
        record_activity(db, Caller(f"e-{i}", org, dept), f"key-api-{i:04d}", payload, when, runtime.issuance)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for("uvicorn to start", lambda: server.started, 20, 0.02)
    try:
        with Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            http.period = str(when.astimezone(ZoneInfo(settings.scope3_timezone)).year)
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _auth(role: str, org: str | None = None, subject: str = "staff-1") -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(DEV_TOKEN_SECRET, role, subject, org, 600, kind="dev")}


def test_park_manager_sees_every_company(client: Client) -> None:
    period = client.period
    response = client.get(SUMMARY, params={"period": period}, headers=_auth("park_manager"))
    assert response.status_code == 200, response.text
    doc = response.json()
    assert [b["company"] for b in doc["companies"]] == ["acme", "globex", "initech"]
    assert doc["totals"]["inventory"]["total"]["co2e_g"] == 5 * 614
    assert doc["totals"]["avoided"]["total"]["co2e_g"] == 5 * 1013
    acme, globex, initech = doc["companies"]
    # one reporting employee each: withheld, both (one alone would be the park total minus acme)
    for small in (globex, initech):
        assert small["withheld"] is True and "inventory" not in small and "data_quality" not in small
    # ops (1 < 2) alone would be acme minus eng: eng and ops are shown only combined
    assert [(d["department"], d["employees_reporting"]) for d in acme["departments"]] == [(None, 3)]


def test_company_admin_sees_only_their_company(client: Client) -> None:
    period = client.period
    own = client.get(SUMMARY, params={"period": period}, headers=_auth("company_admin", "acme"))
    assert own.status_code == 200 and own.json()["scope"]["company"] == "acme"
    assert own.json()["totals"]["inventory"]["total"]["co2e_g"] == 3 * 614
    other = client.get(
        SUMMARY, params={"period": period, "company": "globex"}, headers=_auth("company_admin", "acme")
    )
    assert other.status_code == 403 and other.headers["content-type"] == "application/problem+json"
    assert (
        client.get(SUMMARY, params={"period": period}, headers=_auth("employee", "acme")).status_code == 403
    )
    assert client.get(SUMMARY, params={"period": period}).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"), [({"period": "2026-Q5"}, "period"), ({"period": "2026", "category": 4}, "category")]
)
def test_bad_input_names_the_field(client: Client, params: dict[str, object], field: str) -> None:
    response = client.get(SUMMARY, params=params, headers=_auth("park_manager"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def _sheet_rows(workbook: openpyxl.Workbook, title: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in workbook[title].iter_rows(values_only=True)]


def test_xlsx_export_over_the_api_and_the_cli(client: Client, tmp_path: Path) -> None:
    period = client.period
    headers = _auth("park_manager")
    params = {"period": period, "format": "xlsx"}
    as_xlsx = client.get("/api/v1/scope3/export", params=params, headers=headers)
    assert as_xlsx.status_code == 200, as_xlsx.text
    assert as_xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert f'filename="scope3-{period}.xlsx"' in as_xlsx.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(as_xlsx.content))
    assert book.sheetnames == ["汇总 Summary", "明细 Rows", "因子 Factors"]
    summary = _sheet_rows(book, "汇总 Summary")
    assert ("期间 Period", period) in [r[:2] for r in summary]
    shown = client.get(SUMMARY, params={"period": period}, headers=headers).json()
    for c in shown["totals"]["inventory"]["categories"]:
        row = next(r for r in summary if r[0] == c["category"])
        assert row[1:7] == (c["name_zh"], c["name_en"], c["records"], c["co2e_g"], c["co2e_kg"], c["co2e_t"])
    assert next(r for r in summary if r[0] == 7)[3:5] == (5, 5 * 614)
    total = next(r for r in summary if r[0] == "合计 Total")
    assert total[4] == 5 * 614 and total[5] == 3.07  # g exact; kg the API's own value
    rows = _sheet_rows(book, "明细 Rows")
    header, body = rows[0], rows[1:]
    park_total = next(
        dict(zip(header, r, strict=True))
        for r in body
        if r[header.index("level")] == "park"
        and r[header.index("category")] == "total"
        and r[header.index("measure")] == "inventory"
    )
    assert park_total["co2e_g"] == 5 * 614 and isinstance(park_total["co2e_g"], int)
    company, category, grams = (header.index(name) for name in ("company", "category", "co2e_g"))
    acme = [r for r in body if r[company] == "acme" and r[category] == "total"]
    assert acme and acme[0][grams] == 3 * 614
    factors = _sheet_rows(book, "因子 Factors")
    assert any(r[1] == "rail.metro.cn-beijing" for r in factors[1:])

    # The CLI writes the same workbook into the folder it is given, named as the API names it.
    folder = tmp_path / "exports-here"
    token = _auth("company_admin", "acme")["Authorization"].removeprefix("Bearer ")
    code = main(["scope3", "export", "--api", str(client.base_url), "--token", token, "--period", period,
                 "--out", str(folder)])  # fmt: skip
    assert code == 0
    written = folder / f"scope3-{period}-acme.xlsx"
    company_book = openpyxl.load_workbook(written)
    company_total = next(r for r in _sheet_rows(company_book, "汇总 Summary") if r[0] == "合计 Total")
    assert company_total[4] == 3 * 614
    assert main(["scope3", "export", "--api", str(client.base_url), "--token", "bad", "--period", period,
                 "--out", str(folder)]) == 2  # fmt: skip
    assert sorted(p.name for p in folder.iterdir()) == [written.name]


def test_csv_export_starts_with_a_bom(client: Client) -> None:
    as_csv = client.get(
        "/api/v1/scope3/export",
        params={"period": client.period, "format": "csv"},
        headers=_auth("park_manager"),
    )
    assert as_csv.content.startswith(b"\xef\xbb\xbf")


def test_exports_and_report(client: Client) -> None:
    period = client.period
    headers = _auth("park_manager")
    as_csv = client.get("/api/v1/scope3/export", params={"period": period, "format": "csv"}, headers=headers)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    park_total = next(
        r for r in rows if r["level"] == "park" and r["measure"] == "inventory" and r["category"] == "total"
    )
    assert int(park_total["co2e_g"]) == 5 * 614 and park_total["co2e_kg"] == "3.07"
    withheld = [r for r in rows if r["measure"] == "withheld"]
    assert [(r["company"], r["co2e_g"]) for r in withheld] == [("globex", ""), ("initech", "")]
    as_json = client.get(
        "/api/v1/scope3/export", params={"period": period, "format": "json"}, headers=headers
    )
    assert json.loads(as_json.content)["totals"]["inventory"]["total"]["co2e_g"] == 5 * 614
    report = client.get(
        "/api/v1/scope3/report", params={"period": period, "company": "acme"}, headers=headers
    )
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert (
        "方法学 Methodology" in report.text
        and "rail.metro.cn-beijing" in report.text
        and "1.842" in report.text
    )
    # every report states its boundary: category 5 is logged employee waste only
    assert "Category 5 holds only the office waste employees logged" in report.text
    assert "类别5仅包含员工记录的办公废弃物" in report.text and "company-owned vehicles" in report.text
    # the factors' data quality: 2026.1 scores nothing, so its 1,842 g are unscored at ± 50 %:
    # 1,842 × 0.5 = 921 → 0.921–2.763 kg
    assert "Data quality of the factors" in report.text and "0.921–2.763" in report.text


def test_headcount_close_and_explain(client: Client) -> None:
    period = client.period
    put = client.put(
        "/api/v1/scope3/headcounts/acme", json={"headcount": 6}, headers=_auth("company_admin", "acme")
    )
    assert put.status_code == 200
    denied = client.put(
        "/api/v1/scope3/headcounts/globex", json={"headcount": 6}, headers=_auth("company_admin", "acme")
    )
    assert denied.status_code == 403
    bad = client.put("/api/v1/scope3/headcounts/acme", json={"headcount": 0}, headers=_auth("operator"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "headcount"
    doc = client.get(
        SUMMARY,
        params={"period": period, "company": "acme", "extrapolate": "true"},
        headers=_auth("park_manager"),
    ).json()
    assert doc["totals"]["data_quality"]["reporting_share"] == 0.5
    assert doc["totals"]["extrapolation"]["estimate"]["co2e_g"] == 3 * 614

    explain_url = doc["totals"]["inventory"]["categories"][2]["explain_url"]
    explained = client.get(explain_url, headers=_auth("park_manager")).json()
    assert explained["figure"]["inventory"]["co2e_g"] == 3 * 614
    small = client.get(
        "/api/v1/scope3/explain",
        params={"period": period, "company": "acme", "department": "ops"},
        headers=_auth("park_manager"),
    )
    assert small.status_code == 200 and small.json()["withheld"] is True and "figure" not in small.json()

    last_month = (datetime.now(UTC).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert (
        client.post(
            f"/api/v1/scope3/periods/{last_month}/close", headers=_auth("company_admin", "acme")
        ).status_code
        == 403
    )
    closed = client.post(f"/api/v1/scope3/periods/{last_month}/close", headers=_auth("park_manager"))
    assert closed.status_code == 201, closed.text
    again = client.post(f"/api/v1/scope3/periods/{last_month}/close", headers=_auth("park_manager"))
    assert again.status_code == 409
    future = client.post("/api/v1/scope3/periods/2099-01/close", headers=_auth("park_manager"))
    assert future.status_code == 422
    feed = client.get("/api/v1/scope3/feed", headers=_auth("park_manager")).json()
    assert feed["pending"] == 1 and feed["platform_configured"] is False


def test_dashboard_page_and_assets(client: Client) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200 and "范围三仪表盘" in page.text and "Scope 3 dashboard" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from the internet
    assert client.get("/dashboard/static/app.js").status_code == 200
    assert client.get("/dashboard/static/../settings.py").status_code == 404
    chart = client.get("/dashboard/vendor/chart.umd.min.js")
    assert chart.status_code == 200 and "Chart" in chart.text[:2000]
    status = client.get("/api/v1/dashboard/status", headers=_auth("park_manager")).json()
    assert status["anchoring"] == {"configured": False, "log_size": 5} and "feed" in status
    assert "/api/v1/scope3/summary" in client.get("/openapi.json").json()["paths"]


def test_disclosure_as_html_pdf_and_json_shows_the_summary_figures(client: Client) -> None:
    import pypdf

    params = {"period": client.period}
    summary = client.get(SUMMARY, params=params, headers=_auth("park_manager")).json()
    cat7 = next(c for c in summary["totals"]["inventory"]["categories"] if c["category"] == 7)
    disclosure = client.get(
        "/api/v1/scope3/disclosure", params={**params, "format": "json"}, headers=_auth("park_manager")
    ).json()
    gross = {c["category"]: c for c in disclosure["gross"]["categories"]}
    assert sorted(gross) == [5, 6, 7] and gross[7]["co2e_g"] == cat7["co2e_g"] == 5 * 614
    assert disclosure["gross"]["total_g"] == summary["totals"]["inventory"]["total"]["co2e_g"]
    assert "Category 5 holds only" in disclosure["boundary"]["category_5_en"]

    html = client.get("/api/v1/scope3/disclosure", params=params, headers=_auth("park_manager"))
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "GRI 305-3-a" in html.text and f"<td>{5 * 614}</td>" in html.text and "范围三排放总量" in html.text
    # 2026.1 has no provenance columns, and the disclosure says so rather than leave a blank
    assert "not stated (set without provenance columns)" in html.text

    pdf = client.get(
        "/api/v1/scope3/disclosure",
        params={**params, "format": "pdf"},
        headers=_auth("company_admin", "acme"),
    )
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    # the company admin's disclosure: acme's three trips, 3 × 614 = 1842 g = 0.002 t
    assert "acme" in text and "1842" in text and "0.002" in text
    assert "范围三温室气体排放披露" in text and "员工通勤" in text and "GRI 305-3-f" in text
    for factor in disclosure["factors"]:
        assert factor["id"] in text  # every factor behind the figures is named with its source


def test_a_category_view_explains_that_category(client: Client) -> None:
    doc = client.get(
        SUMMARY, params={"period": client.period, "category": 7}, headers=_auth("park_manager")
    ).json()
    total_url = doc["totals"]["inventory"]["total"]["explain_url"]
    assert "category=7" in total_url
    for block in doc["companies"]:
        assert block.get("withheld") or "category=7" in block["inventory"]["total"]["explain_url"]
    explained = client.get(total_url, headers=_auth("park_manager")).json()
    assert explained["filters"]["category"] == 7
    assert explained["figure"]["inventory"]["co2e_g"] == doc["totals"]["inventory"]["total"]["co2e_g"]


def test_one_company_without_a_headcount_leaves_the_park_share_standing(client: Client) -> None:
    client.put("/api/v1/scope3/headcounts/acme", json={"headcount": 6}, headers=_auth("operator"))
    doc = client.get(SUMMARY, params={"period": client.period}, headers=_auth("park_manager")).json()
    quality = doc["totals"]["data_quality"]
    assert quality["reporting_share"] == 0.5  # acme: 3 of 6; globex has no headcount
    assert quality["companies_without_headcount"] == ["globex", "initech"]


def test_park_targets_pro_rata_and_dashboard_names(client: Client) -> None:
    year = int(client.period)
    put = client.put(
        f"/api/v1/scope3/targets/{year}", json={"co2e_kg": 365_000}, headers=_auth("park_manager")
    )
    assert put.status_code == 200 and put.json()["co2e_g"] == 365_000_000
    cat7 = client.put(
        f"/api/v1/scope3/targets/{year}", json={"co2e_kg": 100, "category": 7}, headers=_auth("operator")
    )
    assert cat7.status_code == 200
    again = client.put(
        f"/api/v1/scope3/targets/{year}", json={"co2e_kg": 730_000}, headers=_auth("park_manager")
    )
    assert again.status_code == 200  # replaced, not added
    bad = client.put(f"/api/v1/scope3/targets/{year}", json={"co2e_kg": -1}, headers=_auth("park_manager"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "co2e_kg"
    assert (
        client.put(
            f"/api/v1/scope3/targets/{year}", json={"co2e_kg": 1}, headers=_auth("company_admin", "acme")
        )
    ).status_code == 403
    february = client.get(
        "/api/v1/scope3/targets", params={"period": f"{year}-02"}, headers=_auth("company_admin", "acme")
    ).json()
    days = 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28
    year_days = 366 if days == 29 else 365
    whole, commuting = february["targets"]
    assert whole["category"] is None and whole["year_co2e_g"] == 730_000_000
    assert whole["co2e_g"] == 730_000_000 * days // year_days
    assert commuting["category"] == 7 and commuting["co2e_g"] == 100_000 * days // year_days
    assert february["share_of_year"] == {"days": days, "of_days": year_days}
    none = client.get("/api/v1/scope3/targets", params={"period": "2031"}, headers=_auth("park_manager"))
    assert none.json()["targets"] == []

    client.post(
        "/api/v1/companies",
        json={"id": "acme", "name": "Acme Tools", "name_zh": "艾克米工具"},
        headers=_auth("operator"),
    )
    status = client.get("/api/v1/dashboard/status", headers=_auth("park_manager")).json()
    assert status["labels"]["companies"]["acme"] == {"name_en": "Acme Tools", "name_zh": "艾克米工具"}
    assert status["labels"]["activity_types"]["bike_shared"] == {
        "name_zh": "共享单车",
        "name_en": "Shared bike",
    }
    assert status["labels"]["categories"]["7"]["name_zh"] == "员工通勤"
    own = client.get("/api/v1/dashboard/status", headers=_auth("company_admin", "globex")).json()
    assert own["labels"]["companies"] == {}  # globex has no company record; acme's is not theirs


def test_a_company_with_one_reporting_employee_is_withheld_on_every_surface(client: Client) -> None:
    period = client.period
    manager = _auth("park_manager")
    own = _auth("company_admin", "globex")
    for params, headers in (({"period": period, "company": "globex"}, manager), ({"period": period}, own)):
        for extra in ({}, {"category": 7}, {"extrapolate": "true"}):
            response = client.get(SUMMARY, params={**params, **extra}, headers=headers)
            assert response.status_code == 200, response.text
            totals = response.json()["totals"]
            assert totals["withheld"] is True and set(totals) == {"company", "withheld", "privacy"}
            assert response.json()["companies"] == [totals]
    exported = client.get(
        "/api/v1/scope3/export", params={"period": period, "format": "csv"}, headers=own
    ).content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["company"], r["measure"], r["co2e_g"]) for r in rows] == [("globex", "withheld", "")]
    report = client.get("/api/v1/scope3/report", params={"period": period}, headers=own)
    assert (
        report.status_code == 200 and "已隐藏 Withheld" in report.text and "<td>614</td>" not in report.text
    )
    for fmt in ("json", "html", "pdf"):
        disclosure = client.get(
            "/api/v1/scope3/disclosure", params={"period": period, "format": fmt}, headers=own
        )
        assert disclosure.status_code == 200, disclosure.text
    assert client.get(
        "/api/v1/scope3/disclosure", params={"period": period, "format": "json"}, headers=own
    ).json()["withheld"]
    for explain in ({"company": "globex"}, {"company": "acme", "category": 7, "type": "metro"}):
        explained = client.get(
            "/api/v1/scope3/explain", params={"period": period, **explain}, headers=manager
        )
        assert explained.status_code == 200
        assert explained.json().get("withheld", False) is (explain["company"] == "globex")
