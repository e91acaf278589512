"""Migrations are forward only and take a database from every earlier revision to the latest.

The revisions are read from backend/migrations/versions, so revisions added later are covered
without touching this test. At each starting revision a ledger's core records (an activity, its
leaf, a node, a confirmed checkpoint) are written with that revision's own columns; after the
upgrade they must still be there, and the schema must match the ORM exactly.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    func,
    select,
    text,
)
from sqlalchemy.sql.schema import Table

from backend.adapters import migrations
from backend.adapters.database import create_database
from backend.adapters.orm import Base


def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(migrations.MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


REVISIONS = [revision.revision for revision in reversed(list(_script().walk_revisions()))]
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
CORE_ROWS: dict[str, dict[str, Any]] = {
    "activities": {
        "id": "00000000-0000-4000-8000-000000000001",
        "subject_id": "emp-migration",
        "org_id": "acme",
        "source": "self_reported",
        "idempotency_key": "migration-key-1",
        "request_hash": "0x" + "ab" * 32,
        "type": "metro",
        "occurred_at": NOW,
        "quantities": {"distance_km": "12.4"},
        "co2e_avoided_g": 1256,
        "co2e_scope3_g": 761,
        "scope3_category": 7,
        "points": 125,
        "factor_set": "park-default-2026.1",
        "calculation": {"formula": "avoided = …"},
        "status": "accepted",
        "leaf_index": 0,
        "created_at": NOW,
    },
    "log_leaves": {
        "idx": 0,
        "kind": "activity",
        "record_id": "00000000-0000-4000-8000-000000000001",
        "leaf": b"{}",
        "leaf_hash": b"\x11" * 32,
        "created_at": NOW,
    },
    "log_nodes": {"level": 0, "idx": 0, "hash": b"\x11" * 32},
    "checkpoints": {
        "chain_id": 31337,
        "contract": "0x" + "5f" * 20,
        "seq": 1,
        "tree_size": 1,
        "root": b"\x11" * 32,
        "meta": b"{}",
        "meta_hash": b"\x22" * 32,
        "state": "confirmed",
        "gas_used": 140_000,
        "created_at": NOW,
    },
}


def _filler(column: Any) -> Any:
    """A value for a NOT NULL column a later revision added (unknown to this test)."""
    kind = column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer | BigInteger):
        return 0
    if isinstance(kind, DateTime):
        return NOW
    if isinstance(kind, LargeBinary):
        return b"\x00" * 32
    if isinstance(kind, JSON):
        return {}
    return "x"


def _seed(engine: Engine) -> None:
    meta = MetaData()
    meta.reflect(engine, only=[*CORE_ROWS, "log_head"])
    with engine.begin() as conn:
        for name, known in CORE_ROWS.items():
            table: Table = meta.tables[name]
            row = {k: v for k, v in known.items() if k in table.c}
            for column in table.c:
                required = not column.nullable and column.server_default is None and not column.primary_key
                if required and column.name not in row:
                    row[column.name] = _filler(column)
            conn.execute(table.insert().values(**row))
        conn.execute(meta.tables["log_head"].update().values(size=1))


def _counts(engine: Engine) -> dict[str, int]:
    meta = MetaData()
    meta.reflect(engine, only=[*CORE_ROWS, "log_head"])
    with engine.connect() as conn:
        counts = {
            name: int(conn.execute(select(func.count()).select_from(meta.tables[name])).scalar_one())
            for name in CORE_ROWS
        }
        counts["log_size"] = int(conn.execute(select(meta.tables["log_head"].c.size)).scalar_one())
    return counts


def test_one_head_and_a_linear_history() -> None:
    script = _script()
    assert len(script.get_heads()) == 1, f"several heads: {script.get_heads()}"
    assert REVISIONS[0] == "001"
    for revision in script.walk_revisions():
        assert not isinstance(revision.down_revision, tuple | list), f"{revision.revision} merges branches"


def test_file_order_is_upgrade_order() -> None:
    """A reader listing the versions folder reads the migrations in the order they run."""
    files = sorted(p.stem for p in (migrations.MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    by_file = {
        p.stem: _module(p).revision for p in (migrations.MIGRATIONS_DIR / "versions").glob("[0-9]*.py")
    }
    assert [by_file[name] for name in files] == REVISIONS
    assert all(name.startswith(f"{revision}_") for name, revision in by_file.items())


@pytest.mark.parametrize(("legacy", "current"), sorted(migrations.LEGACY_REVISION_IDS.items()))
def test_a_database_stamped_with_a_legacy_id_upgrades(database_url: str, legacy: str, current: str) -> None:
    """Databases migrated before the renumbering carry the old four-digit ids."""
    db = create_database(database_url)
    try:
        migrations.upgrade(db.engine, current)
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :old"), {"old": legacy})
        assert migrations.current_revision(db.engine) == current
        _seed(db.engine)
        before = _counts(db.engine)
        migrations.upgrade(db.engine)
        assert migrations.is_current(db.engine)
        assert _counts(db.engine) == before
    finally:
        db.dispose()


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "path", sorted((migrations.MIGRATIONS_DIR / "versions").glob("[0-9]*.py")), ids=lambda p: p.stem
)
def test_every_revision_is_forward_only(path: Path) -> None:
    with pytest.raises(NotImplementedError):
        _module(path).downgrade()


@pytest.mark.parametrize("start", REVISIONS)
def test_upgrade_from_every_revision_to_the_latest_keeps_the_records(database_url: str, start: str) -> None:
    db = create_database(database_url)
    try:
        migrations.upgrade(db.engine, start)
        assert migrations.current_revision(db.engine) == start
        _seed(db.engine)
        before = _counts(db.engine)
        migrations.upgrade(db.engine)
        assert migrations.is_current(db.engine)
        assert _counts(db.engine) == before == {**dict.fromkeys(CORE_ROWS, 1), "log_size": 1}
        with db.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diffs == [], f"schema after upgrading from {start} differs from the ORM: {diffs}"
        migrations.upgrade(db.engine)  # a second run is a no-op
        assert migrations.is_current(db.engine)
    finally:
        db.dispose()
