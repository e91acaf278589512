"""Tests never depend on what else listens on the machine (issue: `make test` beside `make run`)."""

from __future__ import annotations

from pathlib import Path

from backend.adapters.anvil import port_in_use
from backend.bootstrap.settings import Settings


def test_default_settings_use_ports_of_their_own(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.anvil_port != 8545 and settings.api_port != 8000  # `make run`'s ports
    assert not port_in_use(settings.anvil_port) and not port_in_use(settings.api_port)
    assert settings.resolved_rpc_url == f"http://127.0.0.1:{settings.anvil_port}"
