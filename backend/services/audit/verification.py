"""What an auditor runs without trusting the ledger's server: receipt and whole-log verification.

Receipts are checked against the chain only (``rootAt`` of the anchored tree size); the log replay
downloads every leaf through the audit API, recomputes every anchored root with O(log n) memory
and checks each consistency proof between consecutive checkpoints.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from backend.adapters.chain import LedgerChain
from backend.domain.errors import ProofError
from backend.domain.log import merkle
from backend.services.audit.record_audit import (
    FactorSetAudit,
    RecomputeAudit,
    RecordAudit,
    decode_leaf,
    describe,
)

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
    records_compared: int = 0
    factor_set_hashes_checked: int = 0
    recomputed: int = 0
    not_recomputed: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


ProofsAt = Callable[[int, int, int], list[list[bytes]]]
"""``proofs(tree_size, start, stop)``: the server's inclusion proofs of leaves ``start..stop-1``."""
MAX_NAMED = 50
"""Failing leaves named one by one in a report; beyond that the count says enough."""
LOCALIZE_PAGE = 1000
"""Leaves whose proofs are asked for at once when a checkpoint's range must be searched."""


LeavesBetween = Callable[[int, int], list[bytes]]
"""``leaves(start, stop)``: the server's leaf bytes ``start..stop-1`` (fetched again to localize)."""


def verify_log(
    checkpoints: list[dict[str, Any]],
    leaves: Iterator[tuple[int, bytes, bytes]],
    consistency: Callable[[int, int], dict[str, Any]],
    root_on_chain: Callable[[int], bytes],
    progress: Callable[[int], None] | None = None,
    *,
    proofs: ProofsAt | None = None,
    records: RecordAudit | None = None,
    leaves_between: LeavesBetween | None = None,
    factor_sets: FactorSetAudit | None = None,
    recompute: RecomputeAudit | None = None,
) -> LogReport:
    """Replays the log leaf by leaf and checks every checkpoint against the chain.

    With ``proofs``, a checkpoint whose leaves do not recompute to the anchored root is searched
    leaf by leaf (each leaf's bytes with the server's audit path against the *chain's* root) to
    name the altered records. With ``records``, each stored record is compared with its leaf and
    each checkpoint's anchored totals with the records logged before it. With ``factor_sets``,
    every factor-set hash in the leaves and the anchored metas is checked against the released
    pins and against every other mention of the same version. With ``recompute``, every activity
    is recomputed from its logged quantities with the set it names (where the auditor holds it).
    """
    report = LogReport()
    wanted = sorted(checkpoints, key=lambda c: int(c["tree_size"]))
    compact = merkle.CompactRange()
    position = 0
    pending_start = 0  # first leaf after the last checkpoint that matched
    for index, leaf, claimed_hash in leaves:
        if index != compact.size:
            report.problems.append(f"leaf {index}: expected leaf {compact.size} next (gap or reordering)")
            return report
        record = decode_leaf(leaf)
        actual = merkle.leaf_hash(leaf)
        if actual != claimed_hash:
            report.problems.append(
                f"{describe(index, record)}: its bytes do not hash to the leaf hash the server reports "
                "(the record was altered after it was logged)"
            )
        compact.append(actual)
        if records is not None:
            records.leaf(index, record, leaf)
        if factor_sets is not None:
            factor_sets.leaf(index, record)
        if recompute is not None:
            recompute.leaf(index, record)
        report.leaves += 1
        if progress is not None:
            progress(report.leaves)
        while position < len(wanted) and int(wanted[position]["tree_size"]) == compact.size:
            checkpoint = wanted[position]
            if not _check_checkpoint(report, checkpoint, compact.root(), root_on_chain) and proofs:
                _localize(report, checkpoint, pending_start, proofs, root_on_chain, leaves_between)
            if records is not None:
                records.check_totals(checkpoint["seq"], compact.size, checkpoint.get("meta"))
            if factor_sets is not None:
                factor_sets.checkpoint(checkpoint["seq"], compact.size, checkpoint.get("meta"))
            pending_start = compact.size
            position += 1
    for missing in wanted[position:]:
        report.problems.append(
            f"checkpoint {missing['seq']}: tree size {missing['tree_size']} beyond the log's leaves"
        )
    if records is not None:
        records.finish()
        report.records_compared = records.compared
        report.problems.extend(records.problems)
    if factor_sets is not None:
        factor_sets.finish()
        report.factor_set_hashes_checked = factor_sets.checked
        report.problems.extend(factor_sets.problems)
    if recompute is not None:
        report.recomputed, report.not_recomputed = recompute.recomputed, recompute.not_recomputed
        report.problems.extend(recompute.problems)
    _check_consistency(report, wanted, consistency)
    return report


