"""RFC 9162 (Certificate Transparency v2) Merkle tree, computed from stored perfect subtrees.

The transparency log is append-only, so the tree is persisted as *perfect aligned subtree nodes*:
node ``(level, index)`` is the hash of leaves ``[index * 2**level, (index + 1) * 2**level)`` and
level 0 holds the leaf hashes. Such a node never changes once its last leaf is appended, so the
store is write-once (no row is ever updated), and appending a leaf writes at most
``1 + log2(size)`` rows (:func:`nodes_created_by_append`).

RFC 9162 defines every hash a root or proof needs as ``MTH(D[a:b])`` of some leaf range. Each such
range decomposes into O(log n) perfect nodes (:func:`perfect_cover`), so a root or a proof at *any*
past tree size, not only the current one, needs O(log n) stored nodes. The ``*_keys`` functions
name them so a storage adapter can fetch them in one batch; the matching functions then combine
them. Nothing here does I/O: the module is pure and framework-free so that the server, the
offline auditor and the tests share one implementation.

Verification follows the RFC 9162 algorithms (§2.1.3.2 and §2.1.4.2) literally, after cheap
up-front checks (sizes, hash lengths, expected proof length) so that every failure raises
:class:`ProofError` with a precise reason and a hostile proof costs no more hashing than an honest
one.

Consistency from the empty tree (old size 0) is deliberately *not* provable: RFC 9162 defines
consistency proofs only for ``0 < m``, and the transparency-dev/merkle vectors the tests run reject
it too. The empty tree is trivially a prefix of every tree, so a caller holding a size-0 checkpoint
has nothing to verify and should skip the call.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence

from backend.domain.errors import ProofError

NodeKey = tuple[int, int]
"""``(level, index)`` of a perfect aligned subtree: leaves ``[index * 2**level, (index + 1) * 2**level)``."""

HASH_SIZE = 32
"""Bytes in a SHA-256 digest; every leaf hash, node hash, root and proof element has this length.
Checked on input so a truncated or padded hash is rejected with a clear reason instead of simply
failing to match."""

MAX_TREE_SIZE = (1 << 63) - 1
"""Largest tree size (and so largest leaf count) accepted. Sizes and indices are stored in signed
64-bit database columns and other CT implementations use uint64; bounding them also bounds every
proof at 63 levels, so no argument can make the loops here run long."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""MTH of the empty list (RFC 9162 §2.1.1): the hash of the empty string."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash. The 0x00 prefix keeps a leaf from being passed off as an interior node."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash, domain-separated from leaves by the 0x01 prefix."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


# --------------------------------------------------------------------------------------------------
# Argument checks. ProofError is a ValueError, so impossible arguments and bad proofs share one type.


def _check_size(name: str, value: int) -> None:
    if not 0 <= value <= MAX_TREE_SIZE:
        raise ProofError(f"{name} {value} is outside [0, {MAX_TREE_SIZE}]")


def _check_index(index: int, size: int) -> None:
    _check_size("tree size", size)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is out of range for tree size {size}")


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} is {len(value)} bytes, expected a {HASH_SIZE}-byte SHA-256 hash")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for position, element in enumerate(proof):
        _check_hash(f"proof element {position}", element)


# --------------------------------------------------------------------------------------------------
# Tree shape: which leaf ranges a root or proof is made of, and which stored nodes cover them.


def _split(count: int) -> int:
    """RFC 9162's k: the largest power of two strictly smaller than ``count`` (``count >= 2``)."""
    return 1 << ((count - 1).bit_length() - 1)


def perfect_cover(begin: int, end: int) -> list[NodeKey]:
    """Decompose leaf range ``[begin, end)`` into maximal aligned perfect subtrees, left to right.

    Greedy is optimal: from ``begin`` the largest node that is both aligned at ``begin`` and fits in
    the range is always part of the cover. Sizes first grow then shrink, so at most
    ``2 * (end - begin).bit_length()`` nodes result; when ``begin`` is a multiple of a power of two
    ``>= end - begin`` (every range RFC 9162 hashes) they only shrink: one per set bit of the length.
    """
    _check_size("range begin", begin)
    _check_size("range end", end)
    if begin > end:
        raise ProofError(f"range begin {begin} is after range end {end}")
    keys: list[NodeKey] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        keys.append((level, begin >> level))
        begin += 1 << level
    return keys


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTH form PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), in proof order.

    Walks from the root down to the leaf, recording the sibling range at each split; the proof
    lists them leaf-first, so the walk is reversed.
    """
    ranges: list[tuple[int, int]] = []
    begin, end = 0, size
    while end - begin > 1:
        middle = begin + _split(end - begin)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((begin, middle))
            begin = middle
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTH form PROOF(old_size, D[0:new_size]) (RFC 9162 §2.1.4.1), in proof order.

    Iterative SUBPROOF: ``[begin, end)`` is the current subtree and ``complete`` is SUBPROOF's
    boolean ``b`` (still true while the old tree is a left part of the subtree, so its root is
    known to the verifier and is not sent). Requires ``0 < old_size < new_size``.
    """
    ranges: list[tuple[int, int]] = []
    begin, end, complete = 0, new_size, True
    while old_size != end:
        middle = begin + _split(end - begin)
        if old_size <= middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((begin, middle))
            begin = middle
            complete = False
    if not complete:
        ranges.append((begin, end))
    ranges.reverse()
    return ranges


