// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {CarbonLedger} from "../CarbonLedger.sol";
import {CheatTest} from "./Vm.sol";

/// @dev {CarbonLedger.verifyInclusion} against a naive recursive RFC 9162 reference (MTH and PATH
/// written straight from §2.1.1 and §2.1.3.1) over fuzzed trees of 1 to 64 leaves.
contract CarbonLedgerInclusionTest is CheatTest {
    CarbonLedger internal ledger;

    function setUp() public {
        ledger = new CarbonLedger(address(this));
    }

    function _leafHash(bytes32 seed, uint256 i) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), seed, i));
    }

    /// @dev The largest power of two smaller than n (n >= 2).
    function _split(uint256 n) internal pure returns (uint256 k) {
        k = 1;
        while (k << 1 < n) k <<= 1;
    }

    function _mth(bytes32 seed, uint256 begin, uint256 end) internal pure returns (bytes32) {
        if (end - begin == 1) return _leafHash(seed, begin);
        uint256 k = _split(end - begin);
        return sha256(abi.encodePacked(bytes1(0x01), _mth(seed, begin, begin + k), _mth(seed, begin + k, end)));
    }

    function _path(bytes32 seed, uint256 index, uint256 begin, uint256 end) internal pure returns (bytes32[] memory) {
        if (end - begin == 1) return new bytes32[](0);
        uint256 k = _split(end - begin);
        bytes32[] memory below;
        bytes32 sibling;
        if (index < begin + k) {
            below = _path(seed, index, begin, begin + k);
            sibling = _mth(seed, begin + k, end);
        } else {
            below = _path(seed, index, begin + k, end);
            sibling = _mth(seed, begin, begin + k);
        }
        bytes32[] memory path = new bytes32[](below.length + 1);
        for (uint256 i = 0; i < below.length; i++) {
            path[i] = below[i];
        }
        path[below.length] = sibling;
        return path;
    }

    function _tree(uint8 rawSize, uint8 rawIndex, bytes32 seed)
        internal
        returns (uint64 size, uint64 index, bytes32[] memory path)
    {
        size = uint64(rawSize % 64) + 1;
        index = uint64(rawIndex % size);
        ledger.anchor(1, size, _mth(seed, 0, size), bytes32(0), new bytes32[](0));
        path = _path(seed, index, 0, size);
    }

    function testFuzz_acceptsEveryHonestProof(uint8 rawSize, uint8 rawIndex, bytes32 seed) public {
        (uint64 size, uint64 index, bytes32[] memory path) = _tree(rawSize, rawIndex, seed);
        assertTrue(ledger.verifyInclusion(_leafHash(seed, index), index, size, path), "honest proof accepted");
    }

    function testFuzz_rejectsShortenedOrLengthenedProofs(uint8 rawSize, uint8 rawIndex, bytes32 seed, bytes32 extra)
        public
    {
        (uint64 size, uint64 index, bytes32[] memory path) = _tree(rawSize, rawIndex, seed);
        bytes32 leaf = _leafHash(seed, index);
        bytes32[] memory longer = new bytes32[](path.length + 1);
        for (uint256 i = 0; i < path.length; i++) {
            longer[i] = path[i];
        }
        longer[path.length] = extra;
        assertTrue(!ledger.verifyInclusion(leaf, index, size, longer), "extra element rejected");
        if (path.length > 0) {
            bytes32[] memory shorter = new bytes32[](path.length - 1);
            for (uint256 i = 0; i < shorter.length; i++) {
                shorter[i] = path[i];
            }
            assertTrue(!ledger.verifyInclusion(leaf, index, size, shorter), "missing element rejected");
        }
    }

    function testFuzz_rejectsAnotherLeafOrPosition(uint8 rawSize, uint8 rawIndex, uint8 rawOther, bytes32 seed)
        public
    {
        (uint64 size, uint64 index, bytes32[] memory path) = _tree(rawSize, rawIndex, seed);
        vm.assume(size > 1);
        uint64 other = uint64(rawOther % size);
        vm.assume(other != index);
        assertTrue(!ledger.verifyInclusion(_leafHash(seed, other), index, size, path), "other leaf rejected");
        assertTrue(!ledger.verifyInclusion(_leafHash(seed, index), other, size, path), "other position rejected");
        assertTrue(!ledger.verifyInclusion(_leafHash(seed, index), index + size, size, path), "index beyond size");
    }
}
