"""Checking a published C2SP checkpoint as an outside party: the log's signature, each trusted
witness's cosignature, and the root against the one the ledger contract holds for that size."""

from __future__ import annotations

from dataclasses import dataclass

from backend.adapters.chain import LedgerChain
from backend.domain.errors import ProofError
from backend.domain.log import notes


@dataclass(frozen=True)
class CheckpointVerdict:
    checkpoint: notes.Checkpoint
    log_keys: list[str]
    witnesses: list[str]
    chain_id: int
    contract: str

    def summary(self) -> str:
        cp = self.checkpoint
        cosigned = f", cosigned by {', '.join(self.witnesses)}" if self.witnesses else ""
        return (
            f"valid: checkpoint of {cp.origin} at tree size {cp.tree_size} (root 0x{cp.root.hex()}) is "
            f"signed by the log{cosigned}, and contract {self.contract} on chain {self.chain_id} "
            "holds the same root"
        )


def verify_checkpoint(
    data: bytes, log_vkeys: list[str], witness_vkeys: list[str], chain: LedgerChain, chain_id: int
) -> CheckpointVerdict:
    """Raises ProofError when the note is not what it claims; every witness given must cosign."""
    log_keys = [notes.parse_vkey(v) for v in log_vkeys]
    witness_keys = [notes.parse_vkey(v) for v in witness_vkeys]
    try:
        note = notes.parse_note(data)
        checkpoint = notes.parse_checkpoint_text(note.text)
        signed_by = notes.verified_signers(note, log_keys)
        cosigned_by = notes.verified_signers(note, witness_keys)
    except notes.NoteError as exc:
        raise ProofError(f"the checkpoint note: {exc.reason}") from exc
    if not signed_by:
        raise ProofError("the checkpoint carries no signature by the log's key")
    missing = sorted({w.name for w in witness_keys} - {w.name for w in cosigned_by})
    if missing:
        raise ProofError(f"no valid cosignature by {', '.join(missing)}")
    if chain.chain_id() != chain_id:
        raise ProofError(f"the RPC serves chain {chain.chain_id()}, not {chain_id}")
    on_chain = chain.root_at(checkpoint.tree_size)
    if on_chain == bytes(32):
        raise ProofError(f"the contract holds no root for tree size {checkpoint.tree_size}")
    if on_chain != checkpoint.root:
        raise ProofError(
            f"the contract's root for tree size {checkpoint.tree_size} is 0x{on_chain.hex()}, "
            f"the checkpoint's is 0x{checkpoint.root.hex()}"
        )
    return CheckpointVerdict(
        checkpoint, [v.vkey for v in signed_by], [w.name for w in cosigned_by], chain_id, chain.address
    )
