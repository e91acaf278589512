"""Use cases of the points ledger: post a transfer, balances, history, corrections, expiry, audit.

Every writer takes the log head lock first (every transfer appends a leaf, so it must anyway), then
the reward row if any, then the account rows in id order: one lock order, so no deadlock. The
account rows are locked ``FOR UPDATE`` on PostgreSQL (SQLite already serializes writers with
``BEGIN IMMEDIATE``), and the balance check reads them under that lock. A transfer, its account
totals and its leaf are written in the caller's one transaction: all or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import ActivityRow
from backend.adapters.orm_identity import CompanyRow, EmployeeRow
from backend.adapters.orm_points import PointsAccountRow, PointsTransferRow, RedemptionRow, RewardRow
from backend.domain.errors import InvalidInput, NotFound, PermissionDenied
from backend.domain.log.record_kinds import PointsTransferBody, encode
from backend.domain.log.records import subject_commitment
from backend.domain.points import points as ledger
from backend.domain.points.points import AccountKind, Balance, Transfer, TransferKind
from backend.domain.points.points_rules import months_before
from backend.domain.states import EmployeeStatus
from backend.services.identity.tokens import Principal

MAX_PAGE_SIZE = 100
MAX_EXPIRY_ACCOUNTS_PER_RUN = 5_000
"""Accounts one expiry run looks at: bounds a scheduler tick; the next run carries on."""


@dataclass(frozen=True)
class PostedTransfer:
    row: PointsTransferRow
    created: bool


DEFERRED_ACCOUNTS = frozenset({ledger.PARK_ISSUANCE})
"""Accounts a queued transfer's accepting transaction leaves alone: the sequencer posts their side
when it logs the transfer (``CARBON_SEQUENCING=queued``; :mod:`backend.services.recording.sequencing`)."""


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name != "sqlite"


def to_transfer(row: PointsTransferRow) -> Transfer:
    return Transfer(
        id=row.id,
        debit_account=row.debit_account_id,
        credit_account=row.credit_account_id,
        amount=int(row.amount),
        kind=TransferKind(row.kind),
        reason_code=row.reason_code,
        reverses_id=row.reverses_id,
        activity_id=row.activity_id,
        redemption_id=row.redemption_id,
    )


def _owner(account_id: str) -> str | None:
    kind = ledger.account_kind(account_id)
    if kind == AccountKind.EMPLOYEE:
        return account_id.removeprefix("employee:")
    if kind == AccountKind.COMPANY_POOL:
        return account_id.removeprefix("company:").removesuffix(":pool")
    return None


def lock_accounts(
    session: Session,
    account_ids: Iterable[str],
    now: datetime,
    org_id: str | None = None,
    org_of: Mapping[str, str | None] | None = None,
) -> dict[str, PointsAccountRow]:
    """The account rows, created when missing and locked for this transaction (in id order).

    A new employee account belongs to ``org_of[account]`` when given, else to ``org_id``."""
    wanted = sorted(set(account_ids))
    stmt = select(PointsAccountRow).where(PointsAccountRow.id.in_(wanted)).order_by(PointsAccountRow.id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    found = {r.id: r for r in session.execute(stmt.execution_options(populate_existing=True)).scalars()}
    for account_id in wanted:
        if account_id not in found:
            kind = ledger.account_kind(account_id)
            row = PointsAccountRow(
                id=account_id,
                kind=kind.value,
                owner_id=_owner(account_id),
                org_id=(org_of or {}).get(account_id, org_id)
                if kind == AccountKind.EMPLOYEE
                else _owner(account_id),
                debits_posted=0,
                credits_posted=0,
                created_at=now,
            )
            session.add(row)
            found[account_id] = row
    session.flush()
    return found


def _public_account(account_id: str) -> str:
    """How an account appears in the log: an employee is the leaf's subject commitment, never an id."""
    return "employee" if ledger.account_kind(account_id) == AccountKind.EMPLOYEE else account_id


