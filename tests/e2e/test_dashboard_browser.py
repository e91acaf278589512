"""The dashboard in a real headless Chromium (Debian's), at desktop size and at a 390 px phone,
against a running `carbon-ledger serve` seeded with `carbon-ledger demo seed`: every figure it
shows matches the API (and is shown in t, kg or g at a readable precision), companies and activity
types by their names, a period picked from lists, trends against the previous period, the park's
target, the category kept in the explanation, both languages, human words for bad tokens, and a
layout that fits the phone (the full-page screenshot is exactly as wide as the phone).

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``make browser-deps``): skipped
with the reason when they are missing locally, a failure when ``CI`` is set.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from backend.entrypoints.cli import demo_park
from tests.e2e.browserkit import (
    DESKTOP,
    PHONE,
    by_testid,
    chromium,
    overflowing,
    page_width,
    screenshot,
    wait_for,
)
from tests.e2e.conftest import LedgerServer

pytestmark = pytest.mark.anvil

NAMES = {company: (name, name_zh) for company, name, name_zh, _ in demo_park.COMPANIES}
"""The demo seed names its companies in English and Chinese."""
TARGET_KG = 250_000
SOLO = tuple(f"zz-solo-{i}" for i in range(5))


def mass(grams: int) -> str:
    """The dashboard's rule (backend/api/static/app.js ``mass``), rounding half away from zero as
    JavaScript's number formatting does."""
    size = abs(grams)
    value, unit = (grams / 1e6, "t") if size >= 1e6 else (grams / 1e3, "kg") if size >= 1e3 else (grams, "g")
    digits = 0 if unit == "g" or abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    rounded = Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{digits}f} {unit}"


def test_mass_precision() -> None:
    cases = {0: "0 g", 999: "999 g", 1000: "1.00 kg", 12_345: "12.3 kg", 579: "579 g", 1125: "1.13 kg"}
    cases |= {123_456: "123 kg", 1_000_000: "1.00 t", 12_345_678: "12.3 t", 178_000_000_000: "178,000 t"}
    assert {g: mass(g) for g in cases} == cases


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _category(block: dict[str, Any], number: int) -> dict[str, Any]:
    return next(c for c in block["inventory"]["categories"] if c["category"] == number)


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the IHDR chunk
    return width, height


def _open(driver: Any, url: str) -> None:
    driver.get(url)
    _wait_loaded(driver)


def _wait_loaded(driver: Any) -> None:
    state = wait_for(
        "the dashboard",
        lambda: driver.execute_script("return document.body.dataset.loaded") in ("true", "error"),
    )
    assert state, "unreachable"
    if driver.execute_script("return document.body.dataset.loaded") == "error":
        raise AssertionError("dashboard failed: " + by_testid(driver, "message").text)


def _card_rows(driver: Any) -> int:
    """How many rows the six cards take (each distinct top edge is a row)."""
    tops = driver.execute_script(
        "return [...document.querySelectorAll('.cards .card')]"
        ".map((c) => Math.round(c.getBoundingClientRect().top))"
    )
    return len(set(tops))