def _check_consistency(
    report: LogReport, wanted: list[dict[str, Any]], consistency: Callable[[int, int], dict[str, Any]]
) -> None:
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


def _localize(
    report: LogReport,
    checkpoint: dict[str, Any],
    start: int,
    proofs: ProofsAt,
    root_on_chain: Callable[[int], bytes],
    leaves_between: LeavesBetween | None,
) -> None:
    """Names the leaves ``start..size-1`` whose bytes are not in the tree the chain anchored.

    The range is fetched again page by page rather than kept from the replay, so an auditor's
    memory stays O(log n) however many leaves a checkpoint covers; this runs only on a mismatch.
    """
    size = int(checkpoint["tree_size"])
    where = f"checkpoint {checkpoint['seq']} (tree size {size})"
    if leaves_between is None:
        report.problems.append(f"{where}: a leaf in {start}..{size - 1} was altered (not localized)")
        return
    anchored = root_on_chain(size)
    failing: list[tuple[int, bytes]] = []
    for first in range(start, size, LOCALIZE_PAGE):
        stop = min(first + LOCALIZE_PAGE, size)
        leaves = leaves_between(first, stop)
        for index, leaf, path in zip(range(first, stop), leaves, proofs(size, first, stop), strict=True):
            try:
                merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, path, anchored)
            except ProofError:
                failing.append((index, leaf))
    if not failing:
        report.problems.append(f"{where}: every leaf verifies on its own; the server's root is at fault")
        return
    if len(failing) == size - start > 1:
        report.problems.append(
            f"{where}: no leaf of {start}..{size - 1} verifies against the chain's root with the "
            "server's proofs: the server's stored tree was altered too"
        )
        return
    named = [describe(index, decode_leaf(leaf)) for index, leaf in failing[:MAX_NAMED]]
    if len(failing) == 1:
        report.problems.append(f"{where}: {named[0]} is not the record that was anchored")
    else:
        report.problems.append(
            f"{where}: {len(failing)} leaves do not verify against the chain's root with the server's "
            f"proofs (an altered leaf and the neighbours whose proofs pass through it): " + ", ".join(named)
        )


def _check_checkpoint(
    report: LogReport, checkpoint: dict[str, Any], root: bytes, on_chain: Callable[[int], bytes]
) -> bool:
    """Whether the replayed root is the one the chain holds; records a problem for each mismatch."""
    report.checkpoints += 1
    size, seq = int(checkpoint["tree_size"]), checkpoint["seq"]
    claimed = bytes.fromhex(checkpoint["root"][2:])
    anchored = on_chain(size)
    if anchored != claimed:
        report.problems.append(
            f"checkpoint {seq} (tree size {size}): the server's root differs from the chain's"
        )
    meta = checkpoint.get("meta")
    if meta is not None and "0x" + hashlib.sha256(str(meta).encode()).hexdigest() != checkpoint.get(
        "meta_hash"
    ):
        report.problems.append(
            f"checkpoint {seq} (tree size {size}): its meta does not hash to its meta_hash"
        )
    if root != anchored:
        report.problems.append(
            f"checkpoint {seq} (tree size {size}): the leaves served recompute to 0x{root.hex()}, "
            f"but the chain anchored 0x{anchored.hex()}: a record in leaves 0..{size - 1} was altered"
        )
        return False
    return True
