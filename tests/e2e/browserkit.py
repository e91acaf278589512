"""Headless Debian Chromium through chromedriver, for the page tests (dashboard, phone page,
merchant page): a driver at a given window size, waiting on conditions, screenshots kept on request.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``make browser-deps``): the test is
skipped with the reason when they are missing locally, and fails when ``CI`` is set.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests import waiting

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--lang=en-US",
)
DESKTOP = (1400, 1000)
PHONE = (390, 844)
"""An iPhone 12–15's CSS viewport: what "fits a phone" means in these tests."""
WAIT_S = 30.0

T = TypeVar("T")


def require_browser() -> None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            problem = f"{path} is missing: apt-get install -y chromium chromium-driver"
            if os.environ.get("CI"):
                pytest.fail(problem)
            pytest.skip(problem)


@contextmanager
def chromium(size: tuple[int, int] = DESKTOP, mobile: bool = False, offline: bool = False) -> Iterator[Any]:
    """A headless Chromium whose *viewport* is ``size`` CSS pixels (with ``mobile``: emulating a
    phone, touch and a narrow layout viewport, as Chrome's device mode does; with ``offline``: no
    host name resolves, so only pages and files at 127.0.0.1 load)."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    if offline:
        options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        width, height = size
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )
        yield driver
    finally:
        driver.quit()


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = WAIT_S) -> T:
    """Polls ``probe`` until it returns something truthy; fails naming ``what`` otherwise. An element
    not there yet, or replaced while being read (the page re-renders lists), counts as not yet."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    return waiting.wait_for(
        what, probe, timeout_s, not_yet=(NoSuchElementException, StaleElementReferenceException)
    )


def by_testid(driver: Any, testid: str) -> Any:
    return driver.find_element("css selector", f'[data-testid="{testid}"]')


def screenshot(driver: Any, directory: Path, name: str, full_page: bool = False) -> Path:
    """Saves a PNG (the whole page's height with ``full_page``) and, when
    ``CARBON_TEST_SCREENSHOT_DIR`` is set, a copy there to look at."""
    path = directory / name
    if full_page:
        metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics["cssContentSize"]
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))
    else:
        driver.save_screenshot(str(path))
    keep = os.environ.get("CARBON_TEST_SCREENSHOT_DIR")
    if keep:
        shutil.copy(path, Path(keep) / name)
    return path


def page_width(driver: Any) -> int:
    """How wide the page's content is in CSS pixels: wider than the viewport means sideways scrolling."""
    return int(driver.execute_script("return document.documentElement.scrollWidth"))


def overflowing(driver: Any) -> list[str]:
    """What makes a page wider than its viewport (a phone then scrolls sideways or zooms out):
    elements that do not clip their content yet hold content wider than themselves (a long word,
    a wide table), innermost first, named by tag, id, class and test id with both widths."""
    found: list[str] = driver.execute_script(
        """
        const wide = [...document.querySelectorAll('body, body *')].filter((node) =>
          node.scrollWidth > node.clientWidth + 1 && getComputedStyle(node).overflowX === 'visible');
        const inside = (node) => wide.some((other) => other !== node && node.contains(other));
        const innermost = wide.filter((node) => !inside(node));
        return innermost.slice(0, 10).map((node) =>
          `${node.tagName.toLowerCase()}#${node.id}.${node.className}[${node.dataset.testid || ''}] ` +
          `${node.scrollWidth}>${node.clientWidth}: ${node.textContent.slice(0, 60)}`);
        """
    )
    return found
