"""Operator commands: ``backup`` / ``restore`` of the data directory, and what ``serve`` and the
``chain`` commands share (logging set-up, secrets to redact, private key files).

``carbon-ledger backup DEST`` takes a consistent online copy while the ledger runs;
``carbon-ledger restore SRC`` puts one back into a data directory without a database (the
ledger stopped). Procedures: docs/operations.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.engine import make_url

from backend.adapters import backup as backups
from backend.adapters.voucher_keys import KEY_FILE as VOUCHER_KEY_FILE
from backend.bootstrap.runtime import SUBJECT_KEY_FILE, Runtime
from backend.bootstrap.settings import DEV_TOKEN_SECRET, Settings
from backend.domain.errors import ConfigurationError, InvalidInput
from backend.entrypoints.cli import common
from backend.entrypoints.cli.common import bi, fail
from backend.observability.logging import configure_logging, register_secret


def register(app: typer.Typer) -> None:
    app.command(
        "backup",
        help=bi("consistent online backup of the SQLite data directory", "在线一致性备份数据目录（SQLite）"),
    )(backup)
    app.command(
        "restore",
        help=bi(
            "restore a backup into a data directory without a database", "将备份恢复到没有数据库的数据目录"
        ),
    )(restore)


def configure_serve_logging(settings: Settings) -> None:
    """JSON (or text) logs at the configured level, redacting every secret known before start-up."""
    configure_logging(settings.log_level, settings.log_format, queued=True)
    register_settings_secrets(settings)


def register_settings_secrets(settings: Settings) -> None:
    """The secrets set in the configuration, and the public development ones."""
    from backend.adapters.anvil import ANVIL_DEFAULT_KEY_0

    register_secret(DEV_TOKEN_SECRET, ANVIL_DEFAULT_KEY_0, settings.token_secret, settings.subject_key)
    register_secret(settings.anchoring_key, settings.metrics_token, settings.park_platform_secret)


def register_runtime_secrets(runtime: Runtime) -> None:
    """Secrets the runtime loaded from files: the subject-commitment key, the voucher and log
    signing keys and the anchoring key."""
    from backend.bootstrap.startup import anchoring_key

    register_secret(runtime.subject_key.hex())
    register_secret(*runtime.voucher_signer.secret_texts(), *runtime.log_keys.secret_texts())
    if runtime.chain is not None:
        register_secret(anchoring_key(runtime.settings))


def _sqlite_path(settings: Settings) -> Path | None:
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise ConfigurationError("an in-memory database cannot be backed up")
    return Path(url.database)


def _data_files(settings: Settings) -> list[Path]:
    data_dir = settings.data_dir
    files = [data_dir / SUBJECT_KEY_FILE, data_dir / VOUCHER_KEY_FILE, settings.manifest_path]
    files += sorted(data_dir.glob("deployment.replaced-*.json"))
    key_file = settings.anchoring_key_file
    if key_file is not None and key_file.resolve().parent == data_dir:
        files.append(key_file)
    if settings.resolved_log_key_file.resolve().parent == data_dir:
        files.append(settings.resolved_log_key_file)  # the key behind every published checkpoint
    return files


def _local_chain_rpc(settings: Settings) -> Any | None:
    """A caller of the managed local Anvil, if the ledger runs one and it answers; else None."""
    if settings.chain_profile != "anvil" or settings.chain_rpc_url:
        return None
    from backend.adapters.anvil import rpc_call

    url = settings.resolved_rpc_url
    try:
        rpc_call(url, "eth_chainId")
    except (OSError, ValueError, RuntimeError):
        return None
    return lambda method: rpc_call(url, method, timeout_s=backups.DUMP_TIMEOUT_S)


def backup(
    dest: Annotated[
        Path,
        typer.Argument(
            help=bi("new (or empty) directory to write the backup into", "备份目标目录（新建或为空）")
        ),
    ],
    without_database: Annotated[
        bool,
        typer.Option(
            help=bi(
                "keys and manifests only (PostgreSQL: back the database up with pg_dump; docs/operations.md)",
                "只备份密钥与部署清单（PostgreSQL 请用 pg_dump）",
            )
        ),
    ] = False,
) -> None:
    settings = common.settings()
    database = _sqlite_path(settings)
    if database is None and not without_database:
        fail(
            "backup: the database is PostgreSQL: back it up with pg_dump (docs/operations.md), and add "
            "--without-database to copy the keys and manifests here"
        )
    result = backups.backup(
        dest,
        settings.data_dir,
        None if without_database else database,
        _data_files(settings),
        _local_chain_rpc(settings),
    )
    facts = result.facts
    what = (
        f"database at schema {facts['schema_revision']}, {facts['log_size']} leaves, "
        f"anchored up to tree size {(facts['anchored'] or {}).get('tree_size', 0)}"
        if facts
        else "keys and manifests only"
    )
    print(f"backup written to {result.path}: {what}; {len(result.files)} files in {result.duration_s:.2f} s")
    for note in result.notes:
        print(f"  note: {note}")


def restore(
    src: Annotated[
        Path,
        typer.Argument(
            help=bi("a directory written by `carbon-ledger backup`", "由 backup 命令写出的备份目录")
        ),
    ],
    verify_only: Annotated[
        bool, typer.Option(help=bi("check the backup's hashes and stop", "只校验备份文件的哈希"))
    ] = False,
) -> None:
    if verify_only:
        manifest = backups.verify(src)
        print(f"backup {src} is intact: {len(manifest['files'])} files match their SHA-256")
        return
    _restore(src, common.settings())


def _restore(src: Path, settings: Settings) -> None:
    database = _sqlite_path(settings)
    if database is None:
        raise InvalidInput("CARBON_DATABASE_URL", "restore handles SQLite; use pg_restore for PostgreSQL")
    manifest = backups.restore(src, settings.data_dir, database)
    facts = manifest.get("facts") or {}
    print(
        f"restored {len(manifest['files'])} files into {settings.data_dir} "
        f"({facts.get('log_size', 0)} leaves, backup of {manifest['created_at']}); start the ledger and "
        "run `carbon-ledger audit verify-log` to check it"
    )


def private_file(path: Path, text: str) -> None:
    """Creates ``path`` readable by its owner only; refuses to overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, backups.SECRET_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
