"""Rewards and redemptions: when a reward may be redeemed, voucher codes, the cancellation window.

The checks run in one fixed order (availability, stock, the employee's limit, balance) so the
outcome of a race is predictable: when the last item goes, everyone else is told "out of stock"
whatever their balance.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.domain.errors import (
    CancellationClosed,
    InsufficientPoints,
    NotFound,
    OutOfStock,
    RedemptionLimitReached,
    RewardUnavailable,
)
from backend.domain.states import RedemptionStatus

VOUCHER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32: no I, L, O or U, so a code read aloud or typed by a cashier is unambiguous."""
VOUCHER_GROUPS = 3
VOUCHER_GROUP_LENGTH = 4
"""12 symbols × 5 bits = 60 bits: unguessable at any redemption volume a park sees."""
MAX_CANCEL_WINDOW_S = 30 * 86_400
MAX_REWARD_STOCK = 10**9
MAX_PER_EMPLOYEE_LIMIT = 10_000


@dataclass(frozen=True)
class RewardTerms:
    price_points: int
    stock: int
    per_employee_limit: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    companies: tuple[str, ...] | None
    """Companies whose employees may redeem it; ``None``: every company in the park."""
    active: bool


def open_to(terms: RewardTerms, org_id: str | None) -> bool:
    return terms.companies is None or (org_id is not None and org_id in terms.companies)


def check_redeemable(
    reward_id: str,
    terms: RewardTerms,
    org_id: str | None,
    now: datetime,
    redeemed_by_employee: int,
    balance: int,
) -> None:
    """Raises the first reason the employee cannot redeem one unit of the reward now."""
    if not open_to(terms, org_id):
        raise NotFound(f"reward {reward_id} not found")
    if not terms.active:
        raise RewardUnavailable(f"reward {reward_id} is withdrawn")
    if terms.valid_from is not None and now < terms.valid_from:
        raise RewardUnavailable(f"reward {reward_id} can be redeemed from {terms.valid_from.isoformat()}")
    if terms.valid_until is not None and now >= terms.valid_until:
        raise RewardUnavailable(f"reward {reward_id} could be redeemed until {terms.valid_until.isoformat()}")
    if terms.stock <= 0:
        raise OutOfStock(f"reward {reward_id} is out of stock")
    if terms.per_employee_limit is not None and redeemed_by_employee >= terms.per_employee_limit:
        raise RedemptionLimitReached(
            f"each employee may redeem reward {reward_id} at most {terms.per_employee_limit} time(s)"
        )
    if balance < terms.price_points:
        raise InsufficientPoints(
            f"the balance is {balance} points; reward {reward_id} costs {terms.price_points}",
            balance=balance,
            required=terms.price_points,
        )


def new_voucher_code() -> str:
    symbols = "".join(secrets.choice(VOUCHER_ALPHABET) for _ in range(VOUCHER_GROUPS * VOUCHER_GROUP_LENGTH))
    groups = [symbols[i : i + VOUCHER_GROUP_LENGTH] for i in range(0, len(symbols), VOUCHER_GROUP_LENGTH)]
    return "CL-" + "-".join(groups)


def cancel_deadline(created_at: datetime, window_s: int) -> datetime:
    return created_at + timedelta(seconds=window_s)


def check_cancellable(redemption_id: str, status: str, deadline: datetime, now: datetime) -> None:
    if status != RedemptionStatus.ISSUED:
        raise CancellationClosed(f"redemption {redemption_id} is {status}")
    if now >= deadline:
        raise CancellationClosed(
            f"redemption {redemption_id} could be cancelled until {deadline.isoformat()}"
        )
