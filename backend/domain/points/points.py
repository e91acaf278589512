"""The carbon points ledger: accounts, transfers, reversals and expiry, as plain values and rules.

Double entry after TigerBeetle: points are never created or destroyed, only moved. Every movement
is a :class:`Transfer` of a positive integer amount from a debit account to a credit account, so the
sum of all balances (credits − debits) is zero at all times. Points enter circulation from the park
issuance account, whose balance is the negative of everything issued; they leave it into sinks
(redemptions, expiry). Accounts that hold someone's points (employees, company pools) and the sinks
may never overdraw. Nothing is edited: a correction is a new transfer in the opposite direction
with a reason code, pointing at the transfer it reverses. The client-chosen (or, for system
transfers, derived) transfer id is the idempotency key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

from backend.domain.errors import InsufficientPoints, InvalidInput, ReversalNotAllowed, TransferConflict

MAX_TRANSFER_POINTS = 10**12
"""Upper bound of one transfer: far above any real award, far below 2^63, so sums never overflow."""

PARK_ISSUANCE = "park:issuance"
REDEMPTION_SINK = "park:redemptions"
EXPIRY_SINK = "park:expired"

_ID_NAMESPACE = uuid.UUID("6f1d3c1e-2f9b-5d0e-9a53-2d8f4c1b7e10")
"""Namespace of derived transfer ids (UUIDv5), so a system transfer's id follows from its cause."""


class AccountKind(StrEnum):
    EMPLOYEE = "employee"
    COMPANY_POOL = "company_pool"
    PARK_ISSUANCE = "park_issuance"
    REDEMPTION_SINK = "redemption_sink"
    EXPIRY_SINK = "expiry_sink"


MAY_OVERDRAW = frozenset({AccountKind.PARK_ISSUANCE})
"""Only the issuance account goes negative: its balance is minus every point in circulation."""


class TransferKind(StrEnum):
    ISSUANCE = "issuance"  # park issuance → employee, for an accepted activity
    ALLOCATION = "allocation"  # park issuance → company pool
    AWARD = "award"  # company pool → employee
    REDEMPTION = "redemption"  # employee → redemption sink
    REFUND = "refund"  # redemption sink → employee, when a redemption is cancelled
    EXPIRY = "expiry"  # employee → expiry sink
    CORRECTION = "correction"  # the reverse of an earlier transfer, with a reason code


class ReasonCode(StrEnum):
    """Why a correction was made; shown in the employee's history."""

    FRAUD = "fraud"
    FACTOR_ERROR = "factor_error"
    DUPLICATE = "duplicate"
    DATA_ERROR = "data_error"
    OPERATOR_ERROR = "operator_error"
    OTHER = "other"


CORRECTABLE = frozenset(
    {
        TransferKind.ISSUANCE,
        TransferKind.ALLOCATION,
        TransferKind.AWARD,
        TransferKind.EXPIRY,
        TransferKind.CORRECTION,
    }
)
"""Kinds a correction may reverse. Redemptions are undone by cancelling them (a refund), which
also restores the stock; refunds are undone by nothing, as a cancelled voucher stays cancelled."""


def employee_account(subject_id: str) -> str:
    return f"employee:{subject_id}"


def company_pool_account(org_id: str) -> str:
    return f"company:{org_id}:pool"


def account_kind(account_id: str) -> AccountKind:
    if account_id.startswith("employee:"):
        return AccountKind.EMPLOYEE
    if account_id.startswith("company:") and account_id.endswith(":pool"):
        return AccountKind.COMPANY_POOL
    fixed = {
        PARK_ISSUANCE: AccountKind.PARK_ISSUANCE,
        REDEMPTION_SINK: AccountKind.REDEMPTION_SINK,
        EXPIRY_SINK: AccountKind.EXPIRY_SINK,
    }
    try:
        return fixed[account_id]
    except KeyError:
        raise InvalidInput("account", f"unknown account {account_id!r}") from None


def derived_id(purpose: str, *parts: str) -> str:
    """The id of a system record (a transfer, a rules version), derived from what caused it, so a
    retry finds the original."""
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join((purpose, *parts))))


@dataclass(frozen=True)
class Transfer:
    id: str
    debit_account: str
    credit_account: str
    amount: int
    kind: TransferKind
    reason_code: str | None = None
    reverses_id: str | None = None
    activity_id: str | None = None
    redemption_id: str | None = None

    def validate(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidInput("amount", "must be an integer number of points")
        if not 0 < self.amount <= MAX_TRANSFER_POINTS:
            raise InvalidInput("amount", f"must be between 1 and {MAX_TRANSFER_POINTS} points")
        if self.debit_account == self.credit_account:
            raise InvalidInput("credit_account", "must differ from the debit account")
        account_kind(self.debit_account)
        account_kind(self.credit_account)
        if (self.kind == TransferKind.CORRECTION) != (self.reverses_id is not None):
            raise InvalidInput("reverses", "a correction, and only a correction, reverses a transfer")
        if self.kind == TransferKind.CORRECTION and self.reason_code not in set(ReasonCode):
            raise InvalidInput("reason_code", f"must be one of {', '.join(ReasonCode)}")

    def same_fields(self, other: Transfer) -> bool:
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(self))