class Park:
    """A served, seeded park with named companies and a target, and the API's own figures."""

    def __init__(self, server: LedgerServer) -> None:
        self.server = server
        seeded = server.cli("demo", "seed", "--months", "4", "--scale", "0.25", "--no-close")
        assert "activities recorded" in seeded.stdout, seeded.stdout + seeded.stderr
        operator = server.token("operator", "op-1", "")
        self.manager = server.token("park_manager", "pm-1", "")
        now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai"))
        self.year = now.year
        self.quarter = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
        self.previous_quarter = (
            f"{now.year - 1}-Q4"
            if self.quarter.endswith("Q1")
            else f"{now.year}-Q{int(self.quarter[-1]) - 1}"
        )
        with httpx.Client(base_url=server.url, timeout=60) as http:
            # Five companies of one reporting employee each: withheld (together they are five, so
            # no seeded company has to be withheld to protect them).
            trip = {"type": "metro", "occurred_at": datetime.now(UTC).isoformat(), "distance_km": 7}
            for company in SOLO:
                token = server.token("employee", f"{company}-1", company)
                headers = {**_auth(token), "Idempotency-Key": company}
                assert http.post("/mp/v1/activities", json=trip, headers=headers).status_code == 201
            put = http.put(
                f"/api/v1/scope3/targets/{self.year}", json={"co2e_kg": TARGET_KG}, headers=_auth(operator)
            )
            assert put.status_code == 200
            self.summary = self.get(http, "/api/v1/scope3/summary", period=self.quarter)
            self.before = self.get(http, "/api/v1/scope3/summary", period=self.previous_quarter)
            self.targets = self.get(http, "/api/v1/scope3/targets", period=self.quarter)

    def get(self, http: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
        answer = http.get(path, params=params, headers=_auth(self.manager))
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data

    def url(self, **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.server.url}/dashboard?{query}"


def _check_figures(driver: Any, park: Park) -> None:
    totals = park.summary["totals"]
    total = by_testid(driver, "total")
    assert int(total.get_attribute("data-g")) == totals["inventory"]["total"]["co2e_g"]
    assert total.text == mass(totals["inventory"]["total"]["co2e_g"])
    assert total.get_attribute("title") == f"{totals['inventory']['total']['co2e_g']:,} g CO2e"
    for number in (5, 6, 7):
        assert by_testid(driver, f"cat-{number}").text == mass(_category(totals, number)["co2e_g"])
    assert by_testid(driver, "avoided").text == mass(totals["avoided"]["total"]["co2e_g"])
    withheld = [b["company"] for b in park.summary["companies"] if b.get("withheld")]
    assert withheld == list(SOLO)
    for company in withheld:
        assert by_testid(driver, f"company-{company}-withheld").text in ("withheld", "已隐藏")
    for block in park.summary["companies"]:
        if block.get("withheld"):
            continue
        for number in (5, 6, 7):
            cell = by_testid(driver, f"company-{block['company']}-cat-{number}")
            assert int(cell.get_attribute("data-g")) == _category(block, number)["co2e_g"]


def test_dashboard_at_desktop_and_phone_size(tmp_path: Path) -> None:
    server = LedgerServer(tmp_path / "var")
    server.start()
    try:
        park = Park(server)
        totals = park.summary["totals"]
        assert totals["inventory"]["total"]["records"] > 10  # the seed is there
        assert park.summary["companies"] and park.before["totals"]["inventory"]["total"]["co2e_g"] > 0

        with chromium(DESKTOP) as desk:
            _open(desk, park.url(period=park.quarter, token=park.manager))
            assert "token=" not in desk.current_url  # taken into sessionStorage, off the address bar
            assert desk.execute_script("return sessionStorage.getItem('carbonLedgerToken')") == park.manager
            # The period comes back in the pickers, not a text box.
            assert by_testid(desk, "period-kind").get_attribute("value") == "quarter"
            assert by_testid(desk, "period-part").get_attribute("value") == park.quarter[-1]
            _check_figures(desk, park)
            share = totals["data_quality"]["reporting_share"]
            assert share is not None  # the seed sets every company's headcount
            assert by_testid(desk, "reporting-share").text == f"{share * 100:.1f} %"

            # Names, not ids: the table, the company picker and the activity-type chart.
            for company, (name, _zh) in NAMES.items():
                if any(b["company"] == company for b in park.summary["companies"]):
                    assert by_testid(desk, f"company-{company}-name").text == name
            type_labels = desk.execute_script("return Chart.getChart('chart-types').data.labels")
            assert type_labels and not set(type_labels) & {"metro", "bus", "bike_shared", "walk"}, type_labels
            assert set(type_labels) & {"Metro", "Bus", "Shared bike", "Walking", "Bicycle"}

            # Trend against the previous quarter and the target, pro rata.
            now_g = totals["inventory"]["total"]["co2e_g"]
            before_g = park.before["totals"]["inventory"]["total"]["co2e_g"]
            trend = by_testid(desk, "trend-total")
            assert float(trend.get_attribute("data-change")) == pytest.approx(
                (now_g - before_g) / before_g, abs=1e-4
            )
            assert park.previous_quarter in trend.text and mass(before_g) in trend.text
            (whole,) = park.targets["targets"]
            assert whole["year_co2e_g"] == TARGET_KG * 1000
            target = by_testid(desk, "target-total")
            assert target.is_displayed() and mass(whole["co2e_g"]) in target.text
            assert f"{now_g / whole['co2e_g'] * 100:.1f} %" in target.text

            # The cat-7 figure explains category 7 only.
            by_testid(desk, "cat-7").click()
            body = by_testid(desk, "explain-body")
            wait_for("the explanation", lambda: "category=7" in body.text)
            cat7_g = _category(totals, 7)["co2e_g"]
            assert desk.find_element("css selector", "#explain-body td[data-g]").get_attribute(
                "data-g"
            ) == str(cat7_g)
            assert "Distance-based method" in body.text
            desk.find_element("id", "explain-close").click()
            assert _card_rows(desk) <= 2 and page_width(desk) <= DESKTOP[0]
            screenshot(desk, tmp_path, "dashboard-desktop-en.png", full_page=True)

            # 中文: the words, the names and the figures' units stay; nothing English in the cards.
            by_testid(desk, "lang").click()
            _wait_loaded(desk)
            wait_for(
                "Chinese", lambda: desk.find_element("css selector", "h1").text == "碳账本 · 范围三仪表盘"
            )
            assert by_testid(desk, "company-green-logistics-name").text == "绿色物流"
            assert (
                "较" in by_testid(desk, "trend-total").text and "目标" in by_testid(desk, "target-total").text
            )
            cards = desk.find_element("css selector", ".cards").text
            assert "Scope" not in cards and "Cat." not in cards and "records" not in cards, cards
            screenshot(desk, tmp_path, "dashboard-desktop-zh.png", full_page=True)
            by_testid(desk, "lang").click()
            _wait_loaded(desk)

            # Picking a year from the lists loads the year.
            from selenium.webdriver.support.ui import Select

            Select(by_testid(desk, "period-kind")).select_by_value("year")
            _wait_loaded(desk)
            wait_for(
                "the year", lambda: f"period={park.year}" in desk.current_url and "Q" not in desk.current_url
            )
            year = httpx.get(
                f"{server.url}/api/v1/scope3/summary",
                params={"period": str(park.year)},
                headers=_auth(park.manager),
                timeout=60,
            ).json()
            wait_for(
                "the year's total",
                lambda: (
                    by_testid(desk, "total").get_attribute("data-g")
                    == str(year["totals"]["inventory"]["total"]["co2e_g"])
                ),
            )

            # Bad tokens get words a person understands, not the decoder's.
            desk.execute_script("sessionStorage.setItem('carbonLedgerToken', 'not-a-token')")
            _open_error(desk, park.url(period=park.quarter))
            message = by_testid(desk, "message").text
            assert "not valid or has expired" in message and "segment" not in message.lower(), message
            employee = server.token("employee", "emp-1", "sunrise-electronics")
            desk.execute_script("sessionStorage.setItem('carbonLedgerToken', arguments[0])", employee)
            _open_error(desk, park.url(period=park.quarter))
            assert "park manager" in by_testid(desk, "message").text

            # A company admin sees their own company only, departments included, no park target.
            company = park.summary["companies"][0]["company"]
            admin = server.token("company_admin", "ca-1", company)
            desk.execute_script("sessionStorage.setItem('carbonLedgerToken', arguments[0])", admin)
            _open(desk, park.url(period=park.quarter))
            options = desk.find_elements("css selector", "#company option")
            assert [o.get_attribute("value") for o in options] == [company]
            own = park.summary["companies"][0]
            assert by_testid(desk, "total").get_attribute("data-g") == str(
                own["inventory"]["total"]["co2e_g"]
            )
            assert desk.find_element("id", "departments-section").is_displayed()
            assert not by_testid(desk, "target-total").is_displayed()

        with chromium(PHONE, mobile=True) as phone:
            _open(phone, park.url(period=park.quarter, token=park.manager))
            _check_figures(phone, park)
            assert page_width(phone) == PHONE[0], overflowing(phone)
            assert not overflowing(phone)
            assert _card_rows(phone) >= 4  # two cards a row at most
            canvases = phone.execute_script(
                "return [...document.querySelectorAll('canvas')].map((c) => c.getBoundingClientRect().right)"
            )
            assert canvases and max(canvases) <= PHONE[0]
            shot = screenshot(phone, tmp_path, "dashboard-phone-en.png", full_page=True)
            width, height = _png_size(shot)
            assert width == PHONE[0] and height > PHONE[1]  # the whole page, no wider than the phone
            by_testid(phone, "lang").click()
            _wait_loaded(phone)
            assert page_width(phone) == PHONE[0], overflowing(phone)
            shot = screenshot(phone, tmp_path, "dashboard-phone-zh.png", full_page=True)
            assert _png_size(shot)[0] == PHONE[0]
    finally:
        server.stop()


def _open_error(driver: Any, url: str) -> None:
    driver.get(url)
    wait_for("the error", lambda: driver.execute_script("return document.body.dataset.loaded") == "error")
