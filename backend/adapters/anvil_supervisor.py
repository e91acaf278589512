"""Keeps the managed Anvil running: a node that dies while the API serves is started again.

The API keeps recording while the chain is down (records are the database's); the anchoring job
fails until the node is back. The ledger persists the node's state before it counts a checkpoint
confirmed, so the node comes back with every confirmed checkpoint; one restarted from an older
state file gets its lost checkpoints re-anchored on the same contract by the anchoring job (see
docs/transparency-log.md).
"""

from __future__ import annotations

import logging
import threading

from backend.adapters.anvil import AnvilError, AnvilProcess

logger = logging.getLogger(__name__)

CHECK_INTERVAL_S = 2.0
"""How soon a dead node is noticed: well under the anchoring interval operators use."""


class AnvilSupervisor:
    def __init__(self, anvil: AnvilProcess, interval_s: float = CHECK_INTERVAL_S) -> None:
        self.anvil = anvil
        self.interval_s = interval_s
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="anvil-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops watching (before the node itself is stopped on purpose)."""
        self._stop.set()
        self._thread.join(timeout=self.interval_s * 3)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.anvil.is_running():
                continue
            logger.warning("the managed Anvil exited unexpectedly; starting it again from its state file")
            try:
                self.anvil.start()
            except AnvilError as exc:
                logger.error("could not restart Anvil: %s", exc.detail)
                continue
            self.restarts += 1
            logger.info("Anvil is back at %s (restart %d)", self.anvil.rpc_url, self.restarts)
