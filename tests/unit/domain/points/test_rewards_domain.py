"""Redemption rules: the order of the checks, vouchers, the cancellation window."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backend.domain.errors import (
    CancellationClosed,
    InsufficientPoints,
    NotFound,
    OutOfStock,
    RedemptionLimitReached,
    RewardUnavailable,
)
from backend.domain.points import rewards

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TERMS = rewards.RewardTerms(
    price_points=100,
    stock=3,
    per_employee_limit=1,
    valid_from=NOW - timedelta(days=1),
    valid_until=NOW + timedelta(days=1),
    companies=("acme",),
    active=True,
)


def test_redeemable() -> None:
    rewards.check_redeemable("r", TERMS, "acme", NOW, redeemed_by_employee=0, balance=100)


@pytest.mark.parametrize(
    ("terms", "org", "count", "balance", "error"),
    [
        (TERMS, "globex", 0, 100, NotFound),
        (TERMS, None, 0, 100, NotFound),
        (replace(TERMS, active=False), "acme", 0, 100, RewardUnavailable),
        (replace(TERMS, valid_from=NOW + timedelta(seconds=1)), "acme", 0, 100, RewardUnavailable),
        (replace(TERMS, valid_until=NOW), "acme", 0, 100, RewardUnavailable),
        (replace(TERMS, stock=0), "acme", 1, 0, OutOfStock),  # stock first, whatever else fails
        (TERMS, "acme", 1, 0, RedemptionLimitReached),  # then the limit, before the balance
        (TERMS, "acme", 0, 99, InsufficientPoints),
    ],
)
def test_first_failing_check_wins(
    terms: rewards.RewardTerms, org: str | None, count: int, balance: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        rewards.check_redeemable("r", terms, org, NOW, count, balance)


def test_park_wide_reward_is_open_to_everyone() -> None:
    assert rewards.open_to(replace(TERMS, companies=None), None)
    assert rewards.open_to(replace(TERMS, companies=None), "globex")


def test_voucher_codes_are_crockford_base32_and_distinct() -> None:
    codes = {rewards.new_voucher_code() for _ in range(500)}
    assert len(codes) == 500
    pattern = re.compile(r"^CL-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
    assert all(pattern.fullmatch(c) for c in codes)


def test_cancellation_window() -> None:
    deadline = rewards.cancel_deadline(NOW, 3600)
    rewards.check_cancellable("x", "issued", deadline, NOW + timedelta(seconds=3599))
    with pytest.raises(CancellationClosed):
        rewards.check_cancellable("x", "issued", deadline, deadline)
    with pytest.raises(CancellationClosed):
        rewards.check_cancellable("x", "cancelled", deadline, NOW)
