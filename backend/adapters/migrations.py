"""Runs the Alembic migrations in ``backend/migrations`` programmatically (forward only).

Revision files are numbered in upgrade order (``001_initial.py`` … ). Until December 2026 they
carried four-digit ids that were not in upgrade order (0001 → 0007 → 0005 → 0003 → 0004 → 0006);
a database stamped with one of those is re-stamped with the same revision's new id before
upgrading, so existing deployments upgrade as before.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
LEGACY_REVISION_IDS = {
    "0001": "001",
    "0007": "002",
    "0005": "003",
    "0003": "004",
    "0004": "005",
    "0006": "006",
}
"""The revision ids used before the files were renumbered, and the same revision's id now."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def restamp_legacy_revision(connection: Connection) -> None:
    """Rewrites a pre-renumbering revision id in ``alembic_version`` to the same revision's new id."""
    if not inspect(connection).has_table("alembic_version"):
        return
    stamped = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    for old in stamped:
        if old in LEGACY_REVISION_IDS:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :new WHERE version_num = :old"),
                {"new": LEGACY_REVISION_IDS[old], "old": old},
            )


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = _config()
    with engine.begin() as connection:
        restamp_legacy_revision(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    return LEGACY_REVISION_IDS.get(revision, revision) if revision is not None else None


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