def apply_to_accounts(
    transfer: Transfer, accounts: dict[str, PointsAccountRow], deferred: frozenset[str] = frozenset()
) -> None:
    """Moves the amount between the (locked) account rows; refuses what would overdraw the debit.

    A side in ``deferred`` (an account that may overdraw, e.g. park issuance under queued
    sequencing) is left for the sequencer to post when it logs the transfer."""
    if transfer.debit_account not in deferred:
        debit = accounts[transfer.debit_account]
        ledger.check_debit(debit.id, Balance(debit.debits_posted, debit.credits_posted), transfer.amount)
        debit.debits_posted += transfer.amount
    if transfer.credit_account not in deferred:
        accounts[transfer.credit_account].credits_posted += transfer.amount


def transfer_leaf(
    transfer: Transfer,
    *,
    subject: str | None,
    now: datetime,
    org_id: str | None,
    details: dict[str, Any] | None,
) -> bytes:
    """The transfer's logged record: an employee appears as the subject commitment, never an id."""
    body = PointsTransferBody(
        kind=transfer.kind.value,
        debit=_public_account(transfer.debit_account),
        credit=_public_account(transfer.credit_account),
        amount=transfer.amount,
        reason_code=transfer.reason_code,
        reverses=transfer.reverses_id,
        activity=transfer.activity_id,
        redemption=transfer.redemption_id,
        org=org_id,
        details=details or {},
        at=now.isoformat(),
    )
    return encode(transfer.id, subject, body)


def transfer_row(
    transfer: Transfer,
    leaf_index: int | None,
    now: datetime,
    *,
    details: dict[str, Any] | None = None,
    note: str | None = None,
    created_by: str | None = None,
) -> PointsTransferRow:
    return PointsTransferRow(
        id=transfer.id,
        debit_account_id=transfer.debit_account,
        credit_account_id=transfer.credit_account,
        amount=transfer.amount,
        kind=transfer.kind.value,
        reason_code=transfer.reason_code,
        reverses_id=transfer.reverses_id,
        activity_id=transfer.activity_id,
        redemption_id=transfer.redemption_id,
        details=details or {},
        note=note,
        created_by=created_by,
        leaf_index=leaf_index,
        created_at=now,
    )


def post_transfer(
    session: Session,
    transfer: Transfer,
    *,
    subject: str | None,
    now: datetime,
    org_id: str | None = None,
    details: dict[str, Any] | None = None,
    note: str | None = None,
    created_by: str | None = None,
) -> PostedTransfer:
    """Posts one transfer in the caller's write transaction; a replay returns the original.

    ``subject`` is the subject commitment of the employee on either side (logged instead of an id).
    """
    transfer.validate()
    log = SqlLogStore(session)
    log.lock_head()
    stored = session.get(PointsTransferRow, transfer.id, populate_existing=True)
    if stored is not None:
        ledger.check_replay(transfer, to_transfer(stored))
        return PostedTransfer(stored, created=False)
    accounts = lock_accounts(session, (transfer.debit_account, transfer.credit_account), now, org_id)
    apply_to_accounts(transfer, accounts)
    leaf = transfer_leaf(transfer, subject=subject, now=now, org_id=org_id, details=details)
    (leaf_index,) = log.append([PendingLeaf("points_transfer", transfer.id, leaf)], now)
    row = transfer_row(transfer, leaf_index, now, details=details, note=note, created_by=created_by)
    session.add(row)
    session.flush()
    return PostedTransfer(row, created=True)


# --- Reading ---------------------------------------------------------------------------------------


def balance_of(session: Session, account_id: str) -> Balance:
    row = session.get(PointsAccountRow, account_id)
    return Balance(0, 0) if row is None else Balance(int(row.debits_posted), int(row.credits_posted))


@dataclass(frozen=True)
class AccountSummary:
    balance: int
    earned: int
    redeemed: int
    expired: int
    corrected: int
    expiring_points: int
    """Points that expire at the next expiry runs within the look-ahead (0 when points never expire)."""
    expiring_by: datetime | None


def _signed(account_id: str) -> Any:
    return case(
        (PointsTransferRow.credit_account_id == account_id, PointsTransferRow.amount),
        else_=-PointsTransferRow.amount,
    )


def _signed_by_kind(session: Session, account_id: str) -> dict[str, int]:
    stmt = (
        select(PointsTransferRow.kind, func.sum(_signed(account_id)))
        .where(_involving(account_id))
        .group_by(PointsTransferRow.kind)
    )
    return {str(k): int(v or 0) for k, v in session.execute(stmt).all()}


