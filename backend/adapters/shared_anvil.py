"""One managed Anvil per data directory, shared by every ledger process that runs on it.

The first ``carbon-ledger serve`` (or ``worker``) on a data directory starts the node; a second one
finds it running (its pid file names a live Anvil on our state file that answers with our chain
id) and uses it instead of stopping it as an orphan and starting its own — which used to cut the
first process off its chain. Each process registers itself in ``<state>.users/``; the last one to
stop stops the node. A process killed with SIGKILL leaves its registration behind, but a dead
pid does not count as a user, so the node is then treated as an orphan as before.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from backend.adapters.anvil import STOP_TIMEOUT_S, AnvilError, AnvilProcess, _alive, _is_our_anvil, rpc_call


def _users_dir(anvil: AnvilProcess) -> Path:
    assert anvil.state_path is not None
    return anvil.state_path.with_name(anvil.state_path.name + ".users")


def other_users(anvil: AnvilProcess) -> list[int]:
    """Live processes other than this one registered as users of ``anvil``'s node."""
    users = _users_dir(anvil)
    if not users.is_dir():
        return []
    pids = []
    for entry in users.iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            if _alive(int(entry.name)):
                pids.append(int(entry.name))
            else:
                entry.unlink(missing_ok=True)
    return pids


def running_node(anvil: AnvilProcess) -> int | None:
    """The pid of a live Anvil on ``anvil``'s state file and port answering our chain id, if any."""
    pid_path = anvil.pid_path
    if pid_path is None or not pid_path.exists():
        return None
    try:
        pid, port = (int(part) for part in pid_path.read_text().split()[:2])
    except (OSError, ValueError):
        return None
    if port != anvil.port or not _is_our_anvil(pid, anvil.state_path):
        return None
    try:
        answer = rpc_call(anvil.rpc_url, "eth_chainId", timeout_s=2.0)
    except (OSError, ValueError, AnvilError):
        return None
    return pid if isinstance(answer, str) and int(answer, 16) == anvil.chain_id else None


class SharedAnvil:
    """Uses the node another live ledger process runs on this data directory, or starts one."""

    def __init__(self, anvil: AnvilProcess) -> None:
        if anvil.state_path is None:
            raise ValueError("a shared Anvil keeps its state in the data directory")
        self.anvil = anvil
        self.shared_pid: int | None = None

    @property
    def started_here(self) -> bool:
        return self.shared_pid is None

    def start(self) -> None:
        users = _users_dir(self.anvil)
        users.mkdir(parents=True, exist_ok=True)
        pid = running_node(self.anvil) if other_users(self.anvil) else None
        if pid is None:
            self.anvil.start()
        self.shared_pid = pid
        (users / str(os.getpid())).touch()

    def stop(self) -> None:
        """Leaves the node to the processes still using it; the last one out stops it."""
        (_users_dir(self.anvil) / str(os.getpid())).unlink(missing_ok=True)
        if other_users(self.anvil):
            return
        if self.shared_pid is None:
            self.anvil.stop()
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.shared_pid, signal.SIGINT)  # Anvil dumps its state on SIGINT
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _alive(self.shared_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.anvil.pid_path is not None and not _alive(self.shared_pid):
            self.anvil.pid_path.unlink(missing_ok=True)
