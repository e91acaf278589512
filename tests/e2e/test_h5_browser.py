"""The employee's phone page (/h5) in a real headless Chromium at phone size, against a running
`carbon-ledger serve` with its Anvil: sign in with an invitation, log a trip, and verify its
receipt in the browser — green when the chain holds the root, red when the server's copy of the log
was forged (even self-consistently), "could not verify" when the chain is out of reach. The page is
the reference client of the mini-program API: the test ends by checking, from the server's access
log, that the page called every /mp/v1 route the permission table knows.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.adapters.anvil import free_port
from backend.api.permissions import RULES
from backend.domain.log import merkle
from backend.services.integrations.integrations import signature_header
from tests.e2e.browserkit import PHONE, by_testid, chromium, overflowing, page_width, screenshot, wait_for
from tests.e2e.conftest import LedgerServer

pytestmark = pytest.mark.anvil

EMPLOYEE_ROUTES = {(m, p) for m, p in RULES if p.startswith("/mp/v1/")}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _card_code(server: LedgerServer, card: str) -> str:
    """A transit gates' operator (registered here) issues a one-time binding code for the card."""
    operator = server.token("operator", "op-1", "")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        source = http.post(
            "/api/v1/integrations/sources",
            json={"id": "gates", "name": "Gates", "kind": "transit_gate", "activity_types": ["metro"]},
            headers=_auth(operator),
        )
        assert source.status_code == 201, source.text
        body = json.dumps({"account": card}).encode()
        stamp, signature = signature_header(source.json()["secret"], body)
        issued = http.post(
            "/integrations/v1/gates/binding-codes",
            content=body,
            headers={"X-Carbon-Timestamp": stamp, "X-Carbon-Signature": signature},
        )
        assert issued.status_code == 201, issued.text
    code: str = issued.json()["code"]
    return code


def _park(server: LedgerServer) -> str:
    """Company acme with an employee invited, and a reward of 10 points; returns the invitation."""
    operator = server.token("operator", "op-1", "")
    admin = server.token("company_admin", "ca-1", "acme")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.post("/api/v1/companies", json={"id": "acme", "name": "Acme"}, headers=_auth(operator))
        http.post(
            "/api/v1/companies/acme/departments", json={"id": "rd", "name": "R&D"}, headers=_auth(admin)
        )
        enrolled = http.post(
            "/api/v1/companies/acme/employees",
            json={"employee_no": "E1", "department_id": "rd"},
            headers=_auth(admin),
        ).json()
        reward = {"name": "Metro day ticket", "name_zh": "地铁日票", "price_points": 10, "stock": 5}
        assert http.post("/api/v1/rewards", json=reward, headers=_auth(operator)).status_code == 201
    code: str = enrolled["invitation_code"]
    return code


def _tab(driver: Any, name: str) -> None:
    """Opens a tab and waits until it has loaded (the page re-renders its lists on every visit)."""
    by_testid(driver, f"tab-{name}").click()
    wait_for(f"the {name} tab", lambda: driver.execute_script("return document.body.dataset.busy") == "false")


def _verify(driver: Any, activity_id: str) -> Any:
    by_testid(driver, f"verify-{activity_id}").click()
    box = by_testid(driver, f"verify-result-{activity_id}")
    try:
        wait_for("a verdict", lambda: box.get_attribute("data-outcome") in ("valid", "invalid", "unverified"))
    except AssertionError as error:
        raise AssertionError(f"{error}; the page shows: {box.text!r}") from None
    return box


def _failed_checks(box: Any) -> list[str]:
    return [li.get_attribute("data-check") for li in box.find_elements("css selector", "li.bad")]


def _forge_leaf(server: LedgerServer, receipt: dict[str, Any]) -> None:
    """What a dishonest server (or an intruder in its database) would do: change the logged record,
    its leaf hash, and the stored checkpoint root, so the receipt is consistent in itself."""
    leaf = bytes.fromhex(receipt["leaf"][2:])
    forged = leaf.replace(b'"co2e_avoided_g":579', b'"co2e_avoided_g":5790')
    assert forged != leaf
    forged_hash = merkle.leaf_hash(forged)
    path = [bytes.fromhex(p[2:]) for p in receipt["audit_path"]]
    root = merkle.root_from_inclusion(forged_hash, receipt["leaf_index"], receipt["tree_size"], path)
    with sqlite3.connect(server.data_dir / "carbon-ledger.sqlite3") as db:
        db.execute(
            "UPDATE log_leaves SET leaf = ?, leaf_hash = ? WHERE idx = ?",
            (forged, forged_hash, receipt["leaf_index"]),
        )
        db.execute("UPDATE checkpoints SET root = ? WHERE tree_size = ?", (root, receipt["tree_size"]))


