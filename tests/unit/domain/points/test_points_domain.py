"""The points ledger's pure rules: transfers, replays, reversals, expiry (FIFO), conservation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domain.errors import InsufficientPoints, InvalidInput, ReversalNotAllowed, TransferConflict
from backend.domain.points import points as ledger
from backend.domain.points.points import Balance, Movement, Transfer, TransferKind

ALICE = ledger.employee_account("alice")
T0 = datetime(2026, 1, 10, tzinfo=UTC)


def _issue(tid: str, amount: int, account: str = ALICE) -> Transfer:
    return Transfer(tid, ledger.PARK_ISSUANCE, account, amount, TransferKind.ISSUANCE, activity_id="a-" + tid)


def test_account_kinds() -> None:
    assert ledger.account_kind(ALICE) == ledger.AccountKind.EMPLOYEE
    assert ledger.account_kind(ledger.company_pool_account("acme")) == ledger.AccountKind.COMPANY_POOL
    assert ledger.account_kind(ledger.REDEMPTION_SINK) == ledger.AccountKind.REDEMPTION_SINK
    with pytest.raises(InvalidInput):
        ledger.account_kind("bank:vault")


@pytest.mark.parametrize(
    ("amount", "field"),
    [(0, "amount"), (-5, "amount"), (ledger.MAX_TRANSFER_POINTS + 1, "amount"), (True, "amount")],
)
def test_transfer_amounts_are_positive_integers(amount: int, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        _issue("t1", amount).validate()
    assert err.value.field == field


def test_transfer_needs_two_accounts_and_corrections_need_a_reason() -> None:
    with pytest.raises(InvalidInput):
        Transfer("t", ALICE, ALICE, 5, TransferKind.AWARD).validate()
    with pytest.raises(InvalidInput):
        Transfer("t", ALICE, ledger.PARK_ISSUANCE, 5, TransferKind.CORRECTION, reverses_id="x").validate()
    with pytest.raises(InvalidInput):
        Transfer("t", ALICE, ledger.PARK_ISSUANCE, 5, TransferKind.ISSUANCE, reverses_id="x").validate()


def test_replay_same_fields_returns_original_other_fields_conflict() -> None:
    stored = _issue("t1", 10)
    assert ledger.check_replay(_issue("t1", 10), stored) is stored
    with pytest.raises(TransferConflict) as err:
        ledger.check_replay(_issue("t1", 11), stored)
    assert "amount" in err.value.detail


def test_only_the_issuance_account_may_overdraw() -> None:
    ledger.check_debit(ledger.PARK_ISSUANCE, Balance(0, 0), 10**9)
    ledger.check_debit(ALICE, Balance(0, 10), 10)
    with pytest.raises(InsufficientPoints) as err:
        ledger.check_debit(ALICE, Balance(5, 10), 6)
    assert err.value.extensions == {"balance": 5, "required": 6}
    with pytest.raises(InsufficientPoints):
        ledger.check_debit(ledger.REDEMPTION_SINK, Balance(0, 0), 1)


def test_reversal_goes_back_partially_then_fully_then_refuses() -> None:
    original = _issue("t1", 100)
    part = ledger.reversal(original, "c1", "fraud", 30, already_reversed=0)
    assert (part.debit_account, part.credit_account, part.amount) == (ALICE, ledger.PARK_ISSUANCE, 30)
    assert part.reverses_id == "t1" and part.activity_id == original.activity_id
    rest = ledger.reversal(original, "c2", "fraud", None, already_reversed=30)
    assert rest.amount == 70
    with pytest.raises(InvalidInput):
        ledger.reversal(original, "c3", "fraud", 71, already_reversed=30)
    with pytest.raises(ReversalNotAllowed):
        ledger.reversal(original, "c4", "fraud", None, already_reversed=100)
    redemption = Transfer("r", ALICE, ledger.REDEMPTION_SINK, 5, TransferKind.REDEMPTION)
    with pytest.raises(ReversalNotAllowed, match="cancel"):
        ledger.reversal(redemption, "c5", "fraud", None, 0)


def test_derived_ids_are_stable_and_distinct() -> None:
    assert ledger.derived_id("issuance", "a1") == ledger.derived_id("issuance", "a1")
    assert ledger.derived_id("issuance", "a1") != ledger.derived_id("refund", "a1")


# --- Expiry (first in, first out) --------------------------------------------------------------------


def test_expiry_takes_old_unspent_points_only() -> None:
    cutoff = T0 + timedelta(days=365)
    moves = [
        Movement(100, T0),  # old lot
        Movement(50, T0 + timedelta(days=400)),  # young lot
        Movement(-30, None),  # spending eats the old lot first
    ]
    assert ledger.expirable(moves, cutoff) == 70


def test_expiry_after_spending_everything_old_is_zero() -> None:
    cutoff = T0 + timedelta(days=365)
    moves = [Movement(100, T0), Movement(50, T0 + timedelta(days=400)), Movement(-120, None)]
    assert ledger.expirable(moves, cutoff) == 0


def test_refund_restores_the_old_lot_and_correction_shrinks_it() -> None:
    cutoff = T0 + timedelta(days=365)
    moves = [Movement(100, T0), Movement(-60, None), Movement(60, None), Movement(-25, T0)]
    assert ledger.expirable(moves, cutoff) == 75


def test_movements_follow_reversal_chains_to_their_lot() -> None:
    issue = _issue("i1", 100)
    later = _issue("i2", 40)
    correction = ledger.reversal(issue, "c1", "fraud", 10, 0)
    spend = Transfer("r1", ALICE, ledger.REDEMPTION_SINK, 20, TransferKind.REDEMPTION)
    refund = Transfer("f1", ledger.REDEMPTION_SINK, ALICE, 20, TransferKind.REFUND)
    times = {"i1": T0, "i2": T0 + timedelta(days=300), "c1": T0 + timedelta(days=5)}
    times |= {"r1": T0 + timedelta(days=6), "f1": T0 + timedelta(days=7)}
    moves = ledger.movements_for(ALICE, [issue, later, correction, spend, refund], times)
    assert sorted((m.amount, m.lot_at) for m in moves if m.lot_at) == [
        (-10, T0),
        (40, T0 + timedelta(days=300)),
        (100, T0),
    ]
    assert ledger.expirable(moves, T0 + timedelta(days=100)) == 90


@given(st.lists(st.tuples(st.booleans(), st.integers(1, 1000), st.integers(0, 700)), max_size=30))
def test_expirable_never_exceeds_balance_nor_goes_negative(steps: list[tuple[bool, int, int]]) -> None:
    moves: list[Movement] = []
    balance = 0
    for earn, amount, day in steps:
        if earn:
            moves.append(Movement(amount, T0 + timedelta(days=day)))
            balance += amount
        elif amount <= balance:
            moves.append(Movement(-amount, None))
            balance -= amount
    result = ledger.expirable(moves, T0 + timedelta(days=365))
    assert 0 <= result <= balance
    after = [*moves, Movement(-result, None)]
    assert ledger.expirable(after, T0 + timedelta(days=365)) == 0  # expiring again finds nothing


@given(
    st.lists(
        st.tuples(st.sampled_from(["park", "a", "b", "pool", "sink"]), st.sampled_from(["a", "b", "sink"])),
        max_size=40,
    ),
    st.data(),
)
def test_any_transfers_conserve_points(pairs: list[tuple[str, str]], data: st.DataObject) -> None:
    names = {"park": ledger.PARK_ISSUANCE, "a": ALICE, "b": ledger.employee_account("bob")}
    names |= {"pool": ledger.company_pool_account("acme"), "sink": ledger.REDEMPTION_SINK}
    transfers = [
        Transfer(f"t{i}", names[d], names[c], data.draw(st.integers(1, 10**6)), TransferKind.AWARD)
        for i, (d, c) in enumerate(pairs)
        if d != c
    ]
    totals = ledger.posted_totals(transfers)
    assert ledger.conservation_sum(totals.values()) == 0
    assert sum(b.debits for b in totals.values()) == sum(t.amount for t in transfers)
