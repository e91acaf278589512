"""The log's signing keys: created private, a stable default origin, rotation seen by another
process's store, retirement, and the production check of the file's mode."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backend.adapters.log_keys import DEFAULT_ORIGIN_PREFIX, LogKeyStore
from backend.bootstrap.settings import Settings
from backend.domain.errors import ConfigurationError, NotFound

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def test_the_key_file_is_private_and_the_default_origin_stays(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    store = LogKeyStore(path)
    origin = store.origin
    assert origin.startswith(DEFAULT_ORIGIN_PREFIX)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = LogKeyStore(path)
    assert again.origin == origin
    assert again.signers()[0].verifier == store.signers()[0].verifier
    assert LogKeyStore(path, "park.example/log").origin == "park.example/log"


def test_rotation_is_seen_by_a_running_store_and_retirement_stops_a_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    server, cli = LogKeyStore(path, "park.example/log"), LogKeyStore(path, "park.example/log")
    old = server.signers()[0].verifier
    new = cli.rotate(NOW)
    assert [s.verifier for s in server.signers()] == [new, old]
    with pytest.raises(ConfigurationError, match="newest"):
        cli.retire(new.key_id.hex(), NOW)
    with pytest.raises(NotFound):
        cli.retire("00000000", NOW)
    cli.retire(old.key_id.hex(), NOW)
    assert [s.verifier for s in server.signers()] == [new]
    assert len(server.verifiers()) == 2  # retired keys stay listed for old notes


def test_a_readable_key_file_is_refused_outside_local_mode(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    LogKeyStore(path).signers()
    path.chmod(0o644)
    settings = Settings(env="production", data_dir=tmp_path, log_key_file=path)
    with pytest.raises(ConfigurationError, match="log signing key file"):
        settings.check_production_safety()