def _involving(account_id: str) -> Any:
    return or_(
        PointsTransferRow.debit_account_id == account_id, PointsTransferRow.credit_account_id == account_id
    )


def summary(
    db: Database, subject_id: str, expiry_months: int, now: datetime, look_ahead_days: int
) -> AccountSummary:
    account = ledger.employee_account(subject_id)
    with db.read_sessions() as session:
        total = _signed_by_kind(session, account)
        bal = balance_of(session, account)
        expiring, by = 0, None
        if expiry_months > 0 and bal.points > 0:
            by = now + timedelta(days=look_ahead_days)
            expiring = _expirable(session, account, months_before(by, expiry_months))
    return AccountSummary(
        balance=bal.points,
        earned=total.get("issuance", 0) + total.get("award", 0),
        redeemed=-(total.get("redemption", 0) + total.get("refund", 0)),
        expired=-total.get("expiry", 0),
        corrected=total.get("correction", 0),
        expiring_points=expiring,
        expiring_by=by,
    )


@dataclass(frozen=True)
class HistoryLine:
    transfer: PointsTransferRow
    amount: int
    """Signed: positive into the employee's account."""
    balance_after: int
    activity: ActivityRow | None
    reward: RewardRow | None


def history(db: Database, subject_id: str, limit: int, offset: int) -> tuple[list[HistoryLine], int, int]:
    """The employee's transfers, newest first, each with its balance after and what is behind it."""
    account = ledger.employee_account(subject_id)
    limit = min(limit, MAX_PAGE_SIZE)
    with db.read_sessions() as session:
        bal = balance_of(session, account).points
        total = int(
            session.execute(
                select(func.count()).select_from(PointsTransferRow).where(_involving(account))
            ).scalar_one()
        )
        rows = list(
            session.execute(
                select(PointsTransferRow)
                .where(_involving(account))
                .order_by(PointsTransferRow.leaf_index.desc().nulls_first(), PointsTransferRow.id)
                .limit(limit)
                .offset(offset)
            ).scalars()
        )
        newer = 0
        if rows:
            # Newer than the page: logged later, or still waiting for the sequencer (queued).
            first, waiting = rows[0], PointsTransferRow.leaf_index.is_(None)
            after = (
                or_(PointsTransferRow.leaf_index > first.leaf_index, waiting)
                if first.leaf_index is not None
                else and_(waiting, PointsTransferRow.id < first.id)
            )
            newer = int(
                session.execute(
                    select(func.coalesce(func.sum(_signed(account)), 0)).where(_involving(account), after)
                ).scalar_one()
            )
        activities = _by_id(session, ActivityRow, {r.activity_id for r in rows if r.activity_id})
        redemptions = _by_id(session, RedemptionRow, {r.redemption_id for r in rows if r.redemption_id})
        rewards = _by_id(session, RewardRow, {r.reward_id for r in redemptions.values()})
    lines = []
    running = bal - newer
    for row in rows:
        amount = int(row.amount) if row.credit_account_id == account else -int(row.amount)
        redemption = redemptions.get(row.redemption_id or "")
        lines.append(
            HistoryLine(
                transfer=row,
                amount=amount,
                balance_after=running,
                activity=activities.get(row.activity_id or ""),
                reward=rewards.get(redemption.reward_id) if redemption else None,
            )
        )
        running -= amount
    return lines, total, bal


def _by_id(session: Session, table: Any, ids: set[str]) -> dict[str, Any]:
    if not ids:
        return {}
    return {r.id: r for r in session.execute(select(table).where(table.id.in_(sorted(ids)))).scalars()}


# --- Corrections -----------------------------------------------------------------------------------


