"""What an auditor runs without trusting the ledger's server: receipt and whole-log verification.

Receipts are checked against the chain only (``rootAt`` of the anchored tree size); the log replay
downloads every leaf through the audit API, recomputes every anchored root with O(log n) memory
and checks each consistency proof between consecutive checkpoints.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from backend.adapters.chain import LedgerChain
from backend.domain import merkle
from backend.domain.errors import ProofError

HEX32 = re.compile(r"^0x[0-9a-f]{64}$")
HEX = re.compile(r"^0x(?:[0-9a-f]{2})*$")
RECEIPT_FIELDS = (
    "version",
    "algorithm",
    "leaf",
    "leaf_hash",
    "leaf_index",
    "tree_size",
    "audit_path",
    "root",
    "anchor",
)


@dataclass(frozen=True)
class ReceiptVerdict:
    leaf_index: int
    tree_size: int
    root: str
    chain_id: int
    contract: str
    checkpoint_seq: int | None
    record_kind: str | None
    record_id: str | None

    def summary(self) -> str:
        what = f"{self.record_kind} {self.record_id}" if self.record_kind else f"leaf {self.leaf_index}"
        return (
            f"valid: {what} is leaf {self.leaf_index} of a tree of {self.tree_size}; "
            f"root {self.root} is anchored "
            f"on chain {self.chain_id} by contract {self.contract} (checkpoint {self.checkpoint_seq})"
        )


def _bytes32(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not HEX32.fullmatch(value):
        raise ProofError(f"{name} must be a 0x-prefixed lowercase 32-byte hex string")
    return bytes.fromhex(value[2:])


def parse_receipt(receipt: Any) -> dict[str, Any]:
    if not isinstance(receipt, dict):
        raise ProofError("a receipt is a JSON object")
    missing = [f for f in RECEIPT_FIELDS if f not in receipt]
    if missing:
        raise ProofError(f"receipt lacks {', '.join(missing)}")
    if receipt["version"] != 1 or receipt["algorithm"] != "rfc9162-sha256":
        raise ProofError("unsupported receipt version or algorithm")
    for name in ("leaf_index", "tree_size"):
        if not isinstance(receipt[name], int) or isinstance(receipt[name], bool) or receipt[name] < 0:
            raise ProofError(f"{name} must be a non-negative integer")
    if not isinstance(receipt["leaf"], str) or not HEX.fullmatch(receipt["leaf"]):
        raise ProofError("leaf must be 0x-prefixed lowercase hex")
    if not isinstance(receipt["audit_path"], list):
        raise ProofError("audit_path must be a list")
    anchor = receipt["anchor"]
    if (
        not isinstance(anchor, dict)
        or not isinstance(anchor.get("chain_id"), int)
        or not anchor.get("contract")
    ):
        raise ProofError("anchor must name chain_id and contract")
    return receipt


def verify_receipt(receipt: Any, chain_for: Callable[[str], LedgerChain]) -> ReceiptVerdict:
    """Checks the leaf hash, the audit path and the anchored root; raises ProofError on any fault."""
    receipt = parse_receipt(receipt)
    leaf = bytes.fromhex(receipt["leaf"][2:])
    leaf_hash = _bytes32(receipt["leaf_hash"], "leaf_hash")
    if merkle.leaf_hash(leaf) != leaf_hash:
        raise ProofError("leaf_hash is not SHA-256(0x00 || leaf)")
    root = _bytes32(receipt["root"], "root")
    path = [_bytes32(p, f"audit_path[{i}]") for i, p in enumerate(receipt["audit_path"])]
    merkle.verify_inclusion(leaf_hash, receipt["leaf_index"], receipt["tree_size"], path, root)
    anchor = receipt["anchor"]
    chain = chain_for(str(anchor["contract"]))
    chain_id = chain.chain_id()
    if chain_id != anchor["chain_id"]:
        raise ProofError(
            f"the RPC serves chain {chain_id}, the receipt was anchored on chain {anchor['chain_id']}"
        )
    on_chain = chain.root_at(receipt["tree_size"])
    if on_chain == bytes(32):
        raise ProofError(f"the contract holds no root for tree size {receipt['tree_size']}")
    if on_chain != root:
        raise ProofError(
            f"the contract's root for tree size {receipt['tree_size']} is 0x{on_chain.hex()}, "
            "not the receipt's"
        )
    kind = record_id = None
    try:
        record = json.loads(leaf)
        kind, record_id = record.get("kind"), record.get("id")
    except (ValueError, AttributeError):
        pass
    return ReceiptVerdict(
        leaf_index=receipt["leaf_index"],
        tree_size=receipt["tree_size"],
        root=receipt["root"],
        chain_id=chain_id,
        contract=str(anchor["contract"]),
        checkpoint_seq=anchor.get("checkpoint_seq"),
        record_kind=kind,
        record_id=record_id,
    )


@dataclass
class LogReport:
    leaves: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_log(
    checkpoints: list[dict[str, Any]],
    leaves: Iterator[tuple[int, bytes, bytes]],
    consistency: Callable[[int, int], dict[str, Any]],
    root_on_chain: Callable[[int], bytes],
    progress: Callable[[int], None] | None = None,
) -> LogReport:
    """Replays the log leaf by leaf and checks every checkpoint against the chain."""
    report = LogReport()
    wanted = sorted(checkpoints, key=lambda c: int(c["tree_size"]))
    compact = merkle.CompactRange()
    position = 0
    for index, leaf, claimed_hash in leaves:
        if index != compact.size:
            report.problems.append(f"leaf {index}: expected leaf {compact.size} next (gap or reordering)")
            return report
        actual = merkle.leaf_hash(leaf)
        if actual != claimed_hash:
            report.problems.append(f"leaf {index}: its bytes do not hash to the leaf hash the server reports")
            _name_record(report, index, leaf)
        compact.append(actual)
        report.leaves += 1
        if progress is not None:
            progress(report.leaves)
        while position < len(wanted) and int(wanted[position]["tree_size"]) == compact.size:
            _check_checkpoint(report, wanted[position], compact.root(), root_on_chain)
            position += 1
    for missing in wanted[position:]:
        report.problems.append(
            f"checkpoint {missing['seq']}: tree size {missing['tree_size']} beyond the log's leaves"
        )
    roots = {int(c["tree_size"]): bytes.fromhex(c["root"][2:]) for c in wanted}
    for older, newer in itertools.pairwise(wanted):
        first, second = int(older["tree_size"]), int(newer["tree_size"])
        try:
            proof = [bytes.fromhex(p[2:]) for p in consistency(first, second)["proof"]]
            merkle.verify_consistency(first, second, proof, roots[first], roots[second])
        except ProofError as exc:
            report.problems.append(
                f"checkpoints {older['seq']}→{newer['seq']}: consistency proof fails: {exc.detail}"
            )
    return report


def _name_record(report: LogReport, index: int, leaf: bytes) -> None:
    try:
        record = json.loads(leaf)
        report.problems.append(f"leaf {index} is {record.get('kind')} record {record.get('id')}")
    except ValueError:
        report.problems.append(f"leaf {index} is not valid JSON")


def _check_checkpoint(
    report: LogReport, checkpoint: dict[str, Any], root: bytes, on_chain: Callable[[int], bytes]
) -> None:
    report.checkpoints += 1
    size, seq = int(checkpoint["tree_size"]), checkpoint["seq"]
    claimed = bytes.fromhex(checkpoint["root"][2:])
    anchored = on_chain(size)
    if anchored != claimed:
        report.problems.append(
            f"checkpoint {seq} (tree size {size}): the server's root differs from the chain's"
        )
    if root != anchored:
        report.problems.append(
            f"checkpoint {seq} (tree size {size}): the leaves served recompute to 0x{root.hex()}, "
            f"but the chain anchored 0x{anchored.hex()}: a record in leaves 0..{size - 1} was altered"
        )
