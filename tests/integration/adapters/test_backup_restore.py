"""Online backup of a SQLite data directory while activities are being written, and its restore."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.adapters import backup as backups
from backend.adapters import migrations
from backend.adapters.database import Database, create_database
from backend.adapters.log_keys import LogKeyStore
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.bootstrap.settings import Settings
from backend.domain.errors import InvalidInput
from backend.domain.log.merkle import leaf_hash, node_hash
from backend.entrypoints.cli.main import main
from backend.services.recording.activities import Caller, IssuancePolicy, record_activity
from tests.waiting import wait_for

POLICY = IssuancePolicy(100, b"k" * 32, timedelta(days=366), timedelta(minutes=5))
MIN_BEFORE_BACKUP = 30
MIN_DURING_BACKUP = 5


def _naive_root(hashes: list[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_naive_root(hashes[:split]), _naive_root(hashes[split:]))


class Writer(threading.Thread):
    """Records metro trips as fast as it can; ``acked`` holds the ids the service acknowledged."""

    def __init__(self, db: Database) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.acked: list[str] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        when = datetime.now(UTC) - timedelta(hours=1)
        payload = {"type": "metro", "occurred_at": when.isoformat(), "distance_km": "4.2"}
        try:
            while not self.stop.is_set():
                n = len(self.acked)
                result = record_activity(
                    self.db, Caller(f"w{n % 7}", "acme"), f"backup-{n:08d}", payload, when, POLICY
                )
                self.acked.append(result.row.id)
        except BaseException as exc:
            self.error = exc

    def wait_for(self, count: int) -> None:
        def enough() -> bool:
            assert self.error is None, self.error
            return len(self.acked) >= count

        wait_for(f"{count} acknowledged activities", enough, interval_s=0.01)


def _data_dir(root: Path) -> tuple[Path, Path, list[Path]]:
    data_dir = root / "var"
    data_dir.mkdir()
    key = data_dir / "subject-commitment.key"
    key.write_text("ab" * 32)
    key.chmod(0o600)
    manifest = data_dir / "deployment.json"
    manifest.write_text('{"chain_id": 31337}\n')
    return data_dir, data_dir / backups.DATABASE_NAME, [key, manifest]


def test_backup_while_writing_then_restore_loses_nothing(tmp_path: Path) -> None:
    data_dir, database, extras = _data_dir(tmp_path)
    db = create_database(f"sqlite:///{database}")
    migrations.upgrade(db.engine)
    writer = Writer(db)
    writer.start()
    try:
        writer.wait_for(MIN_BEFORE_BACKUP)
        acked_before = list(writer.acked)
        result = backups.backup(tmp_path / "backup", data_dir, database, extras)
        writer.wait_for(len(writer.acked) + MIN_DURING_BACKUP)  # the ledger kept accepting writes
    finally:
        writer.stop.set()
        writer.join()
        db.dispose()
    assert writer.error is None
    size = result.facts["log_size"]
    # An accepted activity logs one leaf, plus one for its points transfer when it earns points.
    assert len(acked_before) <= size < 2 * len(writer.acked)
    assert result.facts["schema_revision"] == migrations.head_revision()
    assert {path.name for path in (tmp_path / "backup").iterdir()} == {
        backups.DATABASE_NAME,
        backups.MANIFEST_NAME,
        "subject-commitment.key",
        "deployment.json",
    }

    restored_dir = tmp_path / "restored"
    backups.restore(tmp_path / "backup", restored_dir, restored_dir / backups.DATABASE_NAME)
    assert (restored_dir / "subject-commitment.key").read_bytes() == extras[0].read_bytes()
    assert (restored_dir / "subject-commitment.key").stat().st_mode & 0o777 == 0o600
    restored = create_database(f"sqlite:///{restored_dir / backups.DATABASE_NAME}")
    try:
        migrations.upgrade(restored.engine)
        with restored.read_sessions() as session:
            ids = set(session.execute(select(ActivityRow.id)).scalars())
            leaves = list(session.execute(select(LogLeafRow).order_by(LogLeafRow.idx)).scalars())
            store = SqlLogStore(session)
            assert store.size() == size == len(leaves)
            assert len(ids) <= size <= 2 * len(ids)  # each activity, and its points transfer if any
            assert set(acked_before) <= ids, "an activity acknowledged before the backup is missing"
            assert [leaf.idx for leaf in leaves] == list(range(size))
            assert all(leaf_hash(leaf.leaf) == leaf.leaf_hash for leaf in leaves)
            assert store.root(size) == _naive_root([leaf.leaf_hash for leaf in leaves])
    finally:
        restored.dispose()


def test_restore_refuses_a_tampered_backup_and_an_occupied_data_dir(tmp_path: Path) -> None:
    data_dir, database, extras = _data_dir(tmp_path)
    db = create_database(f"sqlite:///{database}")
    migrations.upgrade(db.engine)
    db.dispose()
    dest = tmp_path / "backup"
    backups.backup(dest, data_dir, database, extras)
    with pytest.raises(backups.BackupError, match="not empty"):
        backups.backup(dest, data_dir, database, extras)
    with pytest.raises(backups.BackupError, match="already exists"):
        backups.restore(dest, data_dir, database)

    (dest / "deployment.json").write_text('{"chain_id": 1}\n')
    with pytest.raises(InvalidInput, match="does not match its SHA-256"):
        backups.verify(dest)
    (dest / backups.MANIFEST_NAME).unlink()
    with pytest.raises(InvalidInput, match="not a complete backup"):
        backups.restore(dest, tmp_path / "elsewhere", tmp_path / "elsewhere" / backups.DATABASE_NAME)
    assert not (tmp_path / "elsewhere").exists()


def test_postgresql_backup_copies_keys_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, _database, extras = _data_dir(tmp_path)
    settings = Settings(data_dir=data_dir, database_url="postgresql+psycopg://ledger@127.0.0.1:1/ledger")
    LogKeyStore(settings.resolved_log_key_file).signers()  # the log's checkpoint key, created on use
    dest = tmp_path / "keys"
    assert main(["backup", str(dest)], settings=settings) == 2
    assert "pg_dump" in capsys.readouterr().err and not dest.exists()
    assert main(["backup", "--without-database", str(dest)], settings=settings) == 0
    manifest = backups.verify(dest)
    assert manifest["database"] is None
    assert set(manifest["files"]) == {path.name for path in extras} | {"log-signing.json"}