def correct(
    db: Database,
    subject_key: bytes,
    *,
    transfer_id: str,
    reverses_id: str,
    reason_code: str,
    amount: int | None,
    note: str | None,
    actor: str,
    actor_org: str | None,
    now: datetime,
) -> PostedTransfer:
    """Reverses (part of) a transfer with a reason code; ``actor_org`` limits a company admin to its own."""
    with db.write_sessions() as session, session.begin():
        SqlLogStore(session).lock_head()
        original_row = session.get(PointsTransferRow, reverses_id)
        if original_row is None:
            raise NotFound(f"transfer {reverses_id} not found")
        original = to_transfer(original_row)
        accounts = {original.debit_account, original.credit_account}
        if actor_org is not None and companies_of(session, accounts) != {actor_org}:
            # Another company's transfers do not exist for a company admin (as its activities).
            raise NotFound(f"transfer {reverses_id} not found")
        stored = session.get(PointsTransferRow, transfer_id)
        already = int(
            session.execute(
                select(func.coalesce(func.sum(PointsTransferRow.amount), 0)).where(
                    PointsTransferRow.reverses_id == original.id, PointsTransferRow.id != transfer_id
                )
            ).scalar_one()
        )
        if stored is not None:
            # A replay: compare with what was asked then (all that remained, if no amount was given).
            amount, already = (int(stored.amount) if amount is None else amount), 0
        spec = ledger.reversal(original, transfer_id, reason_code, amount, already)
        employee = next((a for a in accounts if ledger.account_kind(a) == AccountKind.EMPLOYEE), None)
        subject = subject_commitment(subject_key, employee.removeprefix("employee:")) if employee else None
        org = _org_of(session, accounts)
        return post_transfer(session, spec, subject=subject, now=now, org_id=org, note=note, created_by=actor)


def companies_of(session: Session, accounts: Iterable[str]) -> set[str | None]:
    """The companies behind the employee and pool accounts among ``accounts``: an employee's is the
    company they are enrolled in (never the tag on their points account), None when not enrolled."""
    found: set[str | None] = set()
    for account in accounts:
        kind = ledger.account_kind(account)
        if kind == AccountKind.COMPANY_POOL:
            found.add(_owner(account))
        elif kind == AccountKind.EMPLOYEE:
            row = session.get(EmployeeRow, account.removeprefix("employee:"))
            found.add(row.company_id if row is not None else None)
    return found


def enrolled_employee(session: Session, org_id: str, employee: str, field: str = "employee") -> EmployeeRow:
    """The active employee ``employee`` enrolled in ``org_id``; anyone else is refused naming ``field``
    (an employee of another company answers as one that does not exist)."""
    row = session.get(EmployeeRow, employee)
    if row is None or row.company_id != org_id or row.status != EmployeeStatus.ACTIVE:
        raise InvalidInput(field, f"no active employee {employee} is enrolled in company {org_id}")
    return row


def _org_of(session: Session, accounts: Iterable[str]) -> str | None:
    for account in sorted(accounts):
        row = session.get(PointsAccountRow, account)
        if row is not None and row.org_id is not None:
            return row.org_id
    return None


# --- Expiry ----------------------------------------------------------------------------------------


def _account_transfers(session: Session, account_id: str) -> list[PointsTransferRow]:
    return list(session.execute(select(PointsTransferRow).where(_involving(account_id))).scalars())


def _expirable(session: Session, account_id: str, cutoff: datetime) -> int:
    rows = _account_transfers(session, account_id)
    created = {r.id: r.created_at for r in rows}
    moves = ledger.movements_for(account_id, [to_transfer(r) for r in rows], created)
    return ledger.expirable(moves, cutoff)


@dataclass(frozen=True)
class ExpiryRun:
    cutoff: datetime | None
    accounts: int = 0
    points: int = 0


def expire_due(db: Database, subject_key: bytes, expiry_months: int, now: datetime) -> ExpiryRun:
    """Moves points earned more than ``expiry_months`` ago and still unspent to the expiry sink.

    The transfer id follows from the account and the cutoff's date, so running twice the same day
    expires nothing twice; each account is its own short transaction.
    """
    if expiry_months <= 0:
        return ExpiryRun(None)
    cutoff = months_before(now, expiry_months)
    with db.read_sessions() as session:
        candidates = list(
            session.execute(
                select(PointsAccountRow.id)
                .where(
                    PointsAccountRow.kind == AccountKind.EMPLOYEE.value,
                    PointsAccountRow.credits_posted > PointsAccountRow.debits_posted,
                    PointsAccountRow.id.in_(
                        select(PointsTransferRow.credit_account_id).where(
                            PointsTransferRow.kind.in_(
                                (TransferKind.ISSUANCE.value, TransferKind.AWARD.value)
                            ),
                            PointsTransferRow.created_at < cutoff,
                        )
                    ),
                )
                .order_by(PointsAccountRow.id)
                .limit(MAX_EXPIRY_ACCOUNTS_PER_RUN)
            ).scalars()
        )
    accounts = points = 0
    for account_id in candidates:
        expired = _expire_account(db, subject_key, account_id, cutoff, now)
        if expired:
            accounts += 1
            points += expired
    return ExpiryRun(cutoff, accounts, points)


