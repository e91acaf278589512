"""Backup and restore of a SQLite data directory: database, keys, deployment manifests.

The database is copied with SQLite's online backup API in one step, which reads one consistent
snapshot while the application keeps writing (WAL mode: writers are never blocked). The local
Anvil chain's state, when the ledger runs one, is dumped over RPC *after* the database snapshot,
so the copied chain holds at least every checkpoint the copied database calls confirmed. Each file
goes in with its SHA-256 in ``backup-manifest.json``, written last: a directory without it is an
incomplete backup. Restore checks every hash and SQLite's ``integrity_check`` before it writes
anything, and refuses a data directory that already holds a database.

PostgreSQL is backed up with its own tools (``pg_dump`` / ``pg_restore``, docs/operations.md);
:func:`backup` then copies only the keys and manifests.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.domain.errors import ConfigurationError, InvalidInput

BACKUP_FORMAT = 1
MANIFEST_NAME = "backup-manifest.json"
DATABASE_NAME = "carbon-ledger.sqlite3"
CHAIN_STATE_NAME = "anvil-state.json"
SECRET_MODE = 0o600
DIR_MODE = 0o700
DUMP_TIMEOUT_S = 60.0
"""anvil_dumpState serialises the whole local chain: seconds for a large one."""


class BackupError(ConfigurationError):
    title_en = "Backup or restore refused"
    title_zh = "备份或恢复被拒绝"


@dataclass
class BackupResult:
    path: Path
    files: dict[str, dict[str, Any]]
    facts: dict[str, Any]
    duration_s: float
    notes: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _copy_private(source: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_MODE)
    with os.fdopen(fd, "wb") as out, source.open("rb") as inp:
        shutil.copyfileobj(inp, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, dest)


def snapshot_sqlite(source: Path, dest: Path) -> None:
    """A consistent copy of the live database ``source`` at ``dest`` (a self-contained file)."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)  # all pages in one step: one read transaction, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
    finally:
        src.close()
    if check != "ok":
        tmp.unlink(missing_ok=True)
        raise BackupError(f"the database snapshot fails integrity_check: {check}")
    os.chmod(tmp, SECRET_MODE)
    os.replace(tmp, dest)


def database_facts(path: Path) -> dict[str, Any]:
    """Schema revision, log size and last confirmed checkpoint recorded in a database file."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        size = conn.execute("SELECT size FROM log_head WHERE id = 1").fetchone()
        last = conn.execute(
            "SELECT seq, tree_size, chain_id, contract FROM checkpoints WHERE state = 'confirmed' "
            "ORDER BY tree_size DESC LIMIT 1"
        ).fetchone()
        activities = conn.execute("SELECT COUNT(*) FROM activities").fetchone()[0]
    finally:
        conn.close()
    facts: dict[str, Any] = {
        "schema_revision": revision[0] if revision else None,
        "log_size": int(size[0]) if size else 0,
        "activities": int(activities),
        "anchored": None,
    }
    if last:
        facts["anchored"] = {"seq": last[0], "tree_size": last[1], "chain_id": last[2], "contract": last[3]}
    return facts


def _dump_chain_state(rpc: Any, dest: Path) -> None:
    state = rpc("anvil_dumpState")
    if not isinstance(state, str) or not state.startswith("0x"):
        raise BackupError("anvil_dumpState answered something other than hex")
    _write_private(dest, gzip.decompress(bytes.fromhex(state[2:])))


def backup(
    dest: Path,
    data_dir: Path,
    database: Path | None,
    extra_files: list[Path],
    chain_rpc: Any | None = None,
) -> BackupResult:
    """Backs up ``database`` (None: keys and manifests only) and the data dir's keys to ``dest``.

    ``extra_files`` are the data dir's keys and deployment manifests; ``chain_rpc(method)`` dumps
    the local Anvil's state when given (else a state file at rest is copied as it is).
    """
    started = time.monotonic()
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: back up into a new directory")
    if database is not None and not database.exists():
        raise BackupError(f"no database at {database}")  # before mkdir: no empty folder left behind
    dest.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(dest, DIR_MODE)
    notes: list[str] = []
    facts: dict[str, Any] = {}
    if database is not None:
        snapshot_sqlite(database, dest / DATABASE_NAME)
        facts = database_facts(dest / DATABASE_NAME)
    state = data_dir / CHAIN_STATE_NAME
    if chain_rpc is not None:
        _dump_chain_state(chain_rpc, dest / CHAIN_STATE_NAME)
        notes.append("local Anvil chain state dumped after the database snapshot")
    elif state.exists():
        _copy_private(state, dest / CHAIN_STATE_NAME)
        notes.append("local Anvil chain state copied from its file (the node was not running)")
    for path in extra_files:
        if path.exists():
            _copy_private(path, dest / path.name)
    files = {
        item.name: {"sha256": _sha256(item), "bytes": item.stat().st_size}
        for item in sorted(dest.iterdir())
        if item.is_file() and item.name != MANIFEST_NAME
    }
    manifest = {
        "format": BACKUP_FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "database": DATABASE_NAME if database is not None else None,
        "facts": facts,
        "files": files,
        "notes": notes,
    }
    _write_private(dest / MANIFEST_NAME, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return BackupResult(dest, files, facts, time.monotonic() - started, notes)


def read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput("SRC", f"{path} is missing or unreadable: not a complete backup ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
        raise InvalidInput("SRC", f"{path}: unknown backup format {manifest.get('format')!r}")
    return manifest


def verify(src: Path) -> dict[str, Any]:
    """The manifest, once every file's size and SHA-256 match and the database is intact."""
    manifest = read_manifest(src)
    for name, expected in manifest["files"].items():
        path = src / name
        if Path(name).name != name or not path.is_file():
            raise InvalidInput("SRC", f"the backup lacks {name}")
        if path.stat().st_size != expected["bytes"] or _sha256(path) != expected["sha256"]:
            raise InvalidInput("SRC", f"{name} does not match its SHA-256 in the backup manifest")
    if manifest.get("database"):
        conn = sqlite3.connect(f"file:{src / manifest['database']}?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
        if check != "ok":
            raise InvalidInput("SRC", f"the backed-up database fails integrity_check: {check}")
    return manifest


def restore(src: Path, data_dir: Path, database: Path) -> dict[str, Any]:
    """Restores a verified backup into ``data_dir`` (database at ``database``); never overwrites one."""
    manifest = verify(src)
    if manifest.get("database") and any(
        database.with_name(database.name + suffix).exists() for suffix in ("", "-wal", "-journal")
    ):
        raise BackupError(
            f"{database} already exists: stop the ledger and move it (and its -wal/-shm files) aside, "
            "or restore into an empty data directory"
        )
    if (data_dir / CHAIN_STATE_NAME).exists() and CHAIN_STATE_NAME in manifest["files"]:
        raise BackupError(f"{data_dir / CHAIN_STATE_NAME} exists: restore into an empty data directory")
    data_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in manifest["files"]:
        target = database if name == manifest.get("database") else data_dir / name
        if target.exists() and _sha256(target) != manifest["files"][name]["sha256"]:
            os.replace(target, target.with_name(f"{target.name}.before-restore-{stamp}"))
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_private(src / name, target)
    return manifest
