"""Witnesses as their operators run them: ``carbon-ledger witness serve`` subprocesses on free ports."""

from __future__ import annotations

import contextlib
import io
import signal
import subprocess
import sys
import time
from functools import cached_property
from pathlib import Path

import httpx

from backend.adapters.anvil import free_port
from backend.entrypoints.cli import witness as witness_cli

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 60.0


class WitnessServer:
    def __init__(self, directory: Path, name: str, log_vkeys: list[str]) -> None:
        self.directory = directory
        self.name = name
        self.log_vkeys = log_vkeys
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "witness.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @cached_property
    def vkey(self) -> str:
        """What the operator's command ``witness vkey`` prints (once), from the command's function
        run in this process: a ``carbon-ledger`` process would cost seconds of start-up."""
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            witness_cli.vkey(self.name, self.directory)
        return printed.getvalue().strip()

    def start(self) -> WitnessServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            str(BIN / "carbon-ledger"),
            "witness",
            "serve",
            "--name",
            self.name,
            "--dir",
            str(self.directory),
        ]
        for vkey in self.log_vkeys:
            args += ["--log", vkey]
        args += ["--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:  # polls until healthy, fails with the witness's own output
            if self.process.poll() is not None:
                raise RuntimeError(f"witness exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"witness did not become healthy:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None