def _routes_called(log: Path) -> set[tuple[str, str]]:
    called = set()
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"carbon_ledger.access"' in line:
            entry = json.loads(line)
            called.add((entry["method"], entry["route"]))
    return called


def test_an_employee_verifies_their_receipts_on_a_phone(tmp_path: Path) -> None:
    server = LedgerServer(tmp_path / "var", {"CARBON_LOG_FORMAT": "json"})
    server.start()
    try:
        invitation = _park(server)
        with chromium(PHONE, mobile=True) as phone:
            phone.get(f"{server.url}/h5")
            wait_for("the page", lambda: phone.execute_script("return document.body.dataset.ready"))
            assert phone.execute_script("return document.body.dataset.view") == "signin"
            by_testid(phone, "login-code").send_keys("dev:wx-li")
            by_testid(phone, "invitation").send_keys(invitation)
            by_testid(phone, "signin").click()
            wait_for(
                "the activities", lambda: phone.execute_script("return document.body.dataset.view") == "app"
            )

            # Log a 12.4 km metro trip from the form (README's worked example: 579 g, 57 points).
            phone.find_element("css selector", "#log-box summary").click()
            by_testid(phone, "log-distance_km").send_keys("12.4")
            by_testid(phone, "log-submit").click()
            result = by_testid(phone, "log-result")
            wait_for("the recorded trip", lambda: "57" in result.text)
            assert "0.579 kg" in result.text and "Metro" in result.text
            token = phone.execute_script("return sessionStorage.getItem('carbonLedgerH5Access')")
            (activity,) = httpx.get(
                f"{server.url}/mp/v1/activities", headers=_auth(token), timeout=30
            ).json()["items"]

            # Anchored within a second or two; the receipt verifies, each check named.
            def anchored() -> dict[str, Any] | None:
                answer = httpx.get(f"{server.url}{activity['receipt_url']}", headers=_auth(token), timeout=30)
                return answer.json() if answer.status_code == 200 else None

            receipt = wait_for("the anchor", anchored)
            box = _verify(phone, activity["id"])
            assert box.get_attribute("data-outcome") == "valid", box.text
            checks = [li.get_attribute("data-check") for li in box.find_elements("css selector", "li")]
            assert checks == ["leaf_hash", "record", "audit_path", "chain_id", "anchor"]
            assert "WebCrypto" in box.text and f"rootAt({receipt['tree_size']})" in box.text
            assert page_width(phone) <= PHONE[0] and not overflowing(phone)
            screenshot(phone, tmp_path, "h5-valid-en.png", full_page=True)

            by_testid(phone, "lang").click()  # 中文
            wait_for("Chinese", lambda: by_testid(phone, "tab-points").text == "积分")
            wait_for("the list", lambda: phone.execute_script("return document.body.dataset.busy") == "false")
            box = _verify(phone, activity["id"])
            assert box.get_attribute("data-outcome") == "valid" and "有效" in box.text, box.text
            assert "叶哈希" in box.text and "审计路径" in box.text
            screenshot(phone, tmp_path, "h5-valid-zh.png", full_page=True)
            by_testid(phone, "lang").click()  # back to English
            wait_for("the list", lambda: phone.execute_script("return document.body.dataset.busy") == "false")

            # Points, redeem a voucher, look at its code, cancel it for a refund.
            _tab(phone, "points")
            wait_for("the balance", lambda: by_testid(phone, "balance").text == "57")
            wait_for("the history", lambda: "+57" in by_testid(phone, "history").text)
            _tab(phone, "rewards")
            redeem = wait_for(
                "the catalogue", lambda: phone.find_elements("css selector", '[data-testid^="redeem-"]')
            )
            redeem[0].click()
            voucher = wait_for("a voucher", lambda: phone.find_elements("css selector", "[data-voucher]"))[0]
            voucher_id = voucher.get_attribute("data-voucher")
            by_testid(phone, f"show-{voucher_id}").click()
            code = wait_for("the code", lambda: by_testid(phone, f"code-{voucher_id}").text)
            assert code.startswith("CL-")
            qr_width = wait_for(
                "the voucher's QR code",
                lambda: int(by_testid(phone, f"qr-{voucher_id}").get_attribute("naturalWidth") or 0),
            )
            assert qr_width > 100  # the signed QR (an SVG) decoded and drawn
            by_testid(phone, f"cancel-{voucher_id}").click()
            wait_for(
                "the cancellation",
                lambda: (
                    phone.find_element("css selector", f'[data-voucher="{voucher_id}"]').get_attribute(
                        "data-status"
                    )
                    == "cancelled"
                ),
            )

            # Me: leaderboards in and out, a bound transit card withdrawn again.
            _tab(phone, "me")
            wait_for("my identity", lambda: "acme" in by_testid(phone, "me").text)
            by_testid(phone, "board-alias").send_keys("greenfox")
            by_testid(phone, "board-join").click()
            wait_for("opted in", lambda: "greenfox" in by_testid(phone, "board-status").text)
            by_testid(phone, "board-leave").click()
            wait_for("opted out", lambda: "Not on" in by_testid(phone, "board-status").text)
            by_testid(phone, "binding-identifier").send_keys("8800123456")
            by_testid(phone, "binding-code").send_keys(_card_code(server, "8800123456"))
            by_testid(phone, "binding-consent").click()
            by_testid(phone, "binding-add").click()
            revoke = wait_for(
                "the binding", lambda: phone.find_elements("css selector", '[data-testid^="revoke-"]')
            )
            revoke[0].click()
            wait_for("withdrawn", lambda: "withdrawn" in by_testid(phone, "bindings").text)
            screenshot(phone, tmp_path, "h5-me.png", full_page=True)

            # An expired access token: the page rotates its refresh token and carries on.
            phone.execute_script("sessionStorage.setItem('carbonLedgerH5Access', 'expired')")
            _tab(phone, "activities")
            wait_for(
                "a refreshed token",
                lambda: (
                    phone.execute_script("return sessionStorage.getItem('carbonLedgerH5Access')") != "expired"
                ),
            )
            wait_for(
                "the list again",
                lambda: phone.find_elements("css selector", f"[data-activity='{activity['id']}']"),
            )

            # The server's copy is forged consistently: only the chain can tell, and it does.
            _forge_leaf(server, receipt)
            box = _verify(phone, activity["id"])
            assert box.get_attribute("data-outcome") == "invalid", box.text
            assert _failed_checks(box) == ["anchor"] and "DIFFERENT root" in box.text
            screenshot(phone, tmp_path, "h5-forged.png", full_page=True)

            # A chain out of reach is "could not verify", never green.
            _tab(phone, "me")
            rpc = wait_for("the RPC URL", lambda: by_testid(phone, "rpc-url").get_attribute("value"))
            assert rpc == server.rpc_url
            by_testid(phone, "rpc-url").clear()
            by_testid(phone, "rpc-url").send_keys(f"http://127.0.0.1:{free_port()}")
            phone.find_element("css selector", "#rpc-form button").click()
            _tab(phone, "activities")
            wait_for(
                "the list", lambda: phone.find_elements("css selector", f"[data-activity='{activity['id']}']")
            )
            box = _verify(phone, activity["id"])
            assert box.get_attribute("data-outcome") == "unverified", box.text

            _tab(phone, "me")
            by_testid(phone, "signout").click()
            wait_for(
                "signed out", lambda: phone.execute_script("return document.body.dataset.view") == "signin"
            )
            assert phone.execute_script("return sessionStorage.getItem('carbonLedgerH5Access')") is None
    finally:
        server.stop()

    called = _routes_called(server.log_path)
    assert not EMPLOYEE_ROUTES - called, f"the phone page never calls: {sorted(EMPLOYEE_ROUTES - called)}"