def check_replay(requested: Transfer, stored: Transfer) -> Transfer:
    """Same id and same fields: the stored transfer (the original result). Otherwise a conflict."""
    if not requested.same_fields(stored):
        differing = [
            f.name for f in fields(requested) if getattr(requested, f.name) != getattr(stored, f.name)
        ]
        raise TransferConflict(
            f"transfer {requested.id} already exists with other {', '.join(differing)}; "
            "use a new id for a new transfer"
        )
    return stored


@dataclass(frozen=True)
class Balance:
    """An account's posted totals; the balance is credits minus debits."""

    debits: int
    credits: int

    @property
    def points(self) -> int:
        return self.credits - self.debits


def check_debit(account_id: str, balance: Balance, amount: int) -> None:
    """Refuses a debit that would take an account which may not overdraw below zero."""
    if account_kind(account_id) in MAY_OVERDRAW:
        return
    if balance.points < amount:
        raise InsufficientPoints(
            f"the balance is {balance.points} points; {amount} are needed",
            balance=balance.points,
            required=amount,
        )


def reversal(
    original: Transfer, new_id: str, reason_code: str, amount: int | None, already_reversed: int
) -> Transfer:
    """The correction that moves ``amount`` (default: all not yet reversed) back to where it came from."""
    if original.kind not in CORRECTABLE:
        raise ReversalNotAllowed(
            f"a {original.kind} transfer is not corrected this way"
            + ("; cancel the redemption instead" if original.kind == TransferKind.REDEMPTION else "")
        )
    remaining = original.amount - already_reversed
    if remaining <= 0:
        raise ReversalNotAllowed(f"transfer {original.id} is already fully reversed")
    amount = remaining if amount is None else amount
    if amount > remaining:
        raise InvalidInput(
            "amount", f"at most {remaining} points of transfer {original.id} remain to reverse"
        )
    return Transfer(
        id=new_id,
        debit_account=original.credit_account,
        credit_account=original.debit_account,
        amount=amount,
        kind=TransferKind.CORRECTION,
        reason_code=reason_code,
        reverses_id=original.id,
        activity_id=original.activity_id,
        redemption_id=original.redemption_id,
    )


def conservation_sum(balances: Iterable[Balance]) -> int:
    """Sum of every account's balance: zero in any ledger built only from transfers."""
    return sum(b.points for b in balances)


def posted_totals(transfers: Iterable[Transfer]) -> dict[str, Balance]:
    """Each account's totals recomputed from the transfers alone (the reference for audits)."""
    debits: dict[str, int] = {}
    credits: dict[str, int] = {}
    for t in transfers:
        debits[t.debit_account] = debits.get(t.debit_account, 0) + t.amount
        credits[t.credit_account] = credits.get(t.credit_account, 0) + t.amount
    return {a: Balance(debits.get(a, 0), credits.get(a, 0)) for a in debits.keys() | credits.keys()}


# --- Expiry ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    """One transfer seen from an employee's account: signed amount, and the lot it belongs to.

    Points earned (issuance, award) form a lot dated when they were credited; a correction of an
    earned lot shrinks that lot (same date). Spending (redemption, expiry) is consumption, and a
    refund or a correction of spending undoes consumption. Consumption takes the oldest lots first.
    """

    amount: int
    lot_at: datetime | None


def expirable(movements: Iterable[Movement], cutoff: datetime) -> int:
    """Points of lots earned before ``cutoff`` that are still unspent (first in, first out)."""
    old = 0
    consumed = 0
    balance = 0
    for m in movements:
        balance += m.amount
        if m.lot_at is None:
            consumed -= m.amount
        elif m.lot_at < cutoff:
            old += m.amount
    return max(0, min(balance, old - consumed))


def movements_for(
    account_id: str, transfers: Iterable[Transfer], created_at: Mapping[str, datetime]
) -> list[Movement]:
    """The account's movements; ``created_at`` maps each transfer id (and every reversed one) to its time."""
    by_id = {t.id: t for t in transfers}

    def lot_of(t: Transfer) -> datetime | None:
        seen = 0
        while t.kind == TransferKind.CORRECTION and t.reverses_id in by_id and seen < len(by_id):
            t = by_id[t.reverses_id]
            seen += 1
        earned = t.kind in (TransferKind.ISSUANCE, TransferKind.AWARD) and t.credit_account == account_id
        return created_at[t.id] if earned else None

    result = []
    for t in by_id.values():
        if account_id not in (t.debit_account, t.credit_account):
            continue
        sign = 1 if t.credit_account == account_id else -1
        result.append(Movement(sign * t.amount, lot_of(t)))
    return result
