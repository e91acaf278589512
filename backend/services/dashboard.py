"""Use case: the managers' dashboard status line: how far anchoring is behind the log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import CheckpointRow, LogLeafRow
from backend.services.anchoring import IN_FLIGHT, AnchorTarget


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
            .where(*on_target, CheckpointRow.state == "confirmed")
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
