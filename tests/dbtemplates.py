"""Databases migrated once per session and copied for each test (see ``db`` in tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from backend.adapters import migrations
from backend.adapters.database import create_database

POSTGRES_ADMIN_URL = os.environ.get(
    "CARBON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def admin_engine() -> Engine:
    return create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


def postgres_url_for(name: str) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


class MigratedTemplates:
    """A database migrated to head once per session, per dialect, that each test's ``db`` copies.

    Running the migrations takes about a second per database; copying the result (a file copy for
    SQLite, ``CREATE DATABASE … TEMPLATE`` for PostgreSQL) gives every test the same schema and seed
    rows on its own database in a fraction of that. The migrations themselves are still run from an
    empty database by tests/integration/migrations/test_migrations_forward.py and by every test that builds a
    runtime on an empty ``database_url``.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._sqlite: Path | None = None
        self._postgres: str | None = None

    def sqlite(self) -> Path:
        if self._sqlite is None:
            path = self.workdir / "template.sqlite3"
            database = create_database(f"sqlite:///{path}")
            migrations.upgrade(database.engine)
            database.dispose()  # the last connection checkpoints the WAL into the main file
            assert not path.with_name(path.name + "-wal").exists()
            self._sqlite = path
        return self._sqlite

    def postgres(self) -> str:
        if self._postgres is None:
            name = f"carbon_template_{uuid.uuid4().hex[:12]}"
            admin = admin_engine()
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            self._postgres = name  # dropped at the end of the session even if migrating fails
            database = create_database(postgres_url_for(name))
            migrations.upgrade(database.engine)
            database.dispose()  # CREATE DATABASE … TEMPLATE needs the template without connections
        return self._postgres

    def drop(self) -> None:
        if self._postgres is not None:
            admin = admin_engine()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._postgres}" WITH (FORCE)'))
            admin.dispose()


def copy_migrated(database_url: str, templates: MigratedTemplates) -> None:
    """Makes the empty database at ``database_url`` a copy of the session's migrated template."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        target = Path(parsed.database)
        assert not target.exists(), f"{target} is not empty"
        shutil.copyfile(templates.sqlite(), target)
        return
    template = templates.postgres()
    admin = admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}" TEMPLATE "{template}"'))
    admin.dispose()