def _keys_of(ranges: Sequence[tuple[int, int]]) -> list[NodeKey]:
    """Stored nodes covering ``ranges``, without duplicates, in first-use order."""
    keys: dict[NodeKey, None] = {}
    for begin, end in ranges:
        keys.update(dict.fromkeys(perfect_cover(begin, end)))
    return list(keys)


def root_keys(size: int) -> list[NodeKey]:
    """Stored nodes needed for the root at ``size``: one per set bit of ``size``."""
    _check_size("tree size", size)
    return perfect_cover(0, size)


def inclusion_proof_keys(index: int, size: int) -> list[NodeKey]:
    """Stored nodes needed for the inclusion proof of leaf ``index`` in the tree of ``size``."""
    _check_index(index, size)
    return _keys_of(_inclusion_ranges(index, size))


def _check_consistency_sizes(old_size: int, new_size: int) -> None:
    _check_size("old tree size", old_size)
    _check_size("new tree size", new_size)
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}")


def consistency_proof_keys(old_size: int, new_size: int) -> list[NodeKey]:
    """Stored nodes needed for the consistency proof from ``old_size`` to ``new_size``.

    Empty when the proof is empty: equal sizes, or an empty old tree (see the module docstring).
    """
    _check_consistency_sizes(old_size, new_size)
    if old_size in (0, new_size):
        return []
    return _keys_of(_consistency_ranges(old_size, new_size))


# --------------------------------------------------------------------------------------------------
# Building roots and proofs from stored nodes.


def nodes_created_by_append(
    index: int, leaf_hash_: bytes, get_node: Callable[[NodeKey], bytes]
) -> list[tuple[NodeKey, bytes]]:
    """The perfect nodes that become complete when leaf ``index`` is appended, level 0 first.

    Appending leaf ``index`` completes the level-0 node and then, while the node's index is odd,
    its parent, whose left sibling is already stored; so only left siblings are read through
    ``get_node``, at most ``log2(index + 1)`` of them.
    """
    _check_index(index, MAX_TREE_SIZE)
    _check_hash("leaf hash", leaf_hash_)
    created: list[tuple[NodeKey, bytes]] = [((0, index), leaf_hash_)]
    level, position, digest = 0, index, leaf_hash_
    while position & 1:
        sibling = get_node((level, position - 1))
        _check_hash(f"stored node {(level, position - 1)}", sibling)
        digest = node_hash(sibling, digest)
        level, position = level + 1, position >> 1
        created.append(((level, position), digest))
    return created


def nodes_created_by_appends(
    start: int, leaf_hashes: Sequence[bytes], get_node: Callable[[NodeKey], bytes]
) -> Iterator[tuple[int, int, bytes]]:
    """The interior nodes ``(level, index, hash)`` completed by appending ``leaf_hashes`` at
    ``start``, ``start + 1``, …: :func:`nodes_created_by_append` for a whole batch, in the same
    order, without its per-leaf overhead. Each left sibling completed within the batch is kept
    (at most one pending per level); only those completed before it are read through ``get_node``.
    """
    _check_size("tree size", start)
    _check_size("tree size", start + len(leaf_hashes))
    sha256 = hashlib.sha256
    pending: dict[int, bytes] = {}
    for offset, digest in enumerate(leaf_hashes):
        _check_hash("leaf hash", digest)
        level, position = 0, start + offset
        while position & 1:
            sibling = pending.pop(level, None)
            if sibling is None:
                sibling = get_node((level, position - 1))
                _check_hash(f"stored node {(level, position - 1)}", sibling)
            digest = sha256(_NODE_PREFIX + sibling + digest).digest()
            level, position = level + 1, position >> 1
            yield level, position, digest
        pending[level] = digest


def _stored(nodes: Mapping[NodeKey, bytes], key: NodeKey) -> bytes:
    try:
        value = nodes[key]
    except KeyError:
        raise ProofError(f"stored node {key} is missing; was the tree appended that far?") from None
    _check_hash(f"stored node {key}", value)
    return value


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """Combine strictly shrinking perfect subtrees as RFC 9162 does: the rightmost pair first."""
    digest = hashes[-1]
    for left in reversed(hashes[:-1]):
        digest = node_hash(left, digest)
    return digest


