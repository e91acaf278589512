"""Concurrent redemptions against real SQLite and PostgreSQL, with exact expected outcomes.

Fifty threads race on one balance (double taps, two phones), on the last unit of a reward, and on a
per-employee limit. Whatever the interleaving: nothing is oversold, no balance goes negative,
every point is accounted for, and each request gets one definite answer.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from backend.adapters.database import Database
from backend.adapters.orm_points import RedemptionRow
from backend.domain.errors import CarbonLedgerError
from backend.services.points import points, rewards
from tests.integration.points_support import (
    NOW,
    SUBJECT_KEY,
    add_reward,
    balance,
    count,
    employee,
    fund,
    stock,
    transfers_of_kind,
)

RACERS = 50


def _race(
    db: Database, attempt: Callable[[int], rewards.Redeemed]
) -> tuple[Counter[str], list[rewards.Redeemed]]:
    """Starts every attempt at once (a barrier) and tallies outcomes by result or error class."""
    gate = threading.Barrier(RACERS)

    def run(i: int) -> rewards.Redeemed | CarbonLedgerError:
        gate.wait()
        try:
            return attempt(i)
        except CarbonLedgerError as exc:
            return exc

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        results = list(pool.map(run, range(RACERS)))
    elapsed = time.perf_counter() - started
    outcomes: Counter[str] = Counter(
        ("created" if r.created else "replayed") if isinstance(r, rewards.Redeemed) else type(r).__name__
        for r in results
    )
    ok = [r for r in results if isinstance(r, rewards.Redeemed)]
    rate = RACERS / elapsed
    print(f"\n{db.engine.dialect.name}: {RACERS} racing redemptions in {elapsed:.3f} s ({rate:.0f}/s)")
    return outcomes, ok


def test_fifty_redemptions_race_on_one_balance(db: Database) -> None:
    fund(db, "alice", 1000)
    reward = add_reward(db, price=100, stock=1000)
    outcomes, ok = _race(
        db, lambda i: rewards.redeem(db, SUBJECT_KEY, employee("alice"), reward, f"tap-{i:06d}", NOW)
    )
    assert outcomes == Counter({"created": 10, "InsufficientPoints": 40})
    assert balance(db, "alice") == 0 and stock(db, reward) == 990
    assert sorted(r.balance for r in ok) == list(range(0, 1000, 100))  # each saw a distinct balance
    assert len({r.row.voucher_code for r in ok}) == 10
    assert len(transfers_of_kind(db, "redemption")) == 10
    assert points.audit_ledger(db).ok


def test_fifty_employees_race_for_the_last_item(db: Database) -> None:
    for i in range(RACERS):
        fund(db, f"e{i:02d}", 500)
    reward = add_reward(db, price=300, stock=1)
    outcomes, ok = _race(
        db, lambda i: rewards.redeem(db, SUBJECT_KEY, employee(f"e{i:02d}"), reward, f"last-{i:06d}", NOW)
    )
    assert outcomes == Counter({"created": 1, "OutOfStock": 49})
    assert stock(db, reward) == 0
    (winner,) = ok
    assert balance(db, winner.row.subject_id) == 200
    assert sum(balance(db, f"e{i:02d}") for i in range(RACERS)) == RACERS * 500 - 300
    assert points.audit_ledger(db).ok


def test_fifty_replays_of_one_key_redeem_once(db: Database) -> None:
    fund(db, "alice", 1000)
    reward = add_reward(db, price=100, stock=1)  # the retries get the voucher, not "out of stock"
    outcomes, ok = _race(
        db, lambda _: rewards.redeem(db, SUBJECT_KEY, employee("alice"), reward, "one-tap-01", NOW)
    )
    assert outcomes == Counter({"created": 1, "replayed": 49})
    assert len({r.row.id for r in ok}) == 1 and len({r.row.voucher_code for r in ok}) == 1
    assert balance(db, "alice") == 900 and stock(db, reward) == 0 and count(db, RedemptionRow) == 1


def test_per_employee_limit_holds_under_a_race(db: Database) -> None:
    fund(db, "alice", 10_000)
    reward = add_reward(db, price=10, stock=100, limit=2)
    outcomes, _ = _race(
        db, lambda i: rewards.redeem(db, SUBJECT_KEY, employee("alice"), reward, f"lim-{i:06d}", NOW)
    )
    assert outcomes == Counter({"created": 2, "RedemptionLimitReached": 48})
    assert balance(db, "alice") == 9_980 and stock(db, reward) == 98


def test_redeem_and_cancel_race_keeps_stock_and_points_whole(db: Database) -> None:
    fund(db, "alice", 500)
    reward = add_reward(db, price=100, stock=3)
    first = [
        rewards.redeem(db, SUBJECT_KEY, employee("alice"), reward, f"pre-{i:06d}", NOW) for i in range(3)
    ]
    assert balance(db, "alice") == 200 and stock(db, reward) == 0

    def attempt(i: int) -> rewards.Redeemed:
        if i < 3:
            return rewards.cancel(db, SUBJECT_KEY, employee("alice"), first[i].row.id, NOW)
        if i < 6:  # the same cancellations again, racing the first
            return rewards.cancel(db, SUBJECT_KEY, employee("alice"), first[i - 3].row.id, NOW)
        return rewards.redeem(db, SUBJECT_KEY, employee("alice"), reward, f"mix-{i:06d}", NOW)

    outcomes, _ = _race(db, attempt)
    cancelled_refunds = len(transfers_of_kind(db, "refund"))
    assert cancelled_refunds == 3  # each redemption refunded once, however often it was cancelled
    redeemed_now = outcomes["created"] - 3
    # The refunds put 3 units back in stock, so at most 3 of the new redemptions can succeed.
    assert 0 <= redeemed_now <= 3
    assert stock(db, reward) == 3 - redeemed_now
    assert balance(db, "alice") == 500 - 100 * redeemed_now
    assert (
        outcomes["created"] + outcomes["replayed"] + outcomes["OutOfStock"] + outcomes["InsufficientPoints"]
        == 50
    )
    assert points.audit_ledger(db).ok
