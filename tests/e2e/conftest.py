"""A real `carbon-ledger serve` (uvicorn + managed Anvil) in a temporary data directory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.adapters.anvil import free_port
from backend.adapters.contract_compiler import ContractArtifact
from backend.bootstrap.settings import DEV_TOKEN_SECRET
from backend.services.identity.tokens import issue_token
from tests.log_scan import leaks
from tests.waiting import wait_for

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 120


class LedgerServer:
    compile_cache: Path | None = None
    """A directory holding the session's compiled contract (set by ``_shared_compile_cache``)."""

    def __init__(
        self, data_dir: Path, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ("serve",)
    ) -> None:
        self.data_dir = data_dir
        self.args = args
        self.api_port = free_port()
        self.anvil_port = free_port()
        self.env = {
            **os.environ,
            "CARBON_DATA_DIR": str(data_dir),
            "CARBON_API_PORT": str(self.api_port),
            "CARBON_ANVIL_PORT": str(self.anvil_port),
            "CARBON_ANCHOR_INTERVAL_S": "0.5",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "serve.log"
        self.issued: list[tuple[str, str]] = []  # (token, subject): neither may ever reach the log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.anvil_port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "carbon-ledger"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def verify_log(self, auditor: str) -> subprocess.CompletedProcess[str]:
        """An auditor's ``audit verify-log`` against this server and its chain (not checked: the
        caller asserts the exit code it expects)."""
        return self.cli(
            "audit", "verify-log", "--api", self.url, "--rpc", self.rpc_url, "--token", auditor, check=False
        )

    def token(
        self, role: str = "employee", subject: str = "emp-001", org: str = "acme", via_cli: bool = False
    ) -> str:
        """A dev token for this server. Minted in process with the secret the server uses (each
        ``carbon-ledger`` process costs seconds of start-up); ``via_cli`` asks ``carbon-ledger
        dev-token`` as a user would (the walk-through does, so the installed command stays proven)."""
        if via_cli:
            token = self.cli("dev-token", "--role", role, "--subject", subject, "--org", org).stdout.strip()
        else:
            assert self.env.get("CARBON_ENV", "local") == "local", "dev tokens are for local mode only"
            secret = self.env.get("CARBON_TOKEN_SECRET", DEV_TOKEN_SECRET)
            token = issue_token(secret, role, subject, org, 86_400, kind="dev")
        self.issued.append((token, subject))
        return token

    def log_leaks(self) -> list[str]:
        """Secrets, tokens and subject ids found in serve.log (see tests/log_scan.py)."""
        secrets = [token for token, _ in self.issued]
        key = self.data_dir / "subject-commitment.key"
        if key.exists():
            secrets.append(key.read_text().strip())
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return leaks(text, secrets, [subject for _, subject in self.issued])

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        build = self.data_dir / "build"
        if self.compile_cache is not None and not build.exists():
            # The contract compiled once this session: a compile cache, not state (never backed
            # up), and solc-js takes seconds. Compiling is proven by
            # tests/integration/adapters/test_deploy.py.
            shutil.copytree(self.compile_cache, build)
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [str(BIN / "carbon-ledger"), *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        process = self.process

        def healthy() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.log_path.read_text()[-3000:]}")
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200

        try:
            wait_for("serve to answer /healthz", healthy, START_TIMEOUT_S, 0.3, not_yet=(httpx.HTTPError,))
        except AssertionError as exc:
            raise RuntimeError(f"serve did not become healthy:\n{self.log_path.read_text()[-3000:]}") from exc

    def stop(self) -> int:
        """Ctrl-C, as a user would; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


@pytest.fixture(scope="session", autouse=True)
def _shared_compile_cache(solc_cache_dir: Path, ledger_artifact: ContractArtifact) -> Iterator[None]:
    LedgerServer.compile_cache = solc_cache_dir
    try:
        yield
    finally:
        LedgerServer.compile_cache = None


@pytest.fixture
def ledger_server(tmp_path: Path) -> Iterator[LedgerServer]:
    server = LedgerServer(tmp_path / "var")
    server.start()
    try:
        yield server
    finally:
        if server.process and server.process.poll() is None:
            server.stop()
    assert not server.log_leaks(), f"serve.log gives away: {server.log_leaks()}"
