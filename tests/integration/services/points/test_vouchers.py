"""Vouchers at the till over HTTP (real database, no chain): a merchant looks a voucher up and marks
it used once; a second use, a cancelled or expired voucher and another merchant's are refused; the
use is its own logged record with nothing personal in it; the QR code's signature verifies with
the published key and a tampered one does not."""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import update

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm_points import RedemptionRow
from backend.adapters.voucher_keys import KEY_FILE, VoucherSigner
from backend.domain.points import vouchers as rules
from backend.services.identity import enrollment
from tests.figures import figures, points
from tests.integration.api_harness import Api, fast_password_hashing

NOW = datetime.now(UTC)
METRO = {"type": "metro", "occurred_at": (NOW - timedelta(hours=2)).isoformat(), "distance_km": 12.4}


def _problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + kind), body
    return body


class Till:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client
        for company in ("canteen", "shop"):
            enrollment.create_company(api.runtime.db, company, company.title(), NOW)
        self.employee = api.auth("employee", "emp-v1", "acme")
        self.merchant = api.auth("merchant", "till-1", "canteen")
        self.other_merchant = api.auth("merchant", "till-9", "shop")
        operator = {**api.auth("operator", "op-1"), "Idempotency-Key": str(uuid.uuid4())}
        created = self.client.post(
            "/api/v1/rewards",
            headers=operator,
            json={"name": "Canteen lunch", "name_zh": "食堂午餐", "price_points": 10, "stock": 10,
                  "merchant": "canteen"},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        assert created.json()["merchant"] == "canteen"
        self.reward_id = created.json()["id"]
        trip = self.client.post(
            "/mp/v1/activities", headers={**self.employee, "Idempotency-Key": str(uuid.uuid4())}, json=METRO
        )
        at = datetime.fromisoformat(str(METRO["occurred_at"]))
        avoided_g = figures(METRO, at, (579, 761, 7))[0]  # 2026.1: 12.4 km × 0.0467 kg/km → 579 g
        assert trip.status_code == 201 and trip.json()["points"] == points(METRO, at, avoided_g), trip.text

    def redeem(self) -> dict[str, Any]:
        answer = self.client.post(
            "/mp/v1/redemptions",
            headers={**self.employee, "Idempotency-Key": str(uuid.uuid4())},
            json={"reward_id": self.reward_id},
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture
def till(db: Database, tmp_path: Path) -> Till:
    return Till(Api(db, tmp_path))


def test_a_voucher_is_used_once_and_its_use_is_logged_without_the_employee(till: Till) -> None:
    redemption = till.redeem()
    code = redemption["voucher_code"]
    assert redemption["expires_at"] and redemption["voucher_qr_url"]
    seen = till.client.get(f"/api/v1/vouchers/{code.lower().replace('-', ' ')}", headers=till.merchant)
    assert seen.status_code == 200, seen.text
    assert seen.json()["state"] == "usable" and seen.json()["reward"]["name_zh"] == "食堂午餐"
    assert seen.json()["price_points"] == 10 and seen.json()["refusal_en"] is None

    used = till.client.post(f"/api/v1/vouchers/{code}/use", headers=till.merchant)
    assert used.status_code == 200, used.text
    assert used.json()["state"] == "used" and used.json()["used_at"]
    leaf_index = used.json()["leaf_index"]

    again = _problem(
        till.client.post(f"/api/v1/vouchers/{code}/use", headers=till.merchant), 409, "voucher-used"
    )
    assert code in again["detail"]  # and when it was used, as the problem type's description says
    used_at = datetime.fromisoformat(used.json()["used_at"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(again["detail"].rsplit(" ", 1)[1]) == used_at
    assert till.client.get(f"/api/v1/vouchers/{code}", headers=till.merchant).json()["state"] == "used"
    mine = till.client.get(f"/mp/v1/redemptions/{redemption['id']}", headers=till.employee).json()
    assert mine["status"] == "used" and mine["voucher_qr_url"] is None
    _problem(
        till.client.post(f"/mp/v1/redemptions/{redemption['id']}/cancel", headers=till.employee),
        409,
        "cancellation-closed",
    )

    with till.api.runtime.db.read_sessions() as session:
        leaf = SqlLogStore(session).leaf(leaf_index)
    assert leaf is not None
    record = json.loads(leaf.leaf)
    assert record["kind"] == "voucher_use" and record["subject"] is None
    assert record["body"] == {
        "redemption": redemption["id"],
        "reward": till.reward_id,
        "merchant": "canteen",
        "used_at": record["body"]["used_at"],
    }
    for personal_or_free_text in ("emp-v1", code, "Canteen lunch", "食堂午餐"):
        assert personal_or_free_text not in leaf.leaf.decode()


def test_cancelled_expired_and_other_merchants_vouchers_are_refused(till: Till) -> None:
    cancelled = till.redeem()
    assert (
        till.client.post(f"/mp/v1/redemptions/{cancelled['id']}/cancel", headers=till.employee).status_code
        == 200
    )
    path = f"/api/v1/vouchers/{cancelled['voucher_code']}"
    assert till.client.get(path, headers=till.merchant).json()["state"] == "cancelled"
    _problem(till.client.post(path + "/use", headers=till.merchant), 409, "voucher-cancelled")

    expired = till.redeem()
    with till.api.runtime.db.write_sessions() as session, session.begin():
        session.execute(
            update(RedemptionRow)
            .where(RedemptionRow.id == expired["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    path = f"/api/v1/vouchers/{expired['voucher_code']}"
    assert till.client.get(path, headers=till.merchant).json()["state"] == "expired"
    _problem(till.client.post(path + "/use", headers=till.merchant), 409, "voucher-expired")

    fresh = till.redeem()
    path = f"/api/v1/vouchers/{fresh['voucher_code']}"
    _problem(till.client.get(path, headers=till.other_merchant), 403, "forbidden")
    _problem(till.client.post(path + "/use", headers=till.other_merchant), 403, "forbidden")
    _problem(till.client.post(path + "/use", headers=till.employee), 403, "forbidden")  # role matrix
    _problem(till.client.get("/api/v1/vouchers/CL-0000-0000-0000", headers=till.merchant), 404, "not-found")
    bad = _problem(
        till.client.get("/api/v1/vouchers/not-a-code", headers=till.merchant), 422, "invalid-input"
    )
    assert bad["errors"][0]["field"] == "code"
    assert till.client.post(path + "/use", headers=till.merchant).status_code == 200  # still good for its own


def test_a_voucher_redeemed_before_ends_were_stored_expires_after_the_validity(till: Till) -> None:
    old, recent = till.redeem(), till.redeem()
    now = datetime.now(UTC)
    issued = {
        old["id"]: now - rules.VOUCHER_VALIDITY - timedelta(minutes=1),
        recent["id"]: now - timedelta(days=1),
    }
    with till.api.runtime.db.write_sessions() as session, session.begin():
        for redemption_id, created_at in issued.items():
            session.execute(
                update(RedemptionRow)
                .where(RedemptionRow.id == redemption_id)
                .values(created_at=created_at, expires_at=None)
            )
    path = f"/api/v1/vouchers/{old['voucher_code']}"
    seen = till.client.get(path, headers=till.merchant).json()
    assert seen["state"] == "expired" and seen["refusal_en"], seen
    assert datetime.fromisoformat(seen["expires_at"]) == issued[old["id"]] + rules.VOUCHER_VALIDITY
    _problem(till.client.post(path + "/use", headers=till.merchant), 409, "voucher-expired")
    # The employee's list shows the same end as the till and the QR code sign.
    mine = till.client.get(f"/mp/v1/redemptions/{recent['id']}", headers=till.employee).json()
    assert datetime.fromisoformat(mine["expires_at"]) == issued[recent["id"]] + rules.VOUCHER_VALIDITY
    path = f"/api/v1/vouchers/{recent['voucher_code']}"
    assert till.client.get(path, headers=till.merchant).json()["expires_at"] == mine["expires_at"]
    assert till.client.post(path + "/use", headers=till.merchant).status_code == 200


def test_the_qr_code_carries_a_signature_the_published_key_verifies(till: Till) -> None:
    redemption = till.redeem()
    qr = till.client.get(redemption["voucher_qr_url"], headers=till.employee)
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml"
    assert qr.text.lstrip().startswith("<?xml") or "<svg" in qr.text
    assert (
        till.client.get(
            redemption["voucher_qr_url"], headers=till.api.auth("employee", "someone")
        ).status_code
        == 404
    )

    jwk = till.client.get("/api/v1/vouchers/key").json()["jwk"]
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(unb64(jwk["x"]), "big"), int.from_bytes(unb64(jwk["y"]), "big"), ec.SECP256R1()
    ).public_key()
    expires = datetime.fromisoformat(redemption["expires_at"])
    text = rules.signed_text(redemption["voucher_code"], expires)
    signature = till.api.runtime.voucher_signer.sign(text)
    scanned = rules.parse_qr(f"{text}.{signature}")
    assert scanned is not None and scanned.code == redemption["voucher_code"]

    def verify(message: str, sig: str) -> bool:
        raw = unb64(sig)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            public.verify(der, message.encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    assert verify(text, signature)
    forged_code = re.sub(r"CL-\w{4}", "CL-ZZZZ", text, count=1)
    assert not verify(forged_code, signature)
    assert not verify(text, signature[:-2] + ("AA" if not signature.endswith("AA") else "BA"))
    # A scanned QR text names the same voucher at the server as its code does.
    seen = till.client.get(f"/api/v1/vouchers/{text}.{signature}", headers=till.merchant)
    assert seen.status_code == 200 and seen.json()["code"] == redemption["voucher_code"]


def test_the_signing_key_is_created_once_and_shared(tmp_path: Path) -> None:
    first = VoucherSigner.load_or_create(tmp_path)
    second = VoucherSigner.load_or_create(tmp_path)  # another worker, later
    assert first.public_jwk() == second.public_jwk()
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE]
    signature = first.sign("CLV1.CL-0000-0000-0000.1")
    assert second.verify("CLV1.CL-0000-0000-0000.1", signature)
    assert not second.verify("CLV1.CL-0000-0000-0001.1", signature)


def test_an_operator_creates_a_merchant_account_that_signs_in_and_looks_up_a_voucher(till: Till) -> None:
    redemption = till.redeem()
    operator = till.api.auth("operator", "op-1")
    account = {"username": "canteen.till", "password": "correct horse battery", "role": "merchant"}
    with fast_password_hashing():
        no_company = till.client.post("/api/v1/staff", json=account, headers=operator)
        assert no_company.status_code == 422 and no_company.json()["errors"][0]["field"] == "company_id"
        created = till.client.post(
            "/api/v1/staff", json={**account, "company_id": "canteen"}, headers=operator
        )
        assert created.status_code == 201, created.text
        assert created.json()["role"] == "merchant" and created.json()["company_id"] == "canteen"
        login = till.client.post(
            "/api/v1/auth/token", json={"username": "canteen.till", "password": "correct horse battery"}
        )
    assert login.status_code == 200 and login.json()["role"] == "merchant", login.text
    signed_in = {"Authorization": f"Bearer {login.json()['access_token']}"}
    seen = till.client.get(f"/api/v1/vouchers/{redemption['voucher_code']}", headers=signed_in)
    assert seen.status_code == 200 and seen.json()["state"] == "usable", seen.text


def test_the_signing_key_is_never_on_disk_readable_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a start stopped right after the key's bytes are written leaves nothing others can read."""
    seen: dict[str, int] = {}

    def stopped(source: object, *_args: object, **_kwargs: object) -> None:
        seen.update({p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()})
        raise KeyboardInterrupt  # the process is stopped between writing and publishing the key

    previous = os.umask(0o022)
    try:
        monkeypatch.setattr(Path, "chmod", stopped)
        monkeypatch.setattr(os, "link", stopped)
        with pytest.raises(KeyboardInterrupt):
            VoucherSigner.load_or_create(tmp_path)
        monkeypatch.undo()
        seen.update({p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()})
        assert seen and all(mode == 0o600 for mode in seen.values()), seen
        VoucherSigner.load_or_create(tmp_path)
        assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(previous)
