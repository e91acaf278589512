"""Chain fixtures shared by the integration tests: a real Anvil node (the compiled contract is in
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend.adapters.anvil import AnvilProcess, free_port


@pytest.fixture
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilProcess]:
    """A fresh Anvil on a free port, with a state file and a log in a temporary directory."""
    workdir = tmp_path_factory.mktemp("anvil")
    node = AnvilProcess(port=free_port(), state_path=workdir / "state.json", log_path=workdir / "anvil.log")
    node.start()
    try:
        yield node
    finally:
        node.stop()
