"""The dashboard in a real headless Chromium (Debian's), against a running `carbon-ledger serve`
seeded with `carbon-ledger demo seed`: the page loads, shows the seeded figures, and every figure
it shows matches the API.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them): skipped
with the reason when they are missing locally, a failure when ``CI`` is set.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.conftest import LedgerServer

pytestmark = pytest.mark.anvil

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,2000",
)
LOAD_TIMEOUT_S = 30


def _missing_browser() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} is missing: apt-get install -y chromium chromium-driver"
    return None


@pytest.fixture
def browser() -> Iterator[Any]:
    problem = _missing_browser()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _kg(grams: int) -> str:
    return f"{grams / 1000:,.3f}"


def _wait_loaded(driver: Any) -> None:
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        state = driver.find_element("tag name", "body").get_attribute("data-loaded")
        if state == "true":
            return
        if state == "error":
            raise AssertionError("dashboard failed: " + driver.find_element("id", "message").text)
        time.sleep(0.1)
    raise AssertionError("dashboard did not load within 30 s")


def _screenshot(driver: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    keep = os.environ.get("CARBON_TEST_SCREENSHOT_DIR")
    if keep:
        shutil.copy(path, Path(keep) / name)


def _by_testid(driver: Any, testid: str) -> Any:
    return driver.find_element("css selector", f'[data-testid="{testid}"]')


def _category(block: dict[str, Any], number: int) -> dict[str, Any]:
    return next(c for c in block["inventory"]["categories"] if c["category"] == number)


def test_dashboard_shows_the_seeded_figures_as_the_api_does(tmp_path: Path, browser: Any) -> None:
    server = LedgerServer(tmp_path / "var")
    server.start()
    try:
        seeded = server.cli("demo", "seed", "--months", "2", "--scale", "0.25", "--no-close")
        assert "activities recorded" in seeded.stdout, seeded.stdout + seeded.stderr
        again = server.cli("demo", "seed", "--months", "2", "--scale", "0.25", "--no-close")
        assert " 0 activities recorded" in again.stdout, again.stdout  # same keys: nothing twice
        manager = server.token("park_manager", "pm-1", "")
        year = str(datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).year)
        api = httpx.get(
            f"{server.url}/api/v1/scope3/summary",
            params={"period": year},
            headers={"Authorization": f"Bearer {manager}"},
            timeout=30,
        ).json()
        totals = api["totals"]
        assert totals["inventory"]["total"]["records"] > 100  # the seed is there

        browser.get(f"{server.url}/dashboard?period={year}&token={manager}")
        _wait_loaded(browser)
        _screenshot(browser, tmp_path, "dashboard-park.png")
        assert "token=" not in browser.current_url  # taken into sessionStorage, off the address bar
        assert browser.execute_script("return sessionStorage.getItem('carbonLedgerToken')") == manager

        total = _by_testid(browser, "total-kg")
        assert int(total.get_attribute("data-g")) == totals["inventory"]["total"]["co2e_g"]
        assert total.text == _kg(totals["inventory"]["total"]["co2e_g"])
        assert _by_testid(browser, "total-t").text == f"{totals['inventory']['total']['co2e_t']:,.3f}"
        for number in (5, 6, 7):
            shown = _by_testid(browser, f"cat-{number}-kg")
            assert shown.text == _kg(_category(totals, number)["co2e_g"])
        assert _by_testid(browser, "avoided-kg").text == _kg(totals["avoided"]["total"]["co2e_g"])
        share = totals["data_quality"]["reporting_share"]
        assert _by_testid(browser, "reporting-share").text == f"{share * 100:.1f} %"
        assert api["companies"], "the seed has companies"
        for block in api["companies"]:
            for number in (5, 6, 7):
                cell = _by_testid(browser, f"company-{block['company']}-cat-{number}")
                assert cell.text == _kg(_category(block, number)["co2e_g"])
        assert "Anchoring" in _by_testid(browser, "anchoring").text

        # Every total links to how it was computed: the panel shows the same figure.
        _by_testid(browser, "cat-7-kg").click()
        deadline = time.monotonic() + 10
        body = browser.find_element("id", "explain-body")
        while "rail.metro.cn-beijing" not in body.text and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _kg(_category(totals, 7)["co2e_g"]) in body.text and "Distance-based method" in body.text
        _screenshot(browser, tmp_path, "dashboard-explain.png")

        # A company admin sees their own company only, departments included.
        company = api["companies"][0]["company"]
        admin = server.token("company_admin", "ca-1", company)
        browser.execute_script("sessionStorage.setItem('carbonLedgerToken', arguments[0])", admin)
        browser.get(f"{server.url}/dashboard?period={year}")
        _wait_loaded(browser)
        options = browser.find_elements("css selector", "#company option")
        assert [o.get_attribute("value") for o in options] == [company]
        own = api["companies"][0]
        assert _by_testid(browser, "total-kg").text == _kg(own["inventory"]["total"]["co2e_g"])
        assert browser.find_element("id", "departments-section").is_displayed()
        _screenshot(browser, tmp_path, "dashboard-company.png")
    finally:
        server.stop()
