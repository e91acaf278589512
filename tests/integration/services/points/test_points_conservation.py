"""Conservation, property-based, through the real services on SQLite and PostgreSQL.

For any sequence of operations (issue, redeem, cancel, correct, fund a pool, award, expire, replay
a transfer id) the sum over all accounts is zero, every account's totals equal the sum of its
transfers, no employee or pool goes negative, and each outcome — including which error — is the
one a plain model of the rules predicts. Examples share the test's database; each uses its own
company and employees, so the model covers them and the global checks cover everything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.adapters.database import Database
from backend.adapters.orm_points import PointsTransferRow
from backend.domain.errors import (
    CancellationClosed,
    CarbonLedgerError,
    InsufficientPoints,
    InvalidInput,
    OutOfStock,
    RedemptionLimitReached,
    TransferConflict,
)
from backend.domain.points import points as ledger
from backend.domain.points.points import Transfer, TransferKind
from backend.services.identity.tokens import Principal
from backend.services.points import points, rewards
from tests.integration.points_support import OPERATOR, SUBJECT_KEY, balance, enroll, fund, stock

EMPLOYEES = ("a", "b", "c")
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
PRICES = (50, 120)
STOCKS = (3, 100)
LIMITS = (2, None)
CANCEL_WINDOW = timedelta(days=10)

PICK = st.integers(0, 40)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("issue"), st.sampled_from(EMPLOYEES), st.integers(1, 500)),
        st.tuples(st.just("redeem"), st.sampled_from(EMPLOYEES), st.integers(0, 1)),
        st.tuples(st.just("cancel"), PICK),
        st.tuples(st.just("correct"), PICK, st.none() | st.integers(1, 300)),
        st.tuples(st.just("allocate"), st.integers(1, 1000)),
        st.tuples(st.just("award"), st.sampled_from(EMPLOYEES), st.integers(1, 400)),
        st.tuples(st.just("expire"), st.integers(0, 60)),
        st.tuples(st.just("replay"), PICK, st.booleans()),
    ),
    min_size=1,
    max_size=14,
)


@dataclass
class Model:
    ns: str
    balances: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EMPLOYEES, 0))
    pool: int = 0
    stocks: list[int] = field(default_factory=lambda: list(STOCKS))
    active: dict[tuple[str, int], int] = field(default_factory=dict)
    transfers: list[Transfer] = field(default_factory=list)
    reversed: dict[str, int] = field(default_factory=dict)
    redemptions: list[tuple[str, int, str, datetime, bool]] = field(default_factory=list)
    """(employee, reward index, redemption id, deadline, cancelled)"""

    @property
    def org(self) -> str:
        return f"org-{self.ns}"

    def subject(self, e: str) -> str:
        return f"{self.ns}-{e}"

    def account_balance(self, account: str) -> int | None:
        """The model's balance of an account it tracks (this example's employees and pool)."""
        for e in EMPLOYEES:
            if account == ledger.employee_account(self.subject(e)):
                return self.balances[e]
        return self.pool if account == ledger.company_pool_account(self.org) else None

    def move(self, account: str, delta: int) -> None:
        for e in EMPLOYEES:
            if account == ledger.employee_account(self.subject(e)):
                self.balances[e] += delta
        if account == ledger.company_pool_account(self.org):
            self.pool += delta


def _expect(expected: type[CarbonLedgerError] | None, action: Any) -> Any:
    """Runs the action; the model says whether it succeeds or which error it raises."""
    if expected is None:
        return action()
    with pytest.raises(expected):
        action()
    return None


def _stored(db: Database, transfer_id: str) -> Transfer:
    with db.read_sessions() as session:
        row = session.get(PointsTransferRow, transfer_id)
        assert row is not None
        return points.to_transfer(row)


def _record(model: Model, posted: points.PostedTransfer) -> None:
    model.transfers.append(points.to_transfer(posted.row))


def _apply(db: Database, model: Model, op: tuple[Any, ...], now: datetime, reward_ids: list[str]) -> datetime:
    kind = op[0]
    if kind == "issue":
        _, e, amount = op
        transfer_id = fund(db, model.subject(e), amount, now=now, org=model.org)
        model.balances[e] += amount
        model.transfers.append(_stored(db, transfer_id))
    elif kind == "redeem":
        _, e, r = op
        used = model.active.get((e, r), 0)
        expected: type[CarbonLedgerError] | None = None
        if model.stocks[r] == 0:
            expected = OutOfStock
        elif LIMITS[r] is not None and used >= (LIMITS[r] or 0):
            expected = RedemptionLimitReached
        elif model.balances[e] < PRICES[r]:
            expected = InsufficientPoints
        caller = Principal("employee", model.subject(e), model.org)
        key = f"k-{uuid.uuid4().hex}"
        done = _expect(expected, lambda: rewards.redeem(db, SUBJECT_KEY, caller, reward_ids[r], key, now))
        if done is not None:
            model.balances[e] -= PRICES[r]
            model.stocks[r] -= 1
            model.active[(e, r)] = used + 1
            model.redemptions.append((e, r, done.row.id, now + CANCEL_WINDOW, False))
    elif kind == "cancel" and model.redemptions:
        index = op[1] % len(model.redemptions)
        e, r, rid, deadline, cancelled = model.redemptions[index]
        closed = not cancelled and now >= deadline
        caller = Principal("employee", model.subject(e), model.org)
        done = _expect(
            CancellationClosed if closed else None, lambda: rewards.cancel(db, SUBJECT_KEY, caller, rid, now)
        )
        if done is not None:
            assert done.created == (not cancelled)
            if not cancelled:
                model.balances[e] += PRICES[r]
                model.stocks[r] += 1
                model.active[(e, r)] -= 1
                model.redemptions[index] = (e, r, rid, deadline, True)
    elif kind == "correct":
        correctable = [t for t in model.transfers if t.kind in ledger.CORRECTABLE]
        if correctable:
            original = correctable[op[1] % len(correctable)]
            remaining = original.amount - model.reversed.get(original.id, 0)
            wanted = remaining if op[2] is None else op[2]
            source = model.account_balance(original.credit_account)
            expected = None
            if remaining <= 0:
                expected = ledger.ReversalNotAllowed
            elif wanted > remaining:
                expected = InvalidInput
            elif source is not None and source < wanted:
                expected = InsufficientPoints
            done = _expect(
                expected,
                lambda: points.correct(
                    db, SUBJECT_KEY, transfer_id=str(uuid.uuid4()), reverses_id=original.id,
                    reason_code="fraud", amount=op[2], note=None, actor="op-1", actor_org=None, now=now,
                ),
            )  # fmt: skip
            if done is not None:
                model.reversed[original.id] = model.reversed.get(original.id, 0) + wanted
                model.move(original.credit_account, -wanted)
                model.move(original.debit_account, wanted)
                _record(model, done)
    elif kind == "allocate":
        _record(model, _grant(db, model, TransferKind.ALLOCATION, None, op[1], now))
        model.pool += op[1]
    elif kind == "award":
        _, e, amount = op
        expected = InsufficientPoints if model.pool < amount else None
        done = _expect(expected, lambda: _grant(db, model, TransferKind.AWARD, model.subject(e), amount, now))
        if done is not None:
            model.pool -= amount
            model.balances[e] += amount
            _record(model, done)
    elif kind == "expire":
        now += timedelta(days=op[1])
        points.expire_due(db, SUBJECT_KEY, 1, now)
        for e in EMPLOYEES:
            actual = balance(db, model.subject(e))
            assert 0 <= actual <= model.balances[e]  # expiry only ever takes points away
            model.balances[e] = actual
            for row in points.find_transfers(db, org_id=None, employee=model.subject(e)):
                if row.kind == "expiry" and row.id not in {t.id for t in model.transfers}:
                    model.transfers.append(points.to_transfer(row))
    elif kind == "replay" and model.transfers:
        original = model.transfers[op[1] % len(model.transfers)]
        same = op[2]
        attempt = original if same else Transfer(**{**vars(original), "amount": original.amount + 1})

        def post() -> points.PostedTransfer:
            with db.write_sessions() as session, session.begin():
                return points.post_transfer(session, attempt, subject=None, now=now)

        done = _expect(None if same else TransferConflict, post)
        assert done is None or not done.created
    return now + timedelta(hours=1)


def _grant(
    db: Database, model: Model, kind: TransferKind, subject: str | None, amount: int, now: datetime
) -> points.PostedTransfer:
    return points.grant(
        db, SUBJECT_KEY, transfer_id=str(uuid.uuid4()), kind=kind, org_id=model.org, employee=subject,
        amount=amount, note=None, actor=OPERATOR, now=now,
    )  # fmt: skip


def _check(db: Database, model: Model, reward_ids: list[str]) -> None:
    audit = points.audit_ledger(db)
    assert audit.sum_of_balances == 0
    assert audit.mismatched_accounts == () and audit.overdrawn_accounts == ()
    for e in EMPLOYEES:
        assert balance(db, model.subject(e)) == model.balances[e] >= 0
    with db.read_sessions() as session:
        assert points.balance_of(session, ledger.company_pool_account(model.org)).points == model.pool
    assert [stock(db, r) for r in reward_ids] == model.stocks


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_any_sequence_of_operations_conserves_points(db: Database, operations: list[tuple[Any, ...]]) -> None:
    model = Model(uuid.uuid4().hex[:10])
    enroll(db, model.org, *(model.subject(e) for e in EMPLOYEES))
    reward_ids = [
        rewards.create_reward(
            db,
            OPERATOR,
            rewards.RewardSpec(
                name=f"reward {i}", price_points=PRICES[i], stock=STOCKS[i], per_employee_limit=LIMITS[i],
                companies=(model.org,), cancel_window_s=int(CANCEL_WINDOW.total_seconds()),
            ),
            {"i": i},
            None,
            0,
            START,
        )[0].id
        for i in range(2)
    ]  # fmt: skip
    now = START
    for op in operations:
        now = _apply(db, model, op, now, reward_ids)
        _check(db, model, reward_ids)
