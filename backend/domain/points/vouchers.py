"""Vouchers at the till: when a merchant may accept one, and the signed text its QR code carries.

A redemption's voucher is good once, at the merchant its reward names, until it expires. Its QR
code carries ``CLV1.<code>.<expires unix s>.<signature>``: an ECDSA P-256 / SHA-256 signature (raw
r‖s, base64url, as WebCrypto verifies it) by the park over ``CLV1.<code>.<expires>``, so the
merchant page refuses a forged code before it asks the server. The server stays the authority on
use: a genuine code is still refused when used, cancelled or expired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from backend.domain.errors import (
    InvalidInput,
    PermissionDenied,
    VoucherCancelled,
    VoucherExpired,
    VoucherUsed,
)

QR_PREFIX = "CLV1"
VOUCHER_VALIDITY = timedelta(days=90)
"""A voucher without an end date of its reward expires 90 days after the redemption: a quarter to
use it, and no voucher outstanding forever."""
CODE_PATTERN = re.compile(r"CL-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")
QR_PATTERN = re.compile(rf"{QR_PREFIX}\.({CODE_PATTERN.pattern})\.(\d{{1,12}})\.([A-Za-z0-9_-]{{86}})")


def expiry(created_at: datetime, reward_valid_until: datetime | None) -> datetime:
    ends = created_at + VOUCHER_VALIDITY
    return min(ends, reward_valid_until) if reward_valid_until is not None else ends


def ends_at(created_at: datetime, stored_expires_at: datetime | None) -> datetime:
    """When a voucher expires, the one rule the till, the lists and the QR code share: its stored
    end, or, for a voucher redeemed before ends were stored, ``created_at`` + :data:`VOUCHER_VALIDITY`."""
    return stored_expires_at if stored_expires_at is not None else expiry(created_at, None)


def signed_text(code: str, expires_at: datetime) -> str:
    """What the park signs: the code and its expiry (whole seconds)."""
    return f"{QR_PREFIX}.{code}.{int(expires_at.timestamp())}"


@dataclass(frozen=True)
class ScannedVoucher:
    code: str
    expires_at: datetime
    signature: str


def normalize_code(text: str) -> str:
    """A typed code as the cashier may type it (lower case, spaces, O for 0), or the code of a
    scanned QR text; refuses anything that is neither."""
    text = text.strip()
    scanned = QR_PATTERN.fullmatch(text)
    if scanned:
        return scanned.group(1)
    typed = re.sub(r"[\s-]", "", text.upper())
    typed = typed.removeprefix("CL").replace("O", "0").replace("I", "1").replace("L", "1")
    code = f"CL-{typed[0:4]}-{typed[4:8]}-{typed[8:12]}" if len(typed) == 12 else text
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidInput("code", "not a voucher code (CL-XXXX-XXXX-XXXX) or a voucher QR text")
    return code


def parse_qr(text: str) -> ScannedVoucher | None:
    found = QR_PATTERN.fullmatch(text.strip())
    if found is None:
        return None
    return ScannedVoucher(found.group(1), datetime.fromtimestamp(int(found.group(2)), UTC), found.group(3))


def check_usable(
    code: str,
    status: str,
    expires_at: datetime,
    used_at: datetime | None,
    reward_merchant: str | None,
    merchant: str | None,
    now: datetime,
) -> None:
    """Refuses, in this order: another merchant's voucher, a used one, a cancelled one, an expired one
    (``expires_at`` as :func:`ends_at` gives it)."""
    if merchant is None or reward_merchant != merchant:
        raise PermissionDenied(f"voucher {code} is not accepted by merchant {merchant}")
    if status == "used" or used_at is not None:
        when = used_at.isoformat() if used_at else "before"
        raise VoucherUsed(f"voucher {code} was used at {when}")
    if status == "cancelled":
        raise VoucherCancelled(f"voucher {code} was cancelled by the employee")
    if now >= expires_at:
        raise VoucherExpired(f"voucher {code} expired at {expires_at.isoformat()}")
