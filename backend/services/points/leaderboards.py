"""Use cases: leaderboards by company and by department — opt-in, pseudonymous, k-anonymous groups.

Only employees who opted in appear, under an alias they chose or a pseudonym derived from a keyed
hash (never their id or name). A board is shown only when at least ``min_group`` people of the
group opted in, so a small department cannot be read person by person; the ranking of departments
counts only departments that reach the same size. Scores are the points earned in the period
(issuance and awards, less corrections of them), not balances, which would reveal spending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from backend.adapters.database import Database
from backend.adapters.orm_points import LeaderboardOptInRow, PointsTransferRow
from backend.domain.accounting.disclosure import is_withheld
from backend.domain.errors import InvalidInput
from backend.domain.log.records import subject_commitment
from backend.domain.points import points as ledger
from backend.domain.points.points import TransferKind
from backend.domain.points.points_rules import IssuanceRules, month_window
from backend.services.identity.tokens import Principal

MAX_ALIAS_LENGTH = 24
MAX_TOP = 100
ALIAS = re.compile(r"^[^\x00-\x1f\x7f<>]{1,24}$")
"""Any printable text without angle brackets (the alias is shown in other people's pages)."""


def pseudonym(subject_key: bytes, subject_id: str) -> str:
    tag = subject_commitment(subject_key, "leaderboard\x00" + subject_id)[2:8].upper()
    return f"碳友-{tag}"


def opt_in(db: Database, caller: Principal, alias: str | None, now: datetime) -> LeaderboardOptInRow:
    if alias is not None and not ALIAS.fullmatch(alias):
        raise InvalidInput("alias", f"must be 1 to {MAX_ALIAS_LENGTH} printable characters, without < or >")
    with db.write_sessions() as session, session.begin():
        row = session.get(LeaderboardOptInRow, caller.subject)
        if row is None:
            row = LeaderboardOptInRow(subject_id=caller.subject, opted_in_at=now)
            session.add(row)
        row.org_id, row.department_id, row.alias = caller.org, caller.dept, alias
        return row


def opt_out(db: Database, caller: Principal) -> None:
    with db.write_sessions() as session, session.begin():
        row = session.get(LeaderboardOptInRow, caller.subject)
        if row is not None:
            session.delete(row)


def opted_in(db: Database, caller: Principal) -> LeaderboardOptInRow | None:
    with db.read_sessions() as session:
        return session.get(LeaderboardOptInRow, caller.subject)


@dataclass(frozen=True)
class Entry:
    rank: int
    name: str
    points: int
    me: bool


@dataclass(frozen=True)
class Board:
    available: bool
    members: int
    entries: list[Entry]
    me: Entry | None
    reason: str | None = None


def _earned(db: Database, subjects: list[str], since: datetime, until: datetime) -> dict[str, int]:
    """Points earned per subject in [since, until): issuance and awards less corrections taking them back."""
    accounts = {ledger.employee_account(s): s for s in subjects}
    if not accounts:
        return {}
    earned_kinds = (TransferKind.ISSUANCE.value, TransferKind.AWARD.value)
    credit = PointsTransferRow.credit_account_id
    debit = PointsTransferRow.debit_account_id
    in_period = (PointsTransferRow.created_at >= since, PointsTransferRow.created_at < until)
    gains = select(credit.label("account"), PointsTransferRow.amount.label("amount")).where(
        credit.in_(list(accounts)), PointsTransferRow.kind.in_(earned_kinds), *in_period
    )
    losses = select(debit.label("account"), (-PointsTransferRow.amount).label("amount")).where(
        debit.in_(list(accounts)),
        PointsTransferRow.kind == TransferKind.CORRECTION.value,
        *in_period,
    )
    union = gains.union_all(losses).subquery()
    stmt = select(union.c.account, func.sum(union.c.amount)).group_by(union.c.account)
    with db.read_sessions() as session:
        sums = {str(a): int(v or 0) for a, v in session.execute(stmt).all()}
    return {subject: sums.get(account, 0) for account, subject in accounts.items()}


def _ranked(scores: list[tuple[str, int]]) -> list[tuple[int, str, int]]:
    """Competition ranking (1, 2, 2, 4): ties share a rank."""
    ordered = sorted(scores, key=lambda item: (-item[1], item[0]))
    ranked: list[tuple[int, str, int]] = []
    for position, (key, score) in enumerate(ordered, start=1):
        rank = ranked[-1][0] if ranked and ranked[-1][2] == score else position
        ranked.append((rank, key, score))
    return ranked


def board(
    db: Database,
    subject_key: bytes,
    caller: Principal,
    scope: str,
    since: datetime,
    until: datetime,
    min_group: int,
    top: int,
) -> Board:
    """The caller's company (``scope="company"``) or department board for the period."""
    if caller.org is None or (scope == "department" and caller.dept is None):
        return Board(False, 0, [], None, reason=f"your token names no {scope}")
    with db.read_sessions() as session:
        stmt = select(LeaderboardOptInRow).where(LeaderboardOptInRow.org_id == caller.org)
        if scope == "department":
            stmt = stmt.where(LeaderboardOptInRow.department_id == caller.dept)
        members = list(session.execute(stmt).scalars())
    if not members or is_withheld(len(members), min_group):
        return Board(
            False, len(members), [], None, reason=f"fewer than {min_group} people in this {scope} opted in"
        )
    earned = _earned(db, [m.subject_id for m in members], since, until)
    names = {m.subject_id: m.alias or pseudonym(subject_key, m.subject_id) for m in members}
    ranked = _ranked(list(earned.items()))
    entries = [Entry(rank, names[s], score, s == caller.subject) for rank, s, score in ranked]
    me = next((e for e in entries if e.me), None)
    return Board(True, len(members), entries[: min(top, MAX_TOP)], me)


@dataclass(frozen=True)
class DepartmentEntry:
    rank: int
    department: str
    members: int
    points: int
    points_per_member: int
    mine: bool


def departments(
    db: Database, caller: Principal, since: datetime, until: datetime, min_group: int
) -> tuple[list[DepartmentEntry], int]:
    """Departments of the caller's company ranked by points per opted-in member; small ones left out."""
    if caller.org is None:
        return [], 0
    with db.read_sessions() as session:
        members = list(
            session.execute(
                select(LeaderboardOptInRow).where(
                    LeaderboardOptInRow.org_id == caller.org, LeaderboardOptInRow.department_id.is_not(None)
                )
            ).scalars()
        )
    by_dept: dict[str, list[str]] = {}
    for m in members:
        by_dept.setdefault(str(m.department_id), []).append(m.subject_id)
    large = {d: s for d, s in by_dept.items() if not is_withheld(len(s), min_group)}
    earned = _earned(db, [s for subjects in large.values() for s in subjects], since, until)
    totals = {d: sum(earned.get(s, 0) for s in subjects) for d, subjects in large.items()}
    per_member = {d: totals[d] // len(large[d]) for d in large}
    ranked = _ranked(list(per_member.items()))
    entries = [
        DepartmentEntry(rank, d, len(large[d]), totals[d], score, d == caller.dept)
        for rank, d, score in ranked
    ]
    return entries, len(by_dept) - len(large)


PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def period_window(period: str | None, now: datetime, utc_offset_min: int) -> tuple[str, datetime, datetime]:
    """A calendar month of the park (``YYYY-MM``, default the current one) as a UTC interval."""
    rules = IssuanceRules(utc_offset_min=utc_offset_min)
    if period is None:
        local = now.astimezone(rules.tz)
        period = f"{local.year:04d}-{local.month:02d}"
    match = PERIOD.fullmatch(period)
    if match is None:
        raise InvalidInput("period", "must be a month, YYYY-MM")
    middle = datetime(int(match[1]), int(match[2]), 15, tzinfo=rules.tz)
    since, until = month_window(middle, rules)
    return period, since, until
