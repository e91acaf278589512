"""The auditor's replay keeps O(log n) state: its peak memory does not grow with the log."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

from backend.domain.log import merkle
from backend.services.audit.verification import verify_log


def _leaves(n: int) -> Iterator[tuple[int, bytes, bytes]]:
    for i in range(n):
        leaf = b'{"kind":"activity","i":%d,"pad":"%s"}' % (i, b"x" * 200)
        yield i, leaf, merkle.leaf_hash(leaf)


def _peak_bytes(n: int) -> int:
    compact = merkle.CompactRange()
    for _, _, digest in _leaves(n):
        compact.append(digest)
    root = compact.root()
    checkpoint = {"seq": 1, "tree_size": n, "root": "0x" + root.hex()}
    tracemalloc.start()
    report = verify_log([checkpoint], _leaves(n), lambda a, b: {}, lambda size: root, None,
                        proofs=lambda size, a, b: [])  # fmt: skip
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.ok and report.leaves == n
    return peak


def test_peak_memory_is_flat_from_2k_to_40k_leaves() -> None:
    small, large = _peak_bytes(2_000), _peak_bytes(40_000)
    assert large < small * 1.5 + 64 * 1024, (small, large)
