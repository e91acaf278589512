"""Statuses are StrEnums, stored as their values, refused when they are not members."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.exc import StatementError

from backend.adapters.orm import CheckpointRow
from backend.adapters.orm_types import EnumText
from backend.domain.states import ANCHORED, IN_FLIGHT, CheckpointState

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
