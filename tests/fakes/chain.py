"""An in-memory ledger contract and node: the rules of contracts/CarbonLedger.sol, no EVM.

It keeps what the anchoring use cases can observe of a chain — blocks, a mempool, nonces, the
contract's checkpoints and events — and applies the contract's rules when a transaction is mined
(``expectedSeq``, increasing tree sizes, the RFC 9162 consistency proof, checked with the domain's
own verifier). A reverted transaction is mined with status 0, as on a real chain. Tests drive it:
``auto_mine`` off leaves transactions pending (so does a ``base_fee`` above their fee), :meth:`mine`
mines, :meth:`lose_blocks_after` rolls the chain back as a node restarted from an older state would.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from backend.adapters.chain import MinedTx, SignedAnchor
from backend.domain.errors import ChainError, ProofError
from backend.domain.log.merkle import verify_consistency

ZERO = bytes(32)
ANCHOR_GAS = 60_000


@dataclass(frozen=True)
class _Call:
    nonce: int
    expected_seq: int
    tree_size: int
    root: bytes
    meta_hash: bytes
    proof: tuple[bytes, ...]
    fee: int = 1

    def raw(self) -> bytes:
        return json.dumps(
            {
                "nonce": self.nonce,
                "seq": self.expected_seq,
                "size": self.tree_size,
                "root": self.root.hex(),
                "meta": self.meta_hash.hex(),
                "proof": [p.hex() for p in self.proof],
                "fee": self.fee,
            }
        ).encode()

    @classmethod
    def parse(cls, raw: bytes) -> _Call:
        data = json.loads(raw)
        return cls(
            data["nonce"],
            data["seq"],
            data["size"],
            bytes.fromhex(data["root"]),
            bytes.fromhex(data["meta"]),
            tuple(bytes.fromhex(p) for p in data["proof"]),
            data["fee"],
        )


@dataclass
class _Block:
    number: int
    receipts: dict[str, MinedTx] = field(default_factory=dict)
    anchored: list[tuple[int, int, bytes, str]] = field(default_factory=list)
    """(seq, tree size, root, tx hash) of each checkpoint anchored in this block."""


class FakeLedgerChain:
    """A :class:`~backend.services.anchoring.chain_port.LedgerChainPort` kept in memory."""

    def __init__(
        self, address: str = "0x" + "ab" * 20, signer: str | None = "0x" + "cd" * 20, confirmations: int = 1
    ) -> None:
        self.address = address
        self.signer = signer
        self.confirmations = confirmations
        self.auto_mine = True
        self.base_fee = 0
        """A block takes only transactions whose ``fee`` reaches it (an EIP-1559 base fee)."""
        self.reachable = True
        self.blocks: list[_Block] = [_Block(0)]
        self.mempool: dict[str, bytes] = {}
        self.sent: list[str] = []
        """Every transaction hash broadcast, in order (a resend of known bytes is not repeated)."""

    # -- state derived from the blocks ---------------------------------------------------------

    def _checkpoints(self) -> list[tuple[int, int, bytes, str, int]]:
        return [(*a, block.number) for block in self.blocks for a in block.anchored]

    def _nonce(self) -> int:
        return sum(len(block.receipts) for block in self.blocks)

    def _check(self) -> None:
        if not self.reachable:
            raise ChainError("fake chain: node not reachable")

    # -- the port -------------------------------------------------------------------------------

    def chain_id(self) -> int:
        self._check()
        return 31337

    def genesis_hash(self) -> str:
        return "0x" + "00" * 31 + "01"

    def code(self) -> bytes:
        return b"\x60\x80"

    def root_at(self, tree_size: int) -> bytes:
        self._check()
        return next((root for _, size, root, _, _ in self._checkpoints() if size == tree_size), ZERO)

    def latest_checkpoint(self) -> tuple[int, int, bytes]:
        self._check()
        checkpoints = self._checkpoints()
        if not checkpoints:
            return 0, 0, ZERO
        seq, size, root, _, _ = checkpoints[-1]
        return seq, size, root

    def pending_nonce(self) -> int:
        self._check()
        return self._nonce() + len(self.mempool)

    def block_number(self) -> int:
        self._check()
        return self.blocks[-1].number

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
        if self.signer is None:
            raise ChainError("no signing key configured")
        raw = _Call(nonce, expected_seq, tree_size, root, meta_hash, tuple(proof)).raw()
        return SignedAnchor(raw, _hash(raw), nonce, self.signer, gas_limit or ANCHOR_GAS)

    def sign_replacement(self, raw: bytes) -> SignedAnchor | None:
        call = _Call.parse(raw)
        bumped = replace(call, fee=max(call.fee * 9 // 8 + 1, self.base_fee))
        return SignedAnchor(bumped.raw(), _hash(bumped.raw()), call.nonce, self.signer or "", ANCHOR_GAS)

    def send_raw(self, raw: bytes) -> None:
        self._check()
        tx_hash = _hash(raw)
        if tx_hash in self.mempool or self._receipt(tx_hash) is not None:
            return
        call = _Call.parse(raw)
        if call.nonce < self._nonce():
            raise ChainError("fake chain: nonce too low")
        for pending_hash, pending in list(self.mempool.items()):
            if _Call.parse(pending).nonce == call.nonce:
                if call.fee * 10 < _Call.parse(pending).fee * 11:
                    raise ChainError("fake chain: replacement transaction underpriced")
                del self.mempool[pending_hash]
        self.mempool[tx_hash] = raw
        self.sent.append(tx_hash)
        if self.auto_mine:
            self.mine()

    def mined(self, tx_hash: str) -> MinedTx | None:
        self._check()
        receipt = self._receipt(tx_hash)
        if receipt is None or self.depth(receipt.block_number) < self.confirmations:
            return None
        return receipt

    def transaction_known(self, tx_hash: str) -> bool:
        return tx_hash in self.mempool or self._receipt(tx_hash) is not None

    def depth(self, block_number: int) -> int:
        return self.blocks[-1].number - block_number + 1

    def durable(self, block_number: int) -> bool:
        return True

    def find_anchor_event(self, root: bytes, from_block: int = 0) -> tuple[str, int] | None:
        for _, _, anchored_root, tx_hash, number in self._checkpoints():
            if anchored_root == root and number >= from_block:
                return tx_hash, number
        return None

    # -- what tests do to the chain -------------------------------------------------------------

    def mine(self) -> None:
        """Mines one block with every pending transaction that is next in nonce order."""
        block = _Block(self.blocks[-1].number + 1)
        self.blocks.append(block)
        pending = sorted(self.mempool.items(), key=lambda item: _Call.parse(item[1]).nonce)
        for tx_hash, raw in pending:
            call = _Call.parse(raw)
            if call.nonce != self._nonce() or call.fee < self.base_fee:
                break
            del self.mempool[tx_hash]
            ok = self._execute(block, call, tx_hash)
            block.receipts[tx_hash] = MinedTx(1 if ok else 0, block.number, ANCHOR_GAS)

    def lose_blocks_after(self, number: int) -> None:
        """The node comes back from a state that ends at block ``number``: the rest is gone."""
        self.blocks = [block for block in self.blocks if block.number <= number]
        self.mempool.clear()

    def _execute(self, block: _Block, call: _Call, tx_hash: str) -> bool:
        seq, previous, previous_root = self.latest_checkpoint()
        if call.expected_seq != seq + 1 or call.tree_size <= previous or call.root == ZERO:
            return False
        if previous:
            try:
                verify_consistency(previous, call.tree_size, call.proof, previous_root, call.root)
            except ProofError:
                return False
        block.anchored.append((seq + 1, call.tree_size, call.root, tx_hash))
        return True

    def _receipt(self, tx_hash: str) -> MinedTx | None:
        for block in self.blocks:
            if tx_hash in block.receipts:
                return block.receipts[tx_hash]
        return None


def _hash(raw: bytes) -> str:
    return "0x" + hashlib.sha256(raw).hexdigest()
