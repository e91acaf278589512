"""Where checkpoints of the log are anchored: one ledger contract on one chain.

The log's own use cases (receipts, tiles, witness submissions) select checkpoints by this target
without knowing how a checkpoint is made; anchoring (``backend/services/anchoring/anchoring.py``) makes them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnchorTarget:
    chain_id: int
    contract: str
