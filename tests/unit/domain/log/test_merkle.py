"""merkle.py against a naive reference written straight from RFC 9162 §2.1.1-2.1.4.

The module under test computes everything from a store of perfect subtree nodes; the reference
below recomputes every hash from the leaves with the RFC's recursive definitions, sharing no code
with it (not even leaf_hash/node_hash). One store of LEAF_COUNT leaves serves every size, so roots
and proofs at sizes smaller than the number of appended leaves are exercised throughout.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.adapters import log_store
from backend.domain.errors import ProofError
from backend.domain.log import merkle

LEAF_COUNT = 1000
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)

# --------------------------------------------------------------------------------------------------
# Reference implementation, RFC 9162 §2.1.1 (MTH), §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF).


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + d[0])
    k = _k(n)
    return _sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


# --------------------------------------------------------------------------------------------------
# One node store, built leaf by leaf the way the database adapter does.

LEAVES = [f"carbon-ledger test leaf {i}".encode() for i in range(LEAF_COUNT)]


def _build_store(leaves: Sequence[bytes]) -> dict[merkle.NodeKey, bytes]:
    store: dict[merkle.NodeKey, bytes] = {}
    for index, data in enumerate(leaves):
        for key, value in merkle.nodes_created_by_append(index, merkle.leaf_hash(data), store.__getitem__):
            assert key not in store, "a perfect node is written once and never rewritten"
            store[key] = value
    return store


STORE = _build_store(LEAVES)


def _fetch(keys: Sequence[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    """Only the nodes the *_keys function asked for, as one batched query would return them."""
    return {key: STORE[key] for key in keys}


def _root(size: int) -> bytes:
    return merkle.root_from_nodes(size, _fetch(merkle.root_keys(size)))


def _flip(value: bytes, bit: int) -> bytes:
    data = bytearray(value)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


sizes = st.integers(min_value=1, max_value=LEAF_COUNT)


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@st.composite
def old_and_new_size(draw: st.DrawFn) -> tuple[int, int]:
    new_size = draw(sizes)
    return draw(st.integers(min_value=1, max_value=new_size)), new_size


# --------------------------------------------------------------------------------------------------
# Hashing and the node store.


def test_hashes_follow_rfc9162() -> None:
    assert _sha256(b"") == merkle.EMPTY_ROOT
    assert merkle.leaf_hash(b"abc") == _sha256(b"\x00abc")
    assert merkle.node_hash(b"L" * 32, b"R" * 32) == _sha256(b"\x01" + b"L" * 32 + b"R" * 32)
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_store_holds_exactly_the_complete_perfect_nodes() -> None:
    expected = {
        (level, index) for level in range(LEAF_COUNT.bit_length()) for index in range(LEAF_COUNT >> level)
    }
    assert set(STORE) == expected
    for (level, index), value in STORE.items():
        assert value == ref_mth(LEAVES[index << level : (index + 1) << level])


def test_append_reads_only_left_siblings() -> None:
    store: dict[merkle.NodeKey, bytes] = {}
    reads: list[merkle.NodeKey] = []

    def get_node(key: merkle.NodeKey) -> bytes:
        reads.append(key)
        return store[key]

    for index in range(300):
        reads.clear()
        created = merkle.nodes_created_by_append(index, merkle.leaf_hash(LEAVES[index]), get_node)
        trailing_ones = (~index & (index + 1)).bit_length() - 1
        assert reads == [(level, (index >> level) - 1) for level in range(trailing_ones)]
        assert [key for key, _ in created] == [(level, index >> level) for level in range(trailing_ones + 1)]
        store.update(created)


def test_append_rejects_bad_input() -> None:
    empty: dict[merkle.NodeKey, bytes] = {}
    with pytest.raises(ProofError, match="32-byte"):
        merkle.nodes_created_by_append(0, b"short", empty.__getitem__)
    with pytest.raises(ProofError, match="out of range"):
        merkle.nodes_created_by_append(-1, merkle.leaf_hash(b""), empty.__getitem__)
    with pytest.raises(ProofError, match="out of range"):
        merkle.nodes_created_by_append(merkle.MAX_TREE_SIZE, merkle.leaf_hash(b""), empty.__getitem__)
    with pytest.raises(ProofError, match="stored node"):
        merkle.nodes_created_by_append(1, merkle.leaf_hash(b""), lambda key: b"\x00" * 31)


@given(st.integers(0, merkle.MAX_TREE_SIZE), st.integers(0, 1 << 70))
@PROPERTY_SETTINGS
def test_perfect_cover_is_a_maximal_aligned_partition(begin: int, length: int) -> None:
    end = min(begin + length, merkle.MAX_TREE_SIZE)
    cover = merkle.perfect_cover(begin, end)
    position = begin
    for level, index in cover:
        assert index << level == position, "contiguous, left to right, aligned"
        position += 1 << level
        parent_begin = (index >> 1) << (level + 1)
        assert not (begin <= parent_begin and parent_begin + (2 << level) <= end), "maximal"
    assert position == end
    assert len(cover) <= 2 * max(1, (end - begin).bit_length())


def test_perfect_cover_edge_cases() -> None:
    assert merkle.perfect_cover(0, 0) == []
    assert merkle.perfect_cover(7, 7) == []
    assert merkle.perfect_cover(0, 8) == [(3, 0)]
    assert merkle.perfect_cover(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert merkle.perfect_cover(3, 13) == [(0, 3), (2, 1), (2, 2), (0, 12)]
    with pytest.raises(ProofError, match="after"):
        merkle.perfect_cover(5, 4)
    with pytest.raises(ProofError, match="outside"):
        merkle.perfect_cover(-1, 4)


# --------------------------------------------------------------------------------------------------
# Node store against the reference, at arbitrary sizes up to LEAF_COUNT.


@given(st.integers(min_value=0, max_value=LEAF_COUNT))
@PROPERTY_SETTINGS
def test_root_matches_reference(size: int) -> None:
    assert _root(size) == ref_mth(LEAVES[:size])
    assert merkle.root_from_nodes(size, STORE) == ref_mth(LEAVES[:size])


def test_empty_tree_root() -> None:
    assert merkle.root_keys(0) == []
    assert merkle.root_from_nodes(0, {}) == merkle.EMPTY_ROOT


@given(index_and_size())
@PROPERTY_SETTINGS
def test_inclusion_proof_matches_reference(case: tuple[int, int]) -> None:
    index, size = case
    proof = merkle.inclusion_proof(index, size, _fetch(merkle.inclusion_proof_keys(index, size)))
    assert proof == ref_path(index, LEAVES[:size])
    root = ref_mth(LEAVES[:size])
    leaf = merkle.leaf_hash(LEAVES[index])
    assert merkle.root_from_inclusion(leaf, index, size, proof) == root
    merkle.verify_inclusion(leaf, index, size, proof, root)


@given(old_and_new_size())
@PROPERTY_SETTINGS
def test_consistency_proof_matches_reference(case: tuple[int, int]) -> None:
    old_size, new_size = case
    keys = merkle.consistency_proof_keys(old_size, new_size)
    proof = merkle.consistency_proof(old_size, new_size, _fetch(keys))
    assert proof == ref_proof(old_size, LEAVES[:new_size])
    old_root, new_root = ref_mth(LEAVES[:old_size]), ref_mth(LEAVES[:new_size])
    merkle.verify_consistency(old_size, new_size, proof, old_root, new_root)


@given(sizes)
@PROPERTY_SETTINGS
def test_consistency_from_empty_tree_is_empty_and_not_provable(new_size: int) -> None:
    assert merkle.consistency_proof_keys(0, new_size) == []
    assert merkle.consistency_proof(0, new_size, {}) == []
    with pytest.raises(ProofError, match="empty tree"):
        merkle.verify_consistency(0, new_size, [], merkle.EMPTY_ROOT, _root(new_size))


def test_consistency_between_equal_sizes() -> None:
    root = _root(10)
    assert merkle.consistency_proof_keys(10, 10) == []
    assert merkle.consistency_proof(10, 10, {}) == []
    merkle.verify_consistency(10, 10, [], root, root)
    with pytest.raises(ProofError, match="roots differ"):
        merkle.verify_consistency(10, 10, [], root, _root(11))
    with pytest.raises(ProofError, match="equal"):
        merkle.verify_consistency(10, 10, [root], root, root)
    with pytest.raises(ProofError, match="empty tree"):
        merkle.verify_consistency(0, 0, [], merkle.EMPTY_ROOT, merkle.EMPTY_ROOT)


@given(st.integers(min_value=0, max_value=LEAF_COUNT))
@PROPERTY_SETTINGS
def test_compact_range_root_matches_reference(size: int) -> None:
    compact = merkle.CompactRange()
    for data in LEAVES[:size]:
        compact.append(merkle.leaf_hash(data))
    assert compact.size == size
    assert compact.root() == ref_mth(LEAVES[:size])


def test_compact_range_matches_node_store_at_every_size() -> None:
    compact = merkle.CompactRange()
    assert compact.root() == merkle.EMPTY_ROOT
    for size, data in enumerate(LEAVES, start=1):
        compact.append(merkle.leaf_hash(data))
        assert compact.root() == merkle.root_from_nodes(size, STORE)
    with pytest.raises(ProofError, match="32-byte"):
        compact.append(b"")


# --------------------------------------------------------------------------------------------------
# Tampering: every altered proof, index, size or root is rejected.


def _other_hash(data: st.DataObject, avoid: bytes) -> bytes:
    return data.draw(st.binary(min_size=32, max_size=32).filter(lambda value: value != avoid))


@given(index_and_size(), st.data())
@PROPERTY_SETTINGS
def test_tampered_inclusion_is_rejected(case: tuple[int, int], data: st.DataObject) -> None:
    index, size = case
    proof = merkle.inclusion_proof(index, size, STORE)
    leaf, root = merkle.leaf_hash(LEAVES[index]), _root(size)

    def rejected(leaf_: bytes, index_: int, size_: int, proof_: Sequence[bytes], root_: bytes) -> None:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf_, index_, size_, proof_, root_)

    for position in range(len(proof)):
        bit = data.draw(st.integers(0, 255), label=f"bit flipped in element {position}")
        rejected(
            leaf, index, size, [*proof[:position], _flip(proof[position], bit), *proof[position + 1 :]], root
        )
    if proof:
        rejected(leaf, index, size, proof[:-1], root)
        rejected(leaf, index, size, proof[1:], root)
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra element")
    rejected(leaf, index, size, [*proof, extra], root)
    rejected(leaf, index, size, [extra, *proof], root)
    rejected(leaf, index, size, [*proof[:-1], proof[-1] + b"\x00"] if proof else [b""], root)

    rejected(_flip(leaf, data.draw(st.integers(0, 255), label="leaf bit")), index, size, proof, root)
    rejected(leaf, index, size, proof, _flip(root, data.draw(st.integers(0, 255), label="root bit")))
    rejected(leaf, index, size, proof, root[:31])

    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="wrong index")
        rejected(leaf, other, size, proof, root)
        rejected(merkle.leaf_hash(LEAVES[other]), other, size, proof, root)
    rejected(leaf, size + index, size, proof, root)
    rejected(leaf, -1, size, proof, root)

    # As for consistency, a wrong size is paired with that size's true root (see the note there).
    candidates = [
        s for s in (index + 1, size - 1, size + 1, 2 * size) if index < s <= LEAF_COUNT and s != size
    ]
    # At the largest index of the largest tree every nearby size is out of range: draw from all sizes.
    wrong_sizes = st.sampled_from(candidates) | sizes if candidates else sizes
    wrong_size = data.draw(wrong_sizes, label="wrong size")
    if index < wrong_size != size:
        rejected(leaf, index, wrong_size, proof, _root(wrong_size))
        rejected(leaf, index, size, proof, _root(wrong_size))


@given(old_and_new_size(), st.data())
@PROPERTY_SETTINGS
def test_tampered_consistency_is_rejected(case: tuple[int, int], data: st.DataObject) -> None:
    old_size, new_size = case
    proof = merkle.consistency_proof(old_size, new_size, STORE)
    old_root, new_root = _root(old_size), _root(new_size)

    def rejected(old: int, new: int, proof_: Sequence[bytes], old_root_: bytes, new_root_: bytes) -> None:
        with pytest.raises(ProofError):
            merkle.verify_consistency(old, new, proof_, old_root_, new_root_)

    for position in range(len(proof)):
        bit = data.draw(st.integers(0, 255), label=f"bit flipped in element {position}")
        tampered = [*proof[:position], _flip(proof[position], bit), *proof[position + 1 :]]
        rejected(old_size, new_size, tampered, old_root, new_root)
    if proof:
        rejected(old_size, new_size, proof[:-1], old_root, new_root)
        rejected(old_size, new_size, proof[1:], old_root, new_root)
        rejected(old_size, new_size, [*proof[:-1], proof[-1][:31]], old_root, new_root)
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra element")
    rejected(old_size, new_size, [*proof, extra], old_root, new_root)
    rejected(old_size, new_size, [extra, *proof], old_root, new_root)

    rejected(old_size, new_size, proof, _other_hash(data, old_root), new_root)
    rejected(old_size, new_size, proof, old_root, _other_hash(data, new_root))
    if old_size != new_size:
        rejected(old_size, new_size, proof, new_root, old_root)
        rejected(old_size, new_size, proof, old_root[:31], new_root)
        rejected(old_size, new_size, proof, old_root, new_root + b"\x00")

    # A size is bound only through its root (a signed tree head carries both), so a wrong size is
    # tested with the true root of that size: with the original root, a size whose proof has the
    # same shape verifies (a proof from 4 to 513 also "proves" 4 to 514 with root(513)).
    if new_size > 1:
        wrong_old = data.draw(st.integers(1, new_size).filter(lambda s: s != old_size), label="wrong old")
        rejected(wrong_old, new_size, proof, _root(wrong_old), new_root)
    wrong_new = data.draw(sizes, label="wrong new size")
    if old_size <= wrong_new != new_size:
        rejected(old_size, wrong_new, proof, old_root, _root(wrong_new))
    rejected(new_size + 1, new_size, proof, old_root, new_root)


# --------------------------------------------------------------------------------------------------
# Arguments that cannot describe a real tree.


def test_impossible_arguments_raise_proof_error() -> None:
    assert issubclass(ProofError, ValueError)
    leaf = merkle.leaf_hash(b"x")
    with pytest.raises(ProofError, match="out of range"):
        merkle.inclusion_proof_keys(5, 5)
    with pytest.raises(ProofError, match="out of range"):
        merkle.inclusion_proof(0, 0, STORE)
    with pytest.raises(ProofError, match="outside"):
        merkle.root_keys(-1)
    with pytest.raises(ProofError, match="outside"):
        merkle.root_keys(merkle.MAX_TREE_SIZE + 1)
    with pytest.raises(ProofError, match="larger than"):
        merkle.consistency_proof_keys(5, 4)
    with pytest.raises(ProofError, match="larger than"):
        merkle.consistency_proof(5, 4, STORE)
    with pytest.raises(ProofError, match="out of range"):
        merkle.verify_inclusion(leaf, 0, 0, [], merkle.EMPTY_ROOT)
    with pytest.raises(ProofError, match="larger than"):
        merkle.verify_consistency(2, 1, [], merkle.EMPTY_ROOT, merkle.EMPTY_ROOT)


def test_proof_errors_name_the_problem() -> None:
    proof = merkle.inclusion_proof(3, 10, STORE)
    leaf, root = merkle.leaf_hash(LEAVES[3]), _root(10)
    with pytest.raises(ProofError, match=r"has 3 elements, expected 4"):
        merkle.verify_inclusion(leaf, 3, 10, proof[:3], root)
    with pytest.raises(ProofError, match=r"proof element 1 is 31 bytes"):
        merkle.verify_inclusion(leaf, 3, 10, [proof[0], proof[1][:31], *proof[2:]], root)
    with pytest.raises(ProofError, match=r"leaf hash is 0 bytes"):
        merkle.verify_inclusion(b"", 3, 10, proof, root)
    with pytest.raises(ProofError, match=r"^root is 31 bytes"):
        merkle.verify_inclusion(leaf, 3, 10, proof, root[:31])
    with pytest.raises(ProofError, match=r"does not lead to the root"):
        merkle.verify_inclusion(leaf, 3, 10, proof, _root(9))

    consistency = merkle.consistency_proof(3, 10, STORE)
    with pytest.raises(ProofError, match=r"has 4 elements, expected 5"):
        merkle.verify_consistency(3, 10, consistency[:4], _root(3), root)
    with pytest.raises(ProofError, match=r"root of old tree size 3"):
        merkle.verify_consistency(3, 10, consistency, _root(4), root)
    with pytest.raises(ProofError, match=r"root of new tree size 10"):
        merkle.verify_consistency(3, 10, consistency, _root(3), _root(9))


def test_missing_stored_node_is_a_proof_error() -> None:
    keys = merkle.inclusion_proof_keys(3, 10)
    partial = _fetch(keys[1:])
    with pytest.raises(ProofError, match="missing"):
        merkle.inclusion_proof(3, 10, partial)
    with pytest.raises(ProofError, match="missing"):
        merkle.root_from_nodes(10, {})


# --------------------------------------------------------------------------------------------------
# The number of stored nodes a request needs stays logarithmic, even for huge trees.


def _bound(size: int) -> int:
    return 2 * math.ceil(math.log2(size)) + 2


def _inside_tree(keys: Sequence[merkle.NodeKey], size: int) -> bool:
    return all((index + 1) << level <= size for level, index in keys)


huge_sizes = st.one_of(
    st.integers(min_value=1, max_value=1 << 40),
    st.integers(min_value=1, max_value=40).map(lambda e: (1 << e) - 1),
    st.integers(min_value=0, max_value=40).map(lambda e: 1 << e),
    st.integers(min_value=0, max_value=39).map(lambda e: (1 << e) + 1),
)


@given(huge_sizes, st.data())
@settings(max_examples=300, deadline=None)
def test_node_count_is_logarithmic(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    old_size = data.draw(st.integers(min_value=0, max_value=size), label="old size")
    root = merkle.root_keys(size)
    inclusion = merkle.inclusion_proof_keys(index, size)
    consistency = merkle.consistency_proof_keys(old_size, size)
    assert len(root) == bin(size).count("1")
    assert len(inclusion) <= _bound(size)
    assert len(consistency) <= _bound(size)
    for keys in (root, inclusion, consistency):
        assert len(set(keys)) == len(keys), "deduplicated"
        assert _inside_tree(keys, size), "only nodes that exist once `size` leaves are appended"


def test_node_count_at_the_largest_tree() -> None:
    size = merkle.MAX_TREE_SIZE
    assert len(merkle.inclusion_proof_keys(0, size)) <= _bound(size)
    assert len(merkle.inclusion_proof_keys(size - 1, size)) <= _bound(size)
    assert len(merkle.consistency_proof_keys(size // 3, size)) <= _bound(size)


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=300), st.integers(min_value=0, max_value=70))
def test_batch_append_creates_the_nodes_one_by_one_appends_create(start: int, count: int) -> None:
    hashes = [merkle.leaf_hash(b"leaf %d" % i) for i in range(start + count)]
    before: dict[merkle.NodeKey, bytes] = {}
    for index in range(start):
        before.update(merkle.nodes_created_by_append(index, hashes[index], before.__getitem__))
    one_by_one = dict(before)
    expected = []
    for index in range(start, start + count):
        created = merkle.nodes_created_by_append(index, hashes[index], one_by_one.__getitem__)
        one_by_one.update(created)
        expected += [(level, idx, digest) for (level, idx), digest in created if level > 0]
    read: list[merkle.NodeKey] = []

    def get_node(key: merkle.NodeKey) -> bytes:
        read.append(key)
        return before[key]

    assert list(merkle.nodes_created_by_appends(start, hashes[start:], get_node)) == expected
    assert set(read) <= set(log_store.left_siblings_for_batch(start, count))
    assert len(read) == len(set(read)) == len(log_store.left_siblings_for_batch(start, count))


def test_batch_append_refuses_a_bad_stored_node() -> None:
    with pytest.raises(ProofError):
        list(merkle.nodes_created_by_appends(1, [merkle.leaf_hash(b"")], lambda key: b"\x00" * 31))
    with pytest.raises(ProofError):
        list(merkle.nodes_created_by_appends(-1, [merkle.leaf_hash(b"")], lambda key: b"\x00" * 32))
