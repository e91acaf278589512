// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @dev A naive RFC 9162 Merkle tree, written straight from the RFC's recursive definitions (MTH in
/// §2.1.1, PROOF and SUBPROOF in §2.1.4.1) over leaves derived from a seed, for the tests to check
/// the contract's iterative verification against. Slow on purpose: no shortcut shared with it.
abstract contract MerkleReference {
    function _leafHash(bytes32 seed, uint256 i) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), seed, i));
    }

    /// @dev The largest power of two smaller than n (n >= 2).
    function _split(uint256 n) internal pure returns (uint256 k) {
        k = 1;
        while (k << 1 < n) k <<= 1;
    }

    /// @dev MTH(D[begin:end]).
    function _mth(bytes32 seed, uint256 begin, uint256 end) internal pure returns (bytes32) {
        if (end - begin == 1) return _leafHash(seed, begin);
        uint256 k = _split(end - begin);
        return sha256(abi.encodePacked(bytes1(0x01), _mth(seed, begin, begin + k), _mth(seed, begin + k, end)));
    }

    /// @dev PROOF(m, D[0:n]) for 0 < m < n.
    function _consistencyProof(bytes32 seed, uint256 m, uint256 n) internal pure returns (bytes32[] memory) {
        return _subproof(seed, m, 0, n, true);
    }

    /// @dev SUBPROOF(m, D[begin:end], b), m counted from `begin`.
    function _subproof(bytes32 seed, uint256 m, uint256 begin, uint256 end, bool whole)
        internal
        pure
        returns (bytes32[] memory)
    {
        uint256 n = end - begin;
        if (m == n) {
            if (whole) return new bytes32[](0);
            bytes32[] memory single = new bytes32[](1);
            single[0] = _mth(seed, begin, end);
            return single;
        }
        uint256 k = _split(n);
        if (m <= k) {
            return _append(_subproof(seed, m, begin, begin + k, whole), _mth(seed, begin + k, end));
        }
        return _append(_subproof(seed, m - k, begin + k, end, false), _mth(seed, begin, begin + k));
    }

    function _append(bytes32[] memory items, bytes32 last) internal pure returns (bytes32[] memory out) {
        out = new bytes32[](items.length + 1);
        for (uint256 i = 0; i < items.length; i++) {
            out[i] = items[i];
        }
        out[items.length] = last;
    }
}
