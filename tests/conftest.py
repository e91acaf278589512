"""Shared fixtures: databases (SQLite and PostgreSQL, each test on a fresh one) and factories."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text

from backend.adapters import migrations
from backend.adapters.anvil import free_port
from backend.adapters.contract_compiler import ContractArtifact, compile_ledger
from backend.adapters.database import Database, create_database
from tests.dbtemplates import (
    POSTGRES_ADMIN_URL,
    MigratedTemplates,
    admin_engine,
    copy_migrated,
    postgres_url_for,
)

# Property and fuzz tests draw the same examples on every run (a failure in CI reproduces
# anywhere); `HYPOTHESIS_PROFILE=explore` draws new ones each run, to look for more.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(autouse=True)
def own_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own free API and Anvil ports: a test never reaches what else listens on
    the machine (a `make run` on 8000 and 8545), whichever settings it builds."""
    monkeypatch.setenv("CARBON_API_PORT", str(free_port()))
    monkeypatch.setenv("CARBON_ANVIL_PORT", str(free_port()))


def _postgres_available() -> str | None:
    try:
        engine = create_engine(
            POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc.__class__.__name__}"
    return None


_PG_PROBLEM = _postgres_available()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    if _PG_PROBLEM:
        if os.environ.get("CI"):
            pytest.fail(_PG_PROBLEM)
        pytest.skip(_PG_PROBLEM)
    name = f"carbon_test_{uuid.uuid4().hex[:12]}"
    admin = admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url_for(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(tmp_path_factory.mktemp("migrated-template"))
    try:
        yield templates
    finally:
        templates.drop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database of each dialect (``db`` fills it with the migrated schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'ledger.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def migrated_database_url(database_url: str, migrated_templates: MigratedTemplates) -> str:
    """``database_url``, already migrated to head (for tests that build a runtime on it)."""
    copy_migrated(database_url, migrated_templates)
    return database_url


@pytest.fixture
def migrated_sqlite_url(tmp_path: Path, migrated_templates: MigratedTemplates) -> str:
    """A SQLite database in ``tmp_path`` (``ledger.sqlite3``), already migrated to head."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    copy_migrated(url, migrated_templates)
    return url


@pytest.fixture
def db(migrated_database_url: str) -> Iterator[Database]:
    """The database at ``database_url``, migrated to head (a copy of the session's template).

    SQLite runs with ``synchronous=NORMAL``: in WAL mode a commit then survives the process being
    killed (what tests can do) but not a power cut (what they cannot), and skips an fsync per
    commit. Servers started by the end-to-end tests keep the production default, FULL."""
    database = create_database(migrated_database_url, sqlite_synchronous="NORMAL")
    try:
        assert migrations.is_current(database.engine), "the session's template is behind the migrations"
        yield database
    finally:
        database.dispose()


@pytest.fixture(scope="session")
def solc_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's compile cache: a temporary directory, so tests never touch ``var/``."""
    return tmp_path_factory.mktemp("solc-cache")


@pytest.fixture(scope="session")
def ledger_artifact(solc_cache_dir: Path) -> ContractArtifact:
    """The ledger contract, compiled once per session (solc-js takes seconds)."""
    return compile_ledger(solc_cache_dir)
