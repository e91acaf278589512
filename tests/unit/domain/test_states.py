"""Statuses are StrEnums, stored as their values, refused when they are not members."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import StatementError

from backend.adapters.orm import Base, CheckpointRow
from backend.adapters.orm_types import EnumText
from backend.domain.recording import recognition
from backend.domain.states import (
    ANCHORED,
    IN_FLIGHT,
    ActivityStatus,
    ChainCheckState,
    ChainMoveState,
    CheckpointState,
    EmployeeStatus,
    FeedDeliveryStatus,
    IntegrationOutcome,
    PeriodStatus,
    RedemptionStatus,
)

metadata = MetaData()
rows = Table(
    "rows", metadata, Column("id", Integer, primary_key=True), Column("state", EnumText(CheckpointState, 16))
)


def test_a_state_is_its_string() -> None:
    assert CheckpointState.CONFIRMED == "confirmed" and f"{CheckpointState.SENT}" == "sent"
    assert set(IN_FLIGHT) | set(ANCHORED) | {CheckpointState.FAILED} == set(CheckpointState)


def test_the_column_stores_the_value_and_reads_the_member() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(rows).values(id=1, state=CheckpointState.SENT))
        connection.execute(insert(rows).values(id=2, state="confirmed"))
        assert connection.execute(text("SELECT state FROM rows ORDER BY id")).scalars().all() == [
            "sent",
            "confirmed",
        ]
        read = connection.execute(select(rows.c.state).order_by(rows.c.id)).scalars().all()
        assert read == [CheckpointState.SENT, CheckpointState.CONFIRMED]
        assert all(type(value) is CheckpointState for value in read)
        with pytest.raises(StatementError, match="'anchored' is not a valid CheckpointState"):
            connection.execute(insert(rows).values(id=3, state="anchored"))
        connection.execute(text("INSERT INTO rows (id, state) VALUES (4, 'typo')"))
        with pytest.raises(ValueError, match="'typo' is not a valid CheckpointState"):
            connection.execute(select(rows.c.state).where(rows.c.id == 4)).scalars().all()


def test_the_checkpoint_row_uses_the_enum() -> None:
    column = CheckpointRow.__table__.c.state
    assert isinstance(column.type, EnumText) and column.type.enum is CheckpointState


TYPED_COLUMNS = {
    ("activities", "status"): ActivityStatus,
    ("employees", "status"): EmployeeStatus,
    ("chain_incidents", "state"): ChainCheckState,
    ("checkpoints", "state"): CheckpointState,
    ("chain_moves", "state"): ChainMoveState,
    ("redemptions", "status"): RedemptionStatus,
    ("feed_outbox", "status"): FeedDeliveryStatus,
    ("integration_records", "outcome"): IntegrationOutcome,
}


def test_every_status_column_is_typed_with_its_enum() -> None:
    for (table, column), enum in TYPED_COLUMNS.items():
        column_type = Base.metadata.tables[table].c[column].type
        assert isinstance(column_type, EnumText) and column_type.enum is enum, (table, column)


STATUS_LITERAL = re.compile(
    r"""\b(?:status|state)\b[^\n'"]{0,40}?(?:==|!=|=|in|not_in\(\()\s*\(?\s*["']([a-z_]+)["']"""
)


def test_no_service_compares_or_stores_a_status_as_a_bare_string() -> None:
    """Every status the services write or compare is an enum member (a typo would be a new value)."""
    found = {
        (path.name, value)
        for path in Path("backend/services").rglob("*.py")
        for value in STATUS_LITERAL.findall(path.read_text())
    }
    # a factor's status is a field of the published factor files, not a state the ledger stores
    assert found == {("scope3.py", "provisional")}


def test_the_values_the_code_stores_are_members() -> None:
    from backend.services.accounting import scope3
    from backend.services.identity import enrollment
    from backend.services.points import issuance
    from backend.services.privacy import erasure
    from backend.services.recording import activities, corrections, reviews

    assert {scope3.ACCEPTED, scope3.PENDING_REVIEW, corrections.REVERSED, issuance.ISSUABLE_STATUS} <= set(
        ActivityStatus
    )
    assert set(reviews.DECISIONS.values()) | set(activities.LIVE) <= set(ActivityStatus)
    assert set(enrollment.EMPLOYEE_STATUSES) | {erasure.ERASED_STATUS} <= set(EmployeeStatus)
    # the recognition outcomes an activity is stored with
    assert set(get_args(recognition.Status)) <= set(ActivityStatus)
    # a recorded activity's status is also its integration record's outcome
    assert {IntegrationOutcome(s) for s in (ActivityStatus.ACCEPTED, ActivityStatus.FLAGGED)} <= set(
        IntegrationOutcome
    )
    assert [s.value for s in PeriodStatus] == ["open", "closed"]
    assert [s.value for s in ChainCheckState] == [
        "ok",
        "unavailable",
        "mismatch",
        "history_missing",
        "moving",
        "not_configured",
    ]


@pytest.mark.parametrize(("table", "column"), list(TYPED_COLUMNS))
def test_an_unknown_status_is_refused_by_every_typed_column(table: str, column: str) -> None:
    column_type = Base.metadata.tables[table].c[column].type
    assert isinstance(column_type, EnumText)
    with pytest.raises(ValueError, match="'typo' is not a valid"):
        column_type.process_bind_param("typo", sqlite.dialect())
    with pytest.raises(ValueError, match="'typo' is not a valid"):
        column_type.process_result_value("typo", sqlite.dialect())
    member = next(iter(column_type.enum))
    assert column_type.process_bind_param(member.value, sqlite.dialect()) == member.value
