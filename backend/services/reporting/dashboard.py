"""Use cases of the managers' dashboard: the status line (how far anchoring is behind the log), the
names it shows instead of ids, and the park's Scope 3 targets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import CheckpointRow, LogLeafRow
from backend.adapters.orm_identity import CompanyRow
from backend.adapters.orm_scope3 import TargetRow
from backend.domain.accounting.activity_names import ACTIVITY_TYPE_NAMES
from backend.domain.accounting.scope3 import CATEGORIES, Period
from backend.domain.errors import InvalidInput
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.states import IN_FLIGHT, CheckpointState

MAX_TARGET_G = 10**18
"""A million million tonnes: far above any park, far below a signed 64-bit column's limit."""
TARGET_YEARS = (2000, 2100)
WHOLE_INVENTORY = 0
"""The ``category`` of a target for the whole Scope 3 inventory (categories are 5, 6 and 7)."""


def anchoring_status(
    db: Database, target: AnchorTarget | None, now: datetime | None = None
) -> dict[str, Any]:
    """Last confirmed checkpoint, leaves not yet covered, and how long the oldest has waited."""
    now = now or datetime.now(UTC)
    with db.read_sessions() as session, session.begin():
        size = SqlLogStore(session).size()
        if target is None:
            return {"configured": False, "log_size": size}
        on_target = (CheckpointRow.chain_id == target.chain_id, CheckpointRow.contract == target.contract)
        last = session.execute(
            select(CheckpointRow)
            .where(*on_target, CheckpointRow.state == CheckpointState.CONFIRMED)
            .order_by(CheckpointRow.tree_size.desc())
            .limit(1)
        ).scalar_one_or_none()
        anchored = last.tree_size if last is not None else 0
        oldest = session.execute(
            select(func.min(LogLeafRow.created_at)).where(LogLeafRow.idx >= anchored)
        ).scalar_one_or_none()
        in_flight = session.execute(
            select(func.count())
            .select_from(CheckpointRow)
            .where(*on_target, CheckpointRow.state.in_(IN_FLIGHT))
        ).scalar_one()
    return {
        "configured": True,
        "chain_id": target.chain_id,
        "contract": target.contract,
        "log_size": size,
        "anchored_tree_size": anchored,
        "leaves_behind": size - anchored,
        "oldest_unanchored_age_s": round((now - oldest).total_seconds(), 1) if oldest is not None else 0.0,
        "checkpoints_in_flight": int(in_flight),
        "last_checkpoint": None
        if last is None
        else {
            "seq": last.seq,
            "tree_size": last.tree_size,
            "tx_hash": last.tx_hash,
            "block_number": last.block_number,
            "confirmed_at": last.confirmed_at.isoformat() if last.confirmed_at else None,
            "age_s": round((now - last.confirmed_at).total_seconds(), 1) if last.confirmed_at else None,
        },
    }


def labels(db: Database, company: str | None = None) -> dict[str, Any]:
    """What the dashboard shows instead of ids: activity types' and companies' names in Chinese
    and English (a company without a Chinese name shows its English one). ``company``: only that
    company's (a company admin's view)."""
    with db.read_sessions() as session:
        stmt = select(CompanyRow.id, CompanyRow.name, CompanyRow.name_zh).order_by(CompanyRow.id)
        if company is not None:
            stmt = stmt.where(CompanyRow.id == company)
        companies = {
            row.id: {"name_en": row.name, "name_zh": row.name_zh or row.name} for row in session.execute(stmt)
        }
    return {
        "activity_types": {t: {"name_zh": zh, "name_en": en} for t, (zh, en) in ACTIVITY_TYPE_NAMES.items()},
        "companies": companies,
        "categories": {str(c): {"name_en": en, "name_zh": zh} for c, (en, zh) in CATEGORIES.items()},
    }


@dataclass(frozen=True)
class Target:
    year: int
    category: int | None
    """5, 6 or 7; None for the whole inventory."""
    co2e_g: int


def set_target(
    db: Database, year: int, category: int | None, co2e_g: int, role: str, now: datetime | None = None
) -> Target:
    """Sets (or replaces) the park's target for a calendar year, for the inventory or one category."""
    if not TARGET_YEARS[0] <= year <= TARGET_YEARS[1]:
        raise InvalidInput("year", f"must be between {TARGET_YEARS[0]} and {TARGET_YEARS[1]}")
    if category is not None and category not in CATEGORIES:
        raise InvalidInput("category", f"must be one of {sorted(CATEGORIES)} or null for the whole inventory")
    if not 0 <= co2e_g <= MAX_TARGET_G:
        raise InvalidInput("co2e_kg", "must be between 0 and 10^15 kg")
    now = now or datetime.now(UTC)
    key = (year, category or WHOLE_INVENTORY)
    with db.write_sessions() as session, session.begin():
        row = session.get(TargetRow, key)
        if row is None:
            session.add(
                TargetRow(year=year, category=key[1], co2e_g=co2e_g, updated_by_role=role, updated_at=now)
            )
        else:
            row.co2e_g, row.updated_by_role, row.updated_at = co2e_g, role, now
    return Target(year, category, co2e_g)


def _days(start: date, end: date) -> int:
    return (end - start).days


def targets_for(db: Database, period: Period) -> dict[str, Any]:
    """The year's targets and their share for ``period``: pro rata by days (a quarter of 92 days
    gets 92/365 of the year's target), rounded down to the gram, so the shares of a year's months
    never add up to more than the year's target."""
    with db.read_sessions() as session:
        rows = list(
            session.execute(
                select(TargetRow).where(TargetRow.year == period.year).order_by(TargetRow.category)
            ).scalars()
        )
    start, end = (d.date() for d in period.bounds(UTC))
    year_start, year_end = (d.date() for d in Period(period.year, "year", 0).bounds(UTC))
    days, year_days = _days(start, end), _days(year_start, year_end)
    return {
        "period": period.label,
        "year": period.year,
        "share_of_year": {"days": days, "of_days": year_days},
        "rounding": "period target = year target × days ÷ days in the year, rounded down to the gram",
        "targets": [
            {
                "category": None if r.category == WHOLE_INVENTORY else r.category,
                "year_co2e_g": r.co2e_g,
                "co2e_g": r.co2e_g * days // year_days,
                "updated_at": r.updated_at.isoformat(),
                "updated_by_role": r.updated_by_role,
            }
            for r in rows
        ],
    }
