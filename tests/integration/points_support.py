"""Helpers shared by the points tests: fund an employee, add a reward, read balances."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from backend.adapters.database import Database
from backend.adapters.orm import LogLeafRow
from backend.adapters.orm_identity import CompanyRow, EmployeeRow
from backend.adapters.orm_points import PointsTransferRow, RewardRow
from backend.domain.log.records import subject_commitment
from backend.domain.points import points as ledger
from backend.domain.points.points import Transfer, TransferKind
from backend.services.identity.tokens import Principal
from backend.services.points import points, rewards

SUBJECT_KEY = b"k" * 32
OPERATOR = Principal("operator", "op-1", None)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def employee(subject: str, org: str | None = "acme", dept: str | None = None) -> Principal:
    return Principal("employee", subject, org, dept)


def fund(db: Database, subject: str, amount: int, now: datetime = NOW, org: str | None = "acme") -> str:
    """Issues ``amount`` points to the employee, as an accepted activity would; returns the transfer id."""
    transfer = Transfer(
        str(uuid.uuid4()),
        ledger.PARK_ISSUANCE,
        ledger.employee_account(subject),
        amount,
        TransferKind.ISSUANCE,
    )
    with db.write_sessions() as session, session.begin():
        points.post_transfer(
            session, transfer, subject=subject_commitment(SUBJECT_KEY, subject), now=now, org_id=org
        )
    return transfer.id


def add_reward(
    db: Database,
    price: int,
    stock: int,
    limit: int | None = None,
    companies: tuple[str, ...] | None = None,
    cancel_window_s: int = 3600,
    now: datetime = NOW,
) -> str:
    spec = rewards.RewardSpec(
        name="Metro day pass",
        name_zh="地铁日票",
        price_points=price,
        stock=stock,
        per_employee_limit=limit,
        companies=companies,
        cancel_window_s=cancel_window_s,
    )
    row, _ = rewards.create_reward(db, OPERATOR, spec, {"price": price}, None, 86_400, now)
    return row.id


def balance(db: Database, subject: str) -> int:
    with db.read_sessions() as session:
        return points.balance_of(session, ledger.employee_account(subject)).points


def stock(db: Database, reward_id: str) -> int:
    with db.read_sessions() as session:
        row = session.get(RewardRow, reward_id)
        assert row is not None
        return int(row.stock)


def count(db: Database, table: type) -> int:
    with db.read_sessions() as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def leaves_of_kind(db: Database, kind: str) -> int:
    with db.read_sessions() as session:
        stmt = select(func.count()).select_from(LogLeafRow).where(LogLeafRow.kind == kind)
        return int(session.execute(stmt).scalar_one())


def transfers_of_kind(db: Database, kind: str) -> list[PointsTransferRow]:
    with db.read_sessions() as session:
        stmt = select(PointsTransferRow).where(PointsTransferRow.kind == kind)
        return list(session.execute(stmt.order_by(PointsTransferRow.leaf_index)).scalars())


def enroll(db: Database, company: str, *employee_ids: str, now: datetime = NOW) -> None:
    """Enrolls employees under the given ids (as an invitation would) in ``company``, created if new:
    points routes act only on enrolled employees of a company."""
    with db.write_sessions() as session, session.begin():
        if session.get(CompanyRow, company) is None:
            session.add(CompanyRow(id=company, name=company, created_at=now))
            session.flush()
        for number, employee_id in enumerate(employee_ids):
            if session.get(EmployeeRow, employee_id) is None:
                session.add(
                    EmployeeRow(
                        id=employee_id,
                        company_id=company,
                        department_id=None,
                        employee_no=f"{employee_id}-{number}"[:64],
                        display_name=None,
                        status="active",
                        created_at=now,
                    )
                )
