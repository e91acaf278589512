"""`carbon-ledger demo seed` in process on SQLite: the same seed gives the same park, a second run
adds nothing, refusals are counted by reason, the current quarter has data, and no quarter is
closed on partial data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from backend.adapters.database import create_database
from backend.adapters.orm import ActivityRow
from backend.bootstrap.settings import Settings
from backend.domain.accounting.scope3 import Period
from backend.entrypoints.cli import demo_park
from backend.entrypoints.cli.demo import _closable
from backend.entrypoints.cli.main import main

ARGS = ["demo", "seed", "--months", "1", "--scale", "0.1"]


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, subject_key="cd" * 32)


def _park(settings: Settings) -> list[tuple[object, ...]]:
    db = create_database(settings.resolved_database_url)
    try:
        with db.read_sessions() as session:
            rows = session.execute(
                select(
                    ActivityRow.subject_id,
                    ActivityRow.idempotency_key,
                    ActivityRow.type,
                    ActivityRow.occurred_at,
                    ActivityRow.status,
                    ActivityRow.co2e_avoided_g,
                    ActivityRow.points,
                ).order_by(ActivityRow.subject_id, ActivityRow.idempotency_key)
            ).all()
        return [tuple(row) for row in rows]
    finally:
        db.dispose()


def test_seed_is_reproducible_and_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = _settings(tmp_path / "one"), _settings(tmp_path / "two")
    assert main(ARGS, settings=first) == 0
    out = capsys.readouterr().out
    assert " activities recorded" in out and "no quarter closed" in out, out
    assert "  by type: " in out and "  by source: " in out
    park = _park(first)
    assert len(park) > 100
    assert main(ARGS, settings=second) == 0
    capsys.readouterr()
    assert _park(second) == park  # the same seed, the same park
    assert main(ARGS, settings=first) == 0
    again = capsys.readouterr().out
    assert " 0 activities recorded" in again and f"{len(park)} already there" in again, again
    assert _park(first) == park
    latest = max(row[3] for row in park)
    latest = latest if latest.tzinfo else latest.replace(tzinfo=UTC)
    assert (datetime.now(UTC) - latest).days < 5  # up to today (a long weekend at most)


def test_refusals_are_counted_by_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_park, "DOUBLE_TAP", 1.0)  # every self-reported trip is sent twice
    assert main(ARGS, settings=_settings(tmp_path)) == 0
    out = capsys.readouterr().out
    refused = [line for line in out.splitlines() if line.startswith("  refused: ")]
    assert refused and "duplicate (occurred_at)" in refused[0], out


def test_only_quarters_seeded_whole_are_closed() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert _closable(datetime(2026, 1, 1, tzinfo=tz), now, tz) == [
        Period(2026, "quarter", 1),
        Period(2026, "quarter", 2),
        Period(2026, "quarter", 3),
    ]
    assert _closable(datetime(2026, 1, 2, tzinfo=tz), now, tz) == [
        Period(2026, "quarter", 2),
        Period(2026, "quarter", 3),
    ]
    assert _closable(datetime(2026, 11, 6, tzinfo=tz), now, tz) == []
