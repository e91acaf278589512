"""The API documentation in a real headless Chromium with every host name unresolvable (offline):
Swagger UI at /docs and ReDoc at /redoc render the operations, and every file they load came from
this server. ReDoc's footer names its makers' logo on their site: the pages' Content-Security-Policy
blocks that request before it leaves the browser, which the test checks too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.adapters.database import Database
from tests.e2e.browserkit import DESKTOP, chromium, screenshot, wait_for
from tests.integration.api_harness import Api
from tests.integration.ops_support import serving

WATCH_POLICY = """
window.blockedByPolicy = [];
document.addEventListener('securitypolicyviolation',
  (event) => window.blockedByPolicy.push(event.blockedURI));
"""


def _outside_requests(driver: Any, base: str) -> list[str]:
    """Files the page asked for elsewhere than ``base`` and the browser did not block itself."""
    names: list[str] = driver.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name)"
    )
    blocked = set(driver.execute_script("return window.blockedByPolicy"))
    return [name for name in names if not name.startswith(base + "/") and name not in blocked]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_docs_render_offline_from_local_files(db: Database, tmp_path: Path) -> None:
    api = Api(db, tmp_path)
    with serving(api.app) as client, chromium(DESKTOP, offline=True) as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_POLICY})
        base = str(client.base_url).rstrip("/")
        operations = sum(len(ops) for ops in client.get("/openapi.json").json()["paths"].values())
        driver.get(f"{base}/docs")
        shown = wait_for(
            "Swagger UI to list the operations",
            lambda: len(driver.find_elements("css selector", ".opblock")) >= operations and True,
        )
        assert shown
        assert "Problem" in driver.find_element("css selector", ".models").text
        assert not _outside_requests(driver, base)
        screenshot(driver, tmp_path, "docs-offline.png")

        driver.get(f"{base}/redoc")
        wait_for(
            "ReDoc to render the operations",
            lambda: "Record a low-carbon activity" in driver.find_element("css selector", "body").text,
        )
        assert not _outside_requests(driver, base)
        screenshot(driver, tmp_path, "redoc-offline.png")
