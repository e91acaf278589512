"""Anvil as a managed subprocess: the local chain of the ``anvil`` profile and of the tests.

The ledger is only as trustworthy as the chain it anchors to, so the local node is run with the
same care as a real one: it is started with its state file (``--state`` loads it and dumps the
chain on exit, ``--state-interval`` also dumps periodically so a crash loses little), it is
stopped with a signal that lets it dump, and a failure to start says why (port taken, bad state
file) with the tail of its log instead of a hang.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from backend.adapters.toolchain import anvil_binary
from backend.domain.errors import ChainError

ANVIL_DEFAULT_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
"""Private key of Anvil's first dev account (from the well-known ``test test ... junk`` mnemonic).

Public knowledge, so anyone can sign with it: it is only ever allowed in local mode
(``CARBON_ENV=local`` with the ``anvil`` profile) and in tests, never on a shared chain.
"""
ANVIL_DEFAULT_ADDRESS_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
"""Address of :data:`ANVIL_DEFAULT_KEY_0`."""

HOST = "127.0.0.1"
STATE_INTERVAL_S = 5
"""Seconds between Anvil's periodic state dumps: what a SIGKILL can lose at most."""
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
_LOG_TAIL_CHARS = 2000


class AnvilError(ChainError):
    """The local Anvil node could not be started (or stopped) as asked."""

    title_en = "Local chain node failed"
    title_zh = "本地链节点故障"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it; another process may race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    """Whether something listens on ``port``: bind as Anvil would (SO_REUSEADDR, so TIME_WAIT is fine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def rpc_call(url: str, method: str, params: list[object] | None = None, timeout_s: float = 2.0) -> object:
    """One JSON-RPC call with the standard library (no web3 needed to probe a node)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    if not url.startswith(("http://", "https://")):
        raise AnvilError(f"not an HTTP JSON-RPC URL: {url}")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (scheme checked above)
        reply = json.loads(response.read())
    if not isinstance(reply, dict) or "result" not in reply:
        raise AnvilError(f"{method} at {url} answered {reply!r}")
    return reply["result"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_anvil(pid: int, state_path: Path | None) -> bool:
    """Whether ``pid`` is an Anvil started on ``state_path`` (checked via /proc where there is one)."""
    if not _alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True  # no /proc (macOS): the pid file beside our state is the evidence we have
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return any(b"anvil" in arg for arg in argv[:1]) and str(state_path).encode() in argv


class AnvilProcess:
    """One Anvil node on ``127.0.0.1:port``; a context manager that starts and stops it."""

    def __init__(
        self,
        port: int,
        state_path: Path | None,
        chain_id: int = 31337,
        block_time_s: float | None = None,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
        state_interval_s: int = STATE_INTERVAL_S,
    ) -> None:
        """``extra_args`` go to Anvil as they are (e.g. ``--base-fee 0`` to mimic a free-gas chain)."""
        self.port = port
        self.state_path = state_path
        self.chain_id = chain_id
        self.block_time_s = block_time_s
        self.log_path = log_path
        self.extra_args = tuple(extra_args)
        self.state_interval_s = state_interval_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        args = [
            str(anvil_binary()),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
        ]
        if self.state_path is not None:
            args += ["--state", str(self.state_path), "--state-interval", str(self.state_interval_s)]
        if self.block_time_s is not None:
            args += ["--block-time", f"{self.block_time_s:g}"]
        args += self.extra_args
        if self.log_path is None:
            args.append("--silent")  # errors still reach stderr, which goes to a temporary log
        return args

    @property
    def pid_path(self) -> Path | None:
        """Where the node's pid is kept beside its state, so a later start can find an orphan."""
        return self.state_path.with_name(self.state_path.name + ".pid") if self.state_path else None

    def _stop_orphan(self) -> None:
        """Stops a node a crashed earlier run left behind on the same state file.

        Anvil runs in its own session, so a SIGKILL of our process leaves it running, holding the
        port and the state. It is asked to exit (SIGINT: it dumps its state), then started afresh.
        """
        pid_path = self.pid_path
        if pid_path is None or not pid_path.exists():
            return
        try:
            pid = int(pid_path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid_path.unlink(missing_ok=True)
            return
        if _is_our_anvil(pid, self.state_path):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        pid_path.unlink(missing_ok=True)

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Spawns Anvil and returns once ``eth_chainId`` answers with our chain id."""
        if self.is_running():
            raise AnvilError(f"Anvil is already running at {self.rpc_url}")
        self._stop_orphan()
        if port_in_use(self.port):
            raise AnvilError(
                f"cannot start Anvil: port {self.port} on {HOST} is already in use by another process "
                "(stop it, or choose another port with CARBON_ANVIL_PORT)"
            )
        if self.state_path is not None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_log()
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("a+b")
        else:
            self._log = tempfile.TemporaryFile(prefix="anvil-", suffix=".log")  # noqa: SIM115 (kept open)
        # Its own session: a Ctrl-C in the operator's terminal reaches our process, which stops
        # Anvil in order (after the API), instead of both at once.
        self._process = subprocess.Popen(  # noqa: S603 (our own argv, no shell)
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if self.pid_path is not None:
            # written whole or not at all: another process reading it never sees it half written
            partial = self.pid_path.with_name(self.pid_path.name + ".tmp")
            partial.write_text(f"{self._process.pid} {self.port}\n")
            os.replace(partial, self.pid_path)
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, timeout_s: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout_s
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise AnvilError(f"Anvil exited with code {code} while starting:\n{self.log_tail()}")
            try:
                answer = rpc_call(self.rpc_url, "eth_chainId", timeout_s=1.0)
            except (OSError, ValueError, AnvilError) as exc:
                last_error = f"{exc.__class__.__name__}: {exc}"
                time.sleep(0.05)
                continue
            if not isinstance(answer, str) or int(answer, 16) != self.chain_id:
                raise AnvilError(
                    f"the node at {self.rpc_url} reports chain id {answer!r}, expected {self.chain_id}: "
                    "another node took the port"
                )
            return
        raise AnvilError(
            f"Anvil did not answer eth_chainId at {self.rpc_url} within {timeout_s:g} s ({last_error}):\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Asks Anvil to exit (SIGINT, so it dumps its state) and waits; SIGKILL after ``timeout_s``."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                self._close_log()
                self._forget_pid()
                raise AnvilError(
                    f"Anvil did not exit within {timeout_s:g} s of SIGINT and was killed; "
                    f"its state file may be stale:\n{self.log_tail()}"
                ) from None
        self._close_log()
        self._forget_pid()

    def _forget_pid(self) -> None:
        if self.pid_path is not None:
            self.pid_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL, no state dump: what a power cut does (fault tests use it)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.wait()
        self._close_log()
        self._forget_pid()

    def log_tail(self, chars: int = _LOG_TAIL_CHARS) -> str:
        """The end of Anvil's output, for error messages."""
        try:
            if self._log is not None and not self._log.closed:
                self._log.flush()
                self._log.seek(0, os.SEEK_END)
                size = self._log.tell()
                self._log.seek(max(0, size - chars))
                data = self._log.read()
            elif self.log_path is not None and self.log_path.exists():
                data = self.log_path.read_bytes()[-chars:]
            else:
                return "(no log)"
        except OSError as exc:
            return f"(log unreadable: {exc})"
        text = data.decode("utf-8", "replace").strip()
        return text or "(empty log)"

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