def _expire_account(
    db: Database, subject_key: bytes, account_id: str, cutoff: datetime, now: datetime
) -> int:
    transfer_id = ledger.derived_id("expiry", account_id, cutoff.date().isoformat())
    with db.write_sessions() as session, session.begin():
        SqlLogStore(session).lock_head()
        if session.get(PointsTransferRow, transfer_id) is not None:
            return 0
        account = lock_accounts(session, [account_id], now)[account_id]
        amount = _expirable(session, account_id, cutoff)
        if amount <= 0:
            return 0
        spec = Transfer(
            transfer_id, account_id, ledger.EXPIRY_SINK, amount, TransferKind.EXPIRY, reason_code="expired"
        )
        subject = subject_commitment(subject_key, account_id.removeprefix("employee:"))
        details = {"earned_before": cutoff.isoformat()}
        post_transfer(session, spec, subject=subject, now=now, org_id=account.org_id, details=details)
        return amount


# --- Totals and audit ------------------------------------------------------------------------------


def _sum_by(session: Session, key: Any, *where: Any) -> dict[str, int]:
    stmt = select(key, func.sum(PointsTransferRow.amount)).where(*where).group_by(key)
    return {str(k): int(v or 0) for k, v in session.execute(stmt).all()}


def totals(session: Session, tree_size: int | None = None) -> dict[str, Any]:
    """Gross flows by kind and net issued/redeemed/expired, over transfers logged below ``tree_size``."""
    where = [] if tree_size is None else [PointsTransferRow.leaf_index < tree_size]
    by_kind = _sum_by(session, PointsTransferRow.kind, *where)

    def net(account_id: str) -> int:
        value = session.execute(
            select(func.coalesce(func.sum(_signed(account_id)), 0)).where(_involving(account_id), *where)
        )
        return int(value.scalar_one())

    return {
        "issued": -net(ledger.PARK_ISSUANCE),
        "redeemed": net(ledger.REDEMPTION_SINK),
        "expired": net(ledger.EXPIRY_SINK),
        "by_kind": {k.value: by_kind.get(k.value, 0) for k in TransferKind},
    }


@dataclass(frozen=True)
class LedgerAudit:
    accounts: int
    transfers: int
    sum_of_balances: int
    mismatched_accounts: tuple[str, ...]
    overdrawn_accounts: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.sum_of_balances == 0 and not self.mismatched_accounts and not self.overdrawn_accounts


def audit_ledger(db: Database) -> LedgerAudit:
    """Recomputes every account's totals from the transfers and checks conservation.

    Under queued sequencing the park issuance side of a transfer still waiting for the sequencer is
    posted when it is logged: the audit counts those transfers as posted there (one snapshot of
    the database, so a live system audits exactly)."""
    with db.read_sessions() as session:
        if is_postgres(session):
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        accounts = list(session.execute(select(PointsAccountRow)).scalars())
        debits = _sum_by(session, PointsTransferRow.debit_account_id)
        credits = _sum_by(session, PointsTransferRow.credit_account_id)
        count = int(session.execute(select(func.count()).select_from(PointsTransferRow)).scalar_one())
        queued = PointsTransferRow.leaf_index.is_(None)
        waiting = (
            _sum_by(session, PointsTransferRow.debit_account_id, queued),
            _sum_by(session, PointsTransferRow.credit_account_id, queued),
        )
    posted = {
        a.id: (
            int(a.debits_posted) + (waiting[0].get(a.id, 0) if a.id in DEFERRED_ACCOUNTS else 0),
            int(a.credits_posted) + (waiting[1].get(a.id, 0) if a.id in DEFERRED_ACCOUNTS else 0),
        )
        for a in accounts
    }
    mismatched = tuple(
        a.id for a in accounts if posted[a.id] != (int(debits.get(a.id, 0)), int(credits.get(a.id, 0)))
    )
    overdrawn = tuple(
        a.id
        for a in accounts
        if a.kind not in ledger.MAY_OVERDRAW and int(a.debits_posted) > int(a.credits_posted)
    )
    balances = [Balance(*posted[a.id]) for a in accounts]
    return LedgerAudit(len(accounts), count, ledger.conservation_sum(balances), mismatched, overdrawn)


