"""The local Anvil's state, persisted on demand: a checkpoint counts only once it survives a kill.

Anvil keeps its chain in memory and writes it to its state file on exit and every
``--state-interval`` seconds. A node killed inside that interval comes back without its latest
blocks, so a checkpoint mined there would be lost although the ledger counted it confirmed. On the
``anvil`` profile the ledger therefore asks the node for its state (``anvil_dumpState``) after a
checkpoint is mined and writes it to the state file itself, atomically (temporary file, fsync,
rename), before it calls the checkpoint confirmed.

Writers are serialised by an advisory lock beside the state file, across processes (the server's
anchoring job and a ``carbon-ledger chain reanchor`` run), and each writes a dump taken while it
held the lock: the file never goes back to an older state than one a writer already persisted.
Anvil's own periodic dumps can only write a newer state than ours.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import RPCEndpoint

from backend.domain.errors import ChainError

STATE_FILE_MODE = 0o600
ANVIL_STATE_FILE = "anvil-state.json"
"""The managed Anvil's state file in the data directory."""


class AnvilStateFile:
    """The state file of a managed Anvil that this process may persist to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._local = threading.Lock()
        self.persisted_block: int = -1
        """Highest block this process knows to be in the state file."""

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._local:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, STATE_FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    def persist(self, w3: Web3) -> int:
        """Dumps the node's state into the state file; returns the latest block it holds."""
        with self._locked():
            try:
                latest = int(w3.eth.block_number)  # mined before the dump, so the dump holds it
                state: Any = w3.manager.request_blocking(RPCEndpoint("anvil_dumpState"), [])
            except (Web3Exception, OSError, ValueError) as exc:
                raise ChainError(f"anvil_dumpState failed: {exc}") from exc
            if not isinstance(state, str) or not state.startswith("0x"):
                raise ChainError(f"anvil_dumpState answered {str(state)[:200]}")
            self._write(gzip.decompress(bytes.fromhex(state[2:])))
            self.persisted_block = max(self.persisted_block, latest)
            return latest

    def _write(self, data: bytes) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, STATE_FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ChainError(f"cannot write the chain state to {self.path}: {exc}") from exc
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)
