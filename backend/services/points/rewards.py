"""Use cases: the rewards catalogue, redemption (atomic, idempotent) and cancellation (refund).

A redemption is one write transaction: log head lock, then the reward row, then the employee's
account row, both ``FOR UPDATE`` on PostgreSQL. Under those locks it checks availability, stock,
the employee's limit and balance, posts the transfer (employee → redemption sink), takes one unit
of stock and issues the voucher. Two taps on one phone, two phones, or a thousand employees after
the last unit: each check reads state no other redemption can change before this one commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm_points import RedemptionRow, RewardRow
from backend.domain import idempotency
from backend.domain.errors import InvalidInput, NotFound, PermissionDenied
from backend.domain.log.records import subject_commitment
from backend.domain.points import points as ledger
from backend.domain.points import rewards as rules
from backend.domain.points import vouchers as voucher_rules
from backend.domain.points.points import Balance, Transfer, TransferKind
from backend.domain.states import RedemptionStatus
from backend.observability import metrics
from backend.services.identity.tokens import Principal
from backend.services.points.points import balance_of, is_postgres, lock_accounts, post_transfer

MAX_PAGE_SIZE = 100
MAX_CATALOGUE = 500
"""Rewards listed at once: a park's catalogue is tens of items; this bounds a response."""
MANAGERS = ("operator", "company_admin")


@dataclass(frozen=True)
class RewardSpec:
    name: str
    price_points: int
    stock: int
    name_zh: str | None = None
    description: str | None = None
    per_employee_limit: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    companies: tuple[str, ...] | None = None
    cancel_window_s: int | None = None
    active: bool = True
    merchant: str | None = None


@dataclass(frozen=True)
class RewardChanges:
    """A partial update; ``add_stock`` adds (or, negative, withdraws) units without racing redemptions."""

    add_stock: int = 0
    active: bool | None = None
    price_points: int | None = None
    per_employee_limit: int | None = None
    valid_until: datetime | None = None
    fields_set: frozenset[str] = field(default_factory=frozenset)


def _check_window(spec: RewardSpec) -> None:
    if spec.valid_from and spec.valid_until and spec.valid_until <= spec.valid_from:
        raise InvalidInput("valid_until", "must be after valid_from")