def _range_hash(begin: int, end: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """MTH(D[begin:end]) from stored nodes, for a non-empty range that is a subtree in RFC 9162's shape.

    Every range produced by :func:`_inclusion_ranges` and :func:`_consistency_ranges` qualifies:
    its cover shrinks strictly and RFC 9162 splits such a range exactly at its first cover node.
    """
    return _fold_right([_stored(nodes, key) for key in perfect_cover(begin, end)])


def root_from_nodes(size: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """MTH(D[0:size]) from the nodes named by :func:`root_keys`."""
    _check_size("tree size", size)
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(0, size, nodes)


def inclusion_proof(index: int, size: int, nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    """PATH(index, D[0:size]) from the nodes named by :func:`inclusion_proof_keys`."""
    _check_index(index, size)
    return [_range_hash(begin, end, nodes) for begin, end in _inclusion_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) from the nodes named by :func:`consistency_proof_keys`.

    Empty for equal sizes and for ``old_size == 0`` (which :func:`verify_consistency` rejects).
    """
    _check_consistency_sizes(old_size, new_size)
    if old_size in (0, new_size):
        return []
    return [_range_hash(begin, end, nodes) for begin, end in _consistency_ranges(old_size, new_size)]


# --------------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2 and §2.1.4.2).


def _same(computed: bytes, expected: bytes) -> bool:
    """Constant-time comparison: verification answers must not leak how many root bytes matched."""
    return hmac.compare_digest(computed, expected)


def root_from_inclusion(leaf_hash_: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for leaf ``index`` of a tree of ``size`` (RFC 9162 §2.1.3.2).

    Useful on its own when the root is compared elsewhere (for example against an on-chain anchor).
    Raises :class:`ProofError` for an index outside the tree, a proof of the wrong length, or any
    hash that is not 32 bytes.
    """
    _check_index(index, size)
    _check_hash("leaf hash", leaf_hash_)
    expected = len(_inclusion_ranges(index, size))
    if len(proof) != expected:
        raise ProofError(
            f"inclusion proof for leaf {index} in tree size {size} has {len(proof)} elements, "
            f"expected {expected}"
        )
    _check_proof_hashes(proof)
    fn, sn = index, size - 1
    digest = leaf_hash_
    for element in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            digest = node_hash(element, digest)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            digest = node_hash(digest, element)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    return digest


def verify_inclusion(leaf_hash_: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that leaf ``index`` with hash ``leaf_hash_`` is in the tree of ``size`` with ``root``.

    Returns None on success and raises :class:`ProofError` naming the first problem otherwise.
    """
    computed = root_from_inclusion(leaf_hash_, index, size, proof)
    _check_hash("root", root)
    if not _same(computed, root):
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root of tree size {size}")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree of ``old_size`` with ``old_root`` is a prefix of the one with ``new_root``.

    RFC 9162 §2.1.4.2, plus the edge cases it leaves to the caller, decided as the
    transparency-dev/merkle vectors do: ``old_size == 0`` always fails (there is nothing to prove,
    see the module docstring); equal sizes need an empty proof and identical roots, compared as
    bytes without hashing anything. Returns None on success, raises :class:`ProofError` otherwise.
    """
    _check_consistency_sizes(old_size, new_size)
    if old_size == 0:
        raise ProofError(
            "consistency from the empty tree (old size 0) is not provable under RFC 9162; "
            "every tree extends the empty tree"
        )
    if old_size == new_size:
        if proof:
            raise ProofError(f"tree sizes are equal but the consistency proof has {len(proof)} elements")
        if not _same(old_root, new_root):
            raise ProofError(f"tree sizes are equal ({old_size}) but the roots differ")
        return
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    expected = len(_consistency_ranges(old_size, new_size))
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof from tree size {old_size} to {new_size} has {len(proof)} elements, "
            f"expected {expected}"
        )
    _check_proof_hashes(proof)

    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old_digest = new_digest = path[0]
    for element in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            old_digest = node_hash(element, old_digest)
            new_digest = node_hash(element, new_digest)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            new_digest = node_hash(new_digest, element)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the root")
    if not _same(old_digest, old_root):
        raise ProofError(f"consistency proof does not reproduce the root of old tree size {old_size}")
    if not _same(new_digest, new_root):
        raise ProofError(f"consistency proof does not reproduce the root of new tree size {new_size}")


# --------------------------------------------------------------------------------------------------
# Streaming root for auditors.


class CompactRange:
    """Root of a growing tree in O(log n) memory, for an auditor replaying the whole log.

    Keeps only the roots of the perfect subtrees of ``perfect_cover(0, size)`` (one per set bit of
    ``size``, largest first), merging them on append exactly as :func:`nodes_created_by_append`
    does, so an auditor recomputes the published roots without holding every leaf or node.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    def append(self, leaf_hash_: bytes) -> None:
        _check_hash("leaf hash", leaf_hash_)
        if self._size >= MAX_TREE_SIZE:
            raise ProofError(f"tree already holds the maximum of {MAX_TREE_SIZE} leaves")
        digest, position = leaf_hash_, self._size
        while position & 1:
            digest = node_hash(self._hashes.pop(), digest)
            position >>= 1
        self._hashes.append(digest)
        self._size += 1

    @property
    def size(self) -> int:
        return self._size

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        return _fold_right(self._hashes)
