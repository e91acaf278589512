"""The anchoring job's chain check, reused while a cheap look finds nothing changed (ChainGuard)."""

from __future__ import annotations

from web3 import Web3

from backend.adapters.database import Database
from backend.services.anchoring.chain_identity import ChainGuard, ExpectedChain
from tests.fakes.chain import FakeLedgerChain


def _expected(chain: FakeLedgerChain) -> ExpectedChain:
    return ExpectedChain(
        chain_id=chain.chain_id(),
        genesis_hash=chain.genesis_hash(),
        contract=chain.address,
        code_hash=Web3.keccak(chain.code()).to_0x_hex(),
    )


class CountingChain(FakeLedgerChain):
    def __init__(self) -> None:
        super().__init__()
        self.identity_reads = 0
        self.latest = (0, 0, b"\\x00" * 32)

    def chain_id(self) -> int:
        self.identity_reads += 1
        return super().chain_id()

    def latest_checkpoint(self) -> tuple[int, int, bytes]:
        self._check()
        return self.latest


def test_a_passed_check_is_reused_until_the_chain_changes_or_it_ages(db: Database) -> None:
    chain = CountingChain()
    expected = _expected(chain)
    chain.identity_reads = 0
    guard = ChainGuard(full_check_s=3600)
    first = guard.refresh(db, chain, expected)
    assert first.ok and chain.identity_reads == 1
    assert guard.still_ok(db, chain) is first  # one read of the latest checkpoint, no full check
    assert chain.identity_reads == 1

    chain.latest = (1, 5, b"\\x01" * 32)  # something else anchored (or a node came back older)
    assert guard.still_ok(db, chain) is None
    guard.saw(chain.latest)  # ... unless the ledger anchored it itself
    assert guard.still_ok(db, chain) is first

    chain.reachable = False
    assert guard.still_ok(db, chain) is None  # a node that does not answer gets the full check

    chain.reachable = True
    aged = ChainGuard(full_check_s=0)
    aged.refresh(db, chain, expected)
    assert aged.still_ok(db, chain) is None  # too old: the full check runs again