def create_reward(
    db: Database,
    actor: Principal,
    spec: RewardSpec,
    request: dict[str, Any],
    idempotency_key: str | None,
    default_cancel_window_s: int,
    now: datetime,
) -> tuple[RewardRow, bool]:
    """Adds a reward to the catalogue; a company admin's reward is open to its own company only."""
    if actor.role not in MANAGERS:
        raise PermissionDenied("only operators and company admins manage rewards")
    _check_window(spec)
    companies = spec.companies
    owner_org = None
    if actor.role == "company_admin":
        if actor.org is None:
            raise PermissionDenied("this company admin token names no company")
        if companies is not None and set(companies) != {actor.org}:
            raise PermissionDenied("a company admin offers rewards to its own company only")
        companies, owner_org = (actor.org,), actor.org
    digest = idempotency.request_hash(request)
    try:
        with db.write_sessions() as session, session.begin():
            if idempotency_key is not None:
                existing = _reward_by_key(session, actor.subject, idempotency_key)
                if existing is not None:
                    return _replay_reward(existing, digest), False
            row = RewardRow(
                id=str(uuid.uuid4()),
                name=spec.name,
                name_zh=spec.name_zh,
                description=spec.description,
                price_points=spec.price_points,
                stock=spec.stock,
                per_employee_limit=spec.per_employee_limit,
                valid_from=spec.valid_from,
                valid_until=spec.valid_until,
                companies=list(companies) if companies is not None else None,
                owner_org=owner_org,
                merchant=spec.merchant,
                cancel_window_s=default_cancel_window_s
                if spec.cancel_window_s is None
                else spec.cancel_window_s,
                active=spec.active,
                created_by=actor.subject,
                idempotency_key=idempotency_key,
                request_hash=digest if idempotency_key else None,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
        return row, True
    except IntegrityError:
        with db.read_sessions() as session:
            existing = _reward_by_key(session, actor.subject, idempotency_key or "")
            if existing is None:
                raise
            return _replay_reward(existing, digest), False


def _reward_by_key(session: Session, creator: str, key: str) -> RewardRow | None:
    stmt = select(RewardRow).where(RewardRow.created_by == creator, RewardRow.idempotency_key == key)
    row: RewardRow | None = session.execute(stmt).scalar_one_or_none()
    return row


def _replay_reward(row: RewardRow, digest: str) -> RewardRow:
    idempotency.check_replay(row.request_hash, digest)
    return row


def _managed(session: Session, actor: Principal, reward_id: str, *, lock: bool) -> RewardRow:
    stmt = select(RewardRow).where(RewardRow.id == reward_id)
    if lock and is_postgres(session):
        stmt = stmt.with_for_update()
    row = session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None or (actor.role == "company_admin" and row.owner_org != actor.org):
        raise NotFound(f"reward {reward_id} not found")
    if actor.role not in MANAGERS:
        raise PermissionDenied("only operators and company admins manage rewards")
    return row


def update_reward(
    db: Database, actor: Principal, reward_id: str, changes: RewardChanges, now: datetime
) -> RewardRow:
    with db.write_sessions() as session, session.begin():
        SqlLogStore(session).lock_head()  # the one lock order: head, reward, accounts
        row = _managed(session, actor, reward_id, lock=True)
        if row.stock + changes.add_stock < 0:
            raise InvalidInput("add_stock", f"only {row.stock} unit(s) are left to withdraw")
        row.stock += changes.add_stock
        if changes.active is not None:
            row.active = changes.active
        if changes.price_points is not None:
            row.price_points = changes.price_points
        if "per_employee_limit" in changes.fields_set:
            row.per_employee_limit = changes.per_employee_limit
        if "valid_until" in changes.fields_set:
            if changes.valid_until and row.valid_from and changes.valid_until <= row.valid_from:
                raise InvalidInput("valid_until", "must be after valid_from")
            row.valid_until = changes.valid_until
        row.updated_at = now
        return row


def list_managed(db: Database, actor: Principal) -> list[RewardRow]:
    with db.read_sessions() as session:
        stmt = select(RewardRow).order_by(RewardRow.created_at.desc(), RewardRow.id).limit(MAX_CATALOGUE)
        if actor.role == "company_admin":
            stmt = stmt.where(RewardRow.owner_org == actor.org)
        return list(session.execute(stmt).scalars())


def terms_of(row: RewardRow) -> rules.RewardTerms:
    return rules.RewardTerms(
        price_points=int(row.price_points),
        stock=int(row.stock),
        per_employee_limit=row.per_employee_limit,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        companies=tuple(row.companies) if row.companies is not None else None,
        active=row.active,
    )


def _redeemed_count(session: Session, subject_id: str, reward_ids: list[str]) -> dict[str, int]:
    stmt = (
        select(RedemptionRow.reward_id, func.count())
        .where(
            RedemptionRow.subject_id == subject_id,
            RedemptionRow.reward_id.in_(reward_ids),
            RedemptionRow.status != RedemptionStatus.CANCELLED,
        )
        .group_by(RedemptionRow.reward_id)
    )
    return {str(r): int(n) for r, n in session.execute(stmt).all()}


@dataclass(frozen=True)
class CatalogueEntry:
    """A reward as an employee sees it in the catalogue, under the public names (the routes convert
    it with pydantic's ``from_attributes``; no ORM row leaves the services)."""

    id: str
    name: str
    name_zh: str | None
    description: str | None
    price_points: int
    stock: int
    per_employee_limit: int | None
    my_redemptions: int
    valid_from: datetime | None
    valid_until: datetime | None
    cancel_window_s: int

    @classmethod
    def of(cls, row: RewardRow, mine: int) -> CatalogueEntry:
        same = {f.name: getattr(row, f.name) for f in fields(cls) if f.name != "my_redemptions"}
        return cls(**same, my_redemptions=mine)


def catalogue(db: Database, subject_id: str, org_id: str | None, now: datetime) -> list[CatalogueEntry]:
    """Rewards open to the employee's company and redeemable now, with how often they redeemed each."""
    with db.read_sessions() as session:
        stmt = (
            select(RewardRow)
            .where(RewardRow.active.is_(True))
            .order_by(RewardRow.price_points, RewardRow.id)
            .limit(MAX_CATALOGUE)
        )
        rows = [
            r
            for r in session.execute(stmt).scalars()
            if rules.open_to(terms_of(r), org_id)
            and (r.valid_from is None or r.valid_from <= now)
            and (r.valid_until is None or now < r.valid_until)
        ]
        counts = _redeemed_count(session, subject_id, [r.id for r in rows])
    return [CatalogueEntry.of(r, counts.get(r.id, 0)) for r in rows]


# --- Redemption ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedemptionView:
    """A redemption as its employee sees it, under the public names (converted by the routes with
    pydantic's ``from_attributes``)."""

    id: str
    reward_id: str
    reward_name: str
    reward_name_zh: str | None
    voucher_code: str
    price_points: int
    status: RedemptionStatus
    created_at: datetime
    cancellable_until: datetime
    cancelled_at: datetime | None
    expires_at: datetime
    used_at: datetime | None
    balance: int | None = None
    """The employee's balance after the request that returned it (none when only read)."""

    @classmethod
    def of(cls, row: RedemptionRow, reward: RewardRow, balance: int | None = None) -> RedemptionView:
        return cls(
            id=row.id,
            reward_id=row.reward_id,
            reward_name=reward.name,
            reward_name_zh=reward.name_zh,
            voucher_code=row.voucher_code,
            price_points=row.price_points,
            status=row.status,
            created_at=row.created_at,
            cancellable_until=row.cancel_deadline,
            cancelled_at=row.cancelled_at,
            expires_at=voucher_rules.ends_at(row.created_at, row.expires_at),
            used_at=row.used_at,
            balance=balance,
        )

    @property
    def voucher_qr_url(self) -> str | None:
        return f"/mp/v1/redemptions/{self.id}/qr" if self.status == RedemptionStatus.ISSUED else None


@dataclass(frozen=True)
class Redeemed:
    row: RedemptionRow
    reward: RewardRow
    created: bool
    balance: int

    @property
    def view(self) -> RedemptionView:
        return RedemptionView.of(self.row, self.reward, self.balance)


def _by_key(session: Session, subject_id: str, key: str) -> RedemptionRow | None:
    stmt = select(RedemptionRow).where(
        RedemptionRow.subject_id == subject_id, RedemptionRow.idempotency_key == key
    )
    row: RedemptionRow | None = session.execute(stmt).scalar_one_or_none()
    return row


def _replay(session: Session, row: RedemptionRow, digest: str, account: str) -> Redeemed:
    idempotency.check_replay(row.request_hash, digest)
    reward = session.get(RewardRow, row.reward_id)
    assert reward is not None
    return Redeemed(row, reward, created=False, balance=balance_of(session, account).points)


def redeem(
    db: Database,
    subject_key: bytes,
    caller: Principal,
    reward_id: str,
    idempotency_key: str,
    now: datetime,
) -> Redeemed:
    """Redeems one unit of a reward for the calling employee; a replay returns the original voucher."""
    digest = idempotency.request_hash({"reward_id": reward_id})
    account = ledger.employee_account(caller.subject)
    _refuse_early(db, caller, reward_id, idempotency_key, now)
    try:
        with db.write_sessions() as session, session.begin():
            SqlLogStore(session).lock_head()
            existing = _by_key(session, caller.subject, idempotency_key)
            if existing is not None:
                return _replay(session, existing, digest, account)
            reward = session.execute(
                _locked(session, select(RewardRow).where(RewardRow.id == reward_id))
            ).scalar_one_or_none()
            if reward is None:
                raise NotFound(f"reward {reward_id} not found")
            held = lock_accounts(session, [account], now, caller.org)[account]
            balance = Balance(held.debits_posted, held.credits_posted).points
            count = _redeemed_count(session, caller.subject, [reward.id]).get(reward.id, 0)
            rules.check_redeemable(reward.id, terms_of(reward), caller.org, now, count, balance)
            redemption_id = str(uuid.uuid4())
            transfer = Transfer(
                id=ledger.derived_id("redemption", redemption_id),
                debit_account=account,
                credit_account=ledger.REDEMPTION_SINK,
                amount=int(reward.price_points),
                kind=TransferKind.REDEMPTION,
                redemption_id=redemption_id,
            )
            post_transfer(
                session,
                transfer,
                subject=subject_commitment(subject_key, caller.subject),
                now=now,
                org_id=caller.org,
                details={"reward": reward.id},
            )
            reward.stock -= 1
            reward.updated_at = now
            row = RedemptionRow(
                id=redemption_id,
                subject_id=caller.subject,
                org_id=caller.org,
                reward_id=reward.id,
                idempotency_key=idempotency_key,
                request_hash=digest,
                price_points=int(reward.price_points),
                voucher_code=rules.new_voucher_code(),
                status=RedemptionStatus.ISSUED,
                transfer_id=transfer.id,
                created_at=now,
                cancel_deadline=rules.cancel_deadline(now, reward.cancel_window_s),
                expires_at=voucher_rules.expiry(now, reward.valid_until),
            )
            session.add(row)
            redeemed = Redeemed(row, reward, created=True, balance=balance - transfer.amount)
        metrics.observe_points("redeemed", transfer.amount)
        return redeemed
    except IntegrityError:
        with db.read_sessions() as session:
            existing = _by_key(session, caller.subject, idempotency_key)
            if existing is None:
                raise
            return _replay(session, existing, digest, account)


def _refuse_early(
    db: Database, caller: Principal, reward_id: str, idempotency_key: str, now: datetime
) -> None:
    """Refuses a sold-out or unavailable reward without queueing for the write locks.

    A crowd after the last unit is answered at read speed. The reward is read *before* the key, so
    a retry of the request that took the last unit finds its redemption (committed together with
    the stock it took) and goes on to be replayed; anything else is refused as the locked path
    would refuse it, at a moment just before.
    """
    with db.read_sessions() as session:
        reward = session.get(RewardRow, reward_id)
        if reward is None:
            return
        terms = terms_of(reward)
        if _by_key(session, caller.subject, idempotency_key) is not None:
            return
    rules.check_redeemable(
        reward_id, terms, caller.org, now, redeemed_by_employee=0, balance=terms.price_points
    )


def _locked(session: Session, stmt: Any) -> Any:
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return stmt.execution_options(populate_existing=True)


def cancel(
    db: Database, subject_key: bytes, caller: Principal, redemption_id: str, now: datetime
) -> Redeemed:
    """Cancels the employee's redemption within its window: refund transfer, stock back. Idempotent."""
    account = ledger.employee_account(caller.subject)
    with db.write_sessions() as session, session.begin():
        SqlLogStore(session).lock_head()
        row = session.execute(
            _locked(session, select(RedemptionRow).where(RedemptionRow.id == redemption_id))
        ).scalar_one_or_none()
        if row is None or row.subject_id != caller.subject:
            raise NotFound(f"redemption {redemption_id} not found")
        reward = session.execute(
            _locked(session, select(RewardRow).where(RewardRow.id == row.reward_id))
        ).scalar_one()
        if row.status == RedemptionStatus.CANCELLED:
            return Redeemed(row, reward, created=False, balance=balance_of(session, account).points)
        rules.check_cancellable(row.id, row.status, row.cancel_deadline, now)
        refund = Transfer(
            id=ledger.derived_id("refund", row.id),
            debit_account=ledger.REDEMPTION_SINK,
            credit_account=account,
            amount=int(row.price_points),
            kind=TransferKind.REFUND,
            reason_code="cancelled",
            redemption_id=row.id,
        )
        post_transfer(
            session,
            refund,
            subject=subject_commitment(subject_key, caller.subject),
            now=now,
            org_id=row.org_id,
            details={"reward": reward.id},
        )
        reward.stock += 1
        reward.updated_at = now
        row.status, row.cancelled_at, row.refund_transfer_id = RedemptionStatus.CANCELLED, now, refund.id
        return Redeemed(row, reward, created=True, balance=balance_of(session, account).points)


def my_redemptions(
    db: Database, subject_id: str, limit: int, offset: int
) -> tuple[list[RedemptionView], int]:
    with db.read_sessions() as session:
        where = RedemptionRow.subject_id == subject_id
        total = int(
            session.execute(select(func.count()).select_from(RedemptionRow).where(where)).scalar_one()
        )
        stmt = (
            select(RedemptionRow, RewardRow)
            .join(RewardRow, RewardRow.id == RedemptionRow.reward_id)
            .where(where)
            .order_by(RedemptionRow.created_at.desc(), RedemptionRow.id)
            .limit(min(limit, MAX_PAGE_SIZE))
            .offset(offset)
        )
        return [RedemptionView.of(r, w) for r, w in session.execute(stmt).all()], total


def get_redemption(db: Database, subject_id: str, redemption_id: str) -> tuple[RedemptionRow, RewardRow]:
    with db.read_sessions() as session:
        row = session.get(RedemptionRow, redemption_id)
        if row is None or row.subject_id != subject_id:
            raise NotFound(f"redemption {redemption_id} not found")
        reward = session.get(RewardRow, row.reward_id)
        assert reward is not None
        return row, reward
