"""What the anchoring use cases need of a chain: the port :class:`LedgerChain` implements.

Anchoring, re-anchoring, the chain guard and the repair of a lost suffix are written against this
protocol, so they can be tested against an in-memory chain (``tests/fakes/chain.py``) without a
node; :class:`~backend.adapters.chain.LedgerChain` is the implementation on a real EVM node, and
the integration tests run the same use cases on Anvil.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from backend.adapters.chain import MinedTx, SignedAnchor


class LedgerChainPort(Protocol):
    """The ledger contract on one chain, with the signing key that anchors on it."""

    @property
    def address(self) -> str:
        """Checksummed address of the ledger contract."""
        ...

    @property
    def confirmations(self) -> int:
        """Depth a transaction needs before it counts as mined."""
        ...

    @property
    def signer(self) -> str | None:
        """Address of the anchoring key (None: read-only)."""
        ...

    def chain_id(self) -> int: ...

    def genesis_hash(self) -> str: ...

    def code(self) -> bytes:
        """Runtime code at the contract address (empty: no contract)."""
        ...

    def root_at(self, tree_size: int) -> bytes:
        """The root anchored for ``tree_size``, 32 zero bytes if none."""
        ...

    def latest_checkpoint(self) -> tuple[int, int, bytes]:
        """(seq, tree size, root) of the latest checkpoint; zeros before the first."""
        ...

    def pending_nonce(self) -> int: ...

    def block_number(self) -> int:
        """Height of the latest block."""
        ...

    def sign_anchor(
        self,
        expected_seq: int,
        tree_size: int,
        root: bytes,
        meta_hash: bytes,
        nonce: int,
        gas_limit: int | None = None,
        proof: Sequence[bytes] = (),
    ) -> SignedAnchor:
        """Signs ``anchor`` locally; nothing is sent."""
        ...

    def sign_replacement(self, raw: bytes) -> SignedAnchor | None:
        """``raw`` again (same nonce and call) with higher fees; None where fees are fixed."""
        ...

    def send_raw(self, raw: bytes) -> None:
        """Broadcasts signed bytes; a node that already has them is not an error."""
        ...

    def mined(self, tx_hash: str) -> MinedTx | None:
        """The receipt once ``confirmations`` deep, else None."""
        ...

    def transaction_known(self, tx_hash: str) -> bool: ...

    def depth(self, block_number: int) -> int: ...

    def durable(self, block_number: int) -> bool:
        """Whether the block survives the node being killed now."""
        ...

    def find_anchor_event(self, root: bytes, from_block: int = 0) -> tuple[str, int] | None:
        """(tx hash, block) of the ``CheckpointAnchored`` event for ``root``, if any."""
        ...
