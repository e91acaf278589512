"""A real `carbon-ledger serve` (uvicorn + managed Anvil) in a temporary data dir, for benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from backend.adapters.anvil import free_port

BIN = Path(sys.executable).parent


class BenchServer:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, workers: int = 1) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.api_port = free_port()
        self.anvil_port = free_port()
        self.env = {
            **os.environ,
            "CARBON_DATA_DIR": str(data_dir),
            "CARBON_API_PORT": str(self.api_port),
            "CARBON_ANVIL_PORT": str(self.anvil_port),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.anvil_port}"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "carbon-ledger"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        return done.stdout.strip()

    def __enter__(self) -> BenchServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "carbon-ledger"), "serve", "--workers", str(self.workers)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200 and self._all_started():
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.process.kill()  # not left behind when the benchmark gives up
        self.process.wait()
        raise RuntimeError(f"server did not start (see {self.data_dir / 'serve.log'})")

    def _all_started(self) -> bool:
        """Whether every worker process finished its start-up (each logs it once)."""
        log = (self.data_dir / "serve.log").read_text(errors="replace")
        return log.count("Application startup complete") >= self.workers

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)
