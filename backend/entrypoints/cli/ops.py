"""Operator commands: ``backup`` / ``restore`` of the data directory and ``chain`` role administration.

``carbon-ledger backup DEST`` takes a consistent online copy while the ledger runs;
``carbon-ledger restore SRC`` puts one back into a data directory without a database (the
ledger stopped). ``carbon-ledger chain grant-anchorer ADDRESS`` / ``revoke-anchorer ADDRESS``
rotate the anchoring key on-chain, signed with the contract admin's key
(``CARBON_ADMIN_KEY_FILE``, default the anchoring key, which deployed the contract).
Procedures: docs/operations.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from backend.adapters import backup as backups
from backend.domain.errors import ConfigurationError, InvalidInput
from backend.entrypoints.cli import reanchor
from backend.observability.logging import configure_logging, register_secret
from backend.runtime import SUBJECT_KEY_FILE, Runtime
from backend.settings import DEV_TOKEN_SECRET, Settings

COMMANDS = ("backup", "restore", "chain")


def add_commands(commands: Any) -> None:
    save = commands.add_parser("backup", help="consistent online backup of the SQLite data directory")
    save.add_argument("dest", type=Path, help="new (or empty) directory to write the backup into")
    save.add_argument(
        "--without-database",
        action="store_true",
        help="keys and manifests only (PostgreSQL: back the database up with pg_dump; docs/operations.md)",
    )
    load = commands.add_parser("restore", help="restore a backup into a data directory without a database")
    load.add_argument("src", type=Path, help="a directory written by `carbon-ledger backup`")
    load.add_argument("--verify-only", action="store_true", help="check the backup's hashes and stop")
    chain = commands.add_parser(
        "chain", help="the ledger contract: identity check, re-anchoring, anchoring-key rotation"
    )
    sub = chain.add_subparsers(dest="chain_command", required=True)
    reanchor.add_subcommands(sub)  # status, reanchor
    grant = sub.add_parser("grant-anchorer", help="grant ANCHORER_ROLE to ADDRESS (admin key signs)")
    grant.add_argument("address")
    revoke = sub.add_parser("revoke-anchorer", help="revoke ANCHORER_ROLE from ADDRESS (admin key signs)")
    revoke.add_argument("address")
    revoke.add_argument(
        "--force", action="store_true", help="even if ADDRESS is the configured anchoring key"
    )
    sub.add_parser("anchorers", help="list the accounts holding ANCHORER_ROLE")
    new_key = sub.add_parser("new-key", help="write a new private key to FILE (mode 600), print its address")
    new_key.add_argument("file", type=Path)


def configure_serve_logging(settings: Settings) -> None:
    """JSON (or text) logs at the configured level, redacting every secret known before start-up."""
    configure_logging(settings.log_level, settings.log_format)
    from deploy.anvil import ANVIL_DEFAULT_KEY_0

    register_secret(DEV_TOKEN_SECRET, ANVIL_DEFAULT_KEY_0, settings.token_secret, settings.subject_key)
    register_secret(settings.anchoring_key, settings.metrics_token)


def register_runtime_secrets(runtime: Runtime) -> None:
    """Secrets the runtime loaded from files: the subject-commitment key and the anchoring key."""
    from backend.bootstrap import anchoring_key

    register_secret(runtime.subject_key.hex())
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
    files = [data_dir / SUBJECT_KEY_FILE, settings.manifest_path]
    files += sorted(data_dir.glob("deployment.replaced-*.json"))
    key_file = settings.anchoring_key_file
    if key_file is not None and key_file.resolve().parent == data_dir:
        files.append(key_file)
    return files


def _local_chain_rpc(settings: Settings) -> Any | None:
    """A caller of the managed local Anvil, if the ledger runs one and it answers; else None."""
    if settings.chain_profile != "anvil" or settings.chain_rpc_url:
        return None
    from deploy.anvil import rpc_call

    url = settings.resolved_rpc_url
    try:
        rpc_call(url, "eth_chainId")
    except (OSError, ValueError, RuntimeError):
        return None
    return lambda method: rpc_call(url, method, timeout_s=backups.DUMP_TIMEOUT_S)


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    database = _sqlite_path(settings)
    if database is None and not args.without_database:
        print(
            "backup: the database is PostgreSQL: back it up with pg_dump (docs/operations.md), and add "
            "--without-database to copy the keys and manifests here",
            file=sys.stderr,
        )
        return 2
    result = backups.backup(
        args.dest,
        settings.data_dir,
        None if args.without_database else database,
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
    return 0


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    if args.verify_only:
        manifest = backups.verify(args.src)
        print(f"backup {args.src} is intact: {len(manifest['files'])} files match their SHA-256")
        return 0
    database = _sqlite_path(settings)
    if database is None:
        raise InvalidInput("CARBON_DATABASE_URL", "restore handles SQLite; use pg_restore for PostgreSQL")
    manifest = backups.restore(args.src, settings.data_dir, database)
    facts = manifest.get("facts") or {}
    print(
        f"restored {len(manifest['files'])} files into {settings.data_dir} "
        f"({facts.get('log_size', 0)} leaves, backup of {manifest['created_at']}); start the ledger and "
        "run `carbon-ledger audit verify-log` to check it"
    )
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "backup":
        return _backup(args, settings)
    if args.command == "restore":
        return _restore(args, settings)
    from backend.entrypoints.cli import chain

    return chain.run(args, settings)


def private_file(path: Path, text: str) -> None:
    """Creates ``path`` readable by its owner only; refuses to overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, backups.SECRET_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
