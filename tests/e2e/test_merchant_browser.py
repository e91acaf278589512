"""The merchant's till page in a real headless Chromium at a 390 px phone, against a real HTTP server:
a merchant account signs in, a scanned voucher (its QR text, as the camera would read it) is
checked against the park's signature in the browser, looked up and marked used once; a forged QR
text is refused before the server is asked; the page switches between Chinese and English and
fits the phone (the full-page screenshot is exactly as wide as the phone).

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``make browser-deps``).
"""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.adapters.database import Database
from backend.domain.points import vouchers as rules
from backend.services.identity import enrollment, staff
from tests.e2e.browserkit import PHONE, by_testid, chromium, overflowing, screenshot, wait_for
from tests.integration.api_harness import Api, fast_password_hashing
from tests.integration.ops_support import serving


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def _asked_about(driver: Any, code: str) -> list[str]:
    names: list[str] = driver.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name)"
    )
    return [name for name in names if "/api/v1/vouchers/" in name and code in name]


def _look_up(driver: Any, text: str) -> None:
    field = by_testid(driver, "code")
    field.clear()
    field.send_keys(text)
    by_testid(driver, "lookup").click()


def _state(driver: Any) -> str | None:
    if by_testid(driver, "voucher").get_attribute("hidden") is not None:
        return None
    value: str | None = by_testid(driver, "voucher-state").get_attribute("data-state")
    return value


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_merchant_page_at_phone_size(db: Database, tmp_path: Path) -> None:
    api = Api(db, tmp_path)
    enrollment.create_company(db, "canteen", "Park canteen", datetime.now(UTC))
    with serving(api.app) as client:
        operator = {**api.auth("operator", "op-1"), "Idempotency-Key": str(uuid.uuid4())}
        reward = client.post(
            "/api/v1/rewards",
            headers=operator,
            json={"name": "Canteen lunch", "name_zh": "食堂午餐", "price_points": 20, "stock": 5,
                  "merchant": "canteen", "description": "一份套餐 / one set lunch"},
        ).json()  # fmt: skip
        employee = api.auth("employee", "emp-till", "acme")
        trip = {
            "type": "metro",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "distance_km": 12.4,
        }
        assert (
            client.post(
                "/mp/v1/activities", json=trip, headers={**employee, "Idempotency-Key": str(uuid.uuid4())}
            ).status_code
            == 201
        )
        redemption = client.post(
            "/mp/v1/redemptions",
            json={"reward_id": reward["id"]},
            headers={**employee, "Idempotency-Key": str(uuid.uuid4())},
        ).json()
        code = redemption["voucher_code"]
        signed = rules.signed_text(code, datetime.fromisoformat(redemption["expires_at"]))
        scanned = f"{signed}.{api.runtime.voucher_signer.sign(signed)}"  # what the QR code carries
        base = str(client.base_url).rstrip("/")
        with fast_password_hashing():
            staff.create_staff(
                db, "canteen-till", "correct horse battery", "merchant", "canteen", datetime.now(UTC)
            )

        with chromium(PHONE, mobile=True) as driver:
            driver.get(f"{base}/merchant")
            driver.execute_script("localStorage.setItem('carbon-ledger.merchant.lang', 'zh')")
            driver.get(f"{base}/merchant")
            wait_for("the sign-in form", lambda: by_testid(driver, "username").is_displayed())
            by_testid(driver, "username").send_keys("canteen-till")
            by_testid(driver, "password").send_keys("correct horse battery")
            with fast_password_hashing():
                by_testid(driver, "signin").click()
                wait_for("the till", lambda: driver.find_element("id", "till").is_displayed())

            _look_up(driver, scanned)
            wait_for("the voucher to be usable", lambda: _state(driver) == "usable")
            assert by_testid(driver, "reward-name").text == "食堂午餐"
            assert by_testid(driver, "voucher-code").text == code
            assert "签名有效" in by_testid(driver, "signature").text
            usable = screenshot(driver, tmp_path, "merchant-phone-usable.png", full_page=True)
            assert _png_size(usable)[0] == PHONE[0], overflowing(driver)

            by_testid(driver, "use").click()
            wait_for("the voucher to be used", lambda: _state(driver) == "used")
            assert code in by_testid(driver, "message").text
            assert not by_testid(driver, "use").is_enabled()
            used = screenshot(driver, tmp_path, "merchant-phone-used.png", full_page=True)
            assert _png_size(used)[0] == PHONE[0], overflowing(driver)
            assert used.read_bytes() != usable.read_bytes()

            # The same voucher again: the server refuses a second use.
            _look_up(driver, code.lower())
            wait_for("the refusal", lambda: by_testid(driver, "refusal").text)
            assert _state(driver) == "used" and not by_testid(driver, "use").is_enabled()

            # A forged QR text (another code under the genuine signature) is refused in the browser.
            forged_code = "CL-ZZZZ" + code[7:]
            forged = scanned.replace(code, forged_code)
            _look_up(driver, forged)
            wait_for("the forgery to be refused", lambda: _state(driver) == "forged")
            assert "签名无效" in by_testid(driver, "signature").text
            assert not by_testid(driver, "use").is_enabled()
            assert not _asked_about(driver, forged_code), "the server must not be asked about a forgery"

            by_testid(driver, "lang").click()
            wait_for("English", lambda: driver.find_element("css selector", "h1").text == "Voucher till")
            assert "forged" in by_testid(driver, "signature").text.lower()
            english = screenshot(driver, tmp_path, "merchant-phone-en.png", full_page=True)
            assert _png_size(english)[0] == PHONE[0], overflowing(driver)

        fetched = client.get(f"/api/v1/vouchers/{code}", headers=api.auth("merchant", "till-2", "canteen"))
        assert fetched.json()["state"] == "used" and fetched.json()["leaf_index"] is not None