# --- Company pools and operator tools ----------------------------------------------------------------


def grant(
    db: Database,
    subject_key: bytes,
    *,
    transfer_id: str,
    kind: TransferKind,
    org_id: str,
    employee: str | None,
    amount: int,
    note: str | None,
    actor: Principal,
    now: datetime,
) -> PostedTransfer:
    """Allocation (park issuance → a company's pool, operators) or award (pool → employee)."""
    if actor.role == "company_admin" and not actor.org:
        raise PermissionDenied("this company admin token names no company")
    if kind == TransferKind.ALLOCATION:
        if actor.role != "operator":
            raise PermissionDenied("only operators allocate points to company pools")
        debit, credit, subject = ledger.PARK_ISSUANCE, ledger.company_pool_account(org_id), None
    elif kind == TransferKind.AWARD:
        if actor.role != "operator" and not (actor.role == "company_admin" and actor.org == org_id):
            raise PermissionDenied("only the company's admins and operators award from its pool")
        if not employee:
            raise InvalidInput("employee", "is required for an award")
        debit, credit = ledger.company_pool_account(org_id), ledger.employee_account(employee)
        subject = subject_commitment(subject_key, employee)
    else:
        raise InvalidInput("kind", "must be allocation or award")
    transfer = Transfer(transfer_id, debit, credit, amount, kind)
    with db.write_sessions() as session, session.begin():
        if session.get(CompanyRow, org_id) is None:
            raise InvalidInput("company", f"no company {org_id} is enrolled in the park")
        if kind == TransferKind.AWARD:
            assert employee is not None
            enrolled_employee(session, org_id, employee)
        return post_transfer(
            session, transfer, subject=subject, now=now, org_id=org_id, note=note, created_by=actor.subject
        )


MAX_TRANSFER_LIST = 200


def find_transfers(
    db: Database,
    *,
    org_id: str | None,
    activity_id: str | None = None,
    redemption_id: str | None = None,
    employee: str | None = None,
) -> list[PointsTransferRow]:
    """Transfers behind an activity, a redemption or an employee; ``org_id`` limits to one company's."""
    where: list[Any] = []
    if activity_id:
        where.append(PointsTransferRow.activity_id == activity_id)
    if redemption_id:
        where.append(PointsTransferRow.redemption_id == redemption_id)
    if employee:
        where.append(_involving(ledger.employee_account(employee)))
    if not where:
        raise InvalidInput("activity_id", "give an activity_id, a redemption_id or an employee")
    if org_id is not None:
        # A company's accounts: its pool and its enrolled employees' (not the accounts' own tags).
        account = literal("employee:", String) + EmployeeRow.id
        staff_of = select(account).where(EmployeeRow.company_id == org_id)
        mine = or_(
            PointsTransferRow.debit_account_id.in_(staff_of),
            PointsTransferRow.credit_account_id.in_(staff_of),
            PointsTransferRow.debit_account_id == ledger.company_pool_account(org_id),
            PointsTransferRow.credit_account_id == ledger.company_pool_account(org_id),
        )
        where.append(mine)
    stmt = select(PointsTransferRow).where(*where).order_by(PointsTransferRow.leaf_index.desc())
    with db.read_sessions() as session:
        if org_id is not None and employee:
            row = session.get(EmployeeRow, employee)
            if row is None or row.company_id != org_id:
                raise NotFound(f"employee {employee} not found in {org_id}")
        return list(session.execute(stmt.limit(MAX_TRANSFER_LIST)).scalars())
