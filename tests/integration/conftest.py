"""Chain fixtures shared by the integration tests: the compiled contract and a real Anvil node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.adapters.anvil import AnvilProcess, free_port
from backend.adapters.contract_compiler import ContractArtifact, compile_ledger


@pytest.fixture(scope="session")
def solc_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's compile cache: a temporary directory, so tests never touch ``var/``."""
    return tmp_path_factory.mktemp("solc-cache")


@pytest.fixture(scope="session")
def ledger_artifact(solc_cache_dir: Path) -> ContractArtifact:
    """The ledger contract, compiled once per session (solc-js takes seconds)."""
    return compile_ledger(solc_cache_dir)


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
