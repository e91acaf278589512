// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {CarbonLedger} from "../CarbonLedger.sol";
import {MerkleReference} from "./MerkleReference.sol";
import {CheatTest} from "./Vm.sol";

/// @dev {CarbonLedger.anchor}'s consistency check against the naive RFC 9162 reference, over fuzzed
/// trees of 1 to 96 leaves: every honest extension is accepted, every rewrite or bad proof refused.
contract CarbonLedgerConsistencyTest is CheatTest, MerkleReference {
    CarbonLedger internal ledger;
    uint256 internal constant MAX_LEAVES = 96;

    function setUp() public {
        ledger = new CarbonLedger(address(this));
    }

    function _sizes(uint256 a, uint256 b) internal pure returns (uint64 m, uint64 n) {
        m = uint64(1 + a % (MAX_LEAVES - 1));
        n = uint64(m + 1 + b % (MAX_LEAVES - m));
    }

    function _inconsistent(uint64 m, bytes32 previousRoot, uint64 n, bytes32 root, uint256 length)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(
            CarbonLedger.CarbonLedgerInconsistentCheckpoint.selector, m, previousRoot, n, root, length
        );
    }

    function testFuzz_honestExtensionAccepted(bytes32 seed, uint256 a, uint256 b) public {
        (uint64 m, uint64 n) = _sizes(a, b);
        ledger.anchor(1, m, _mth(seed, 0, m), bytes32(0), new bytes32[](0));
        ledger.anchor(2, n, _mth(seed, 0, n), bytes32(0), _consistencyProof(seed, m, n));
        assertEq(ledger.rootAt(n), _mth(seed, 0, n), "extension anchored");
        assertEq(ledger.checkpointCount(), 2, "two checkpoints");
    }

    function testFuzz_chainOfExtensions(bytes32 seed, uint256 a, uint256 b, uint256 c) public {
        uint64 s1 = uint64(1 + a % 30);
        uint64 s2 = uint64(s1 + 1 + b % 30);
        uint64 s3 = uint64(s2 + 1 + c % 30);
        ledger.anchor(1, s1, _mth(seed, 0, s1), bytes32(0), new bytes32[](0));
        ledger.anchor(2, s2, _mth(seed, 0, s2), bytes32(0), _consistencyProof(seed, s1, s2));
        ledger.anchor(3, s3, _mth(seed, 0, s3), bytes32(0), _consistencyProof(seed, s2, s3));
        assertEq(ledger.rootAt(s3), _mth(seed, 0, s3), "third anchored");
    }

    /// A key holder rewrites history: the new tree differs from the anchored one in an old leaf.
    /// Its proof is consistent with *its own* old root, never with the anchored one.
    function testFuzz_rewrittenHistoryRejected(bytes32 seed, bytes32 forged, uint256 a, uint256 b) public {
        vm.assume(forged != seed);
        (uint64 m, uint64 n) = _sizes(a, b);
        bytes32 anchored = _mth(seed, 0, m);
        ledger.anchor(1, m, anchored, bytes32(0), new bytes32[](0));
        bytes32 root = _mth(forged, 0, n);
        bytes32[] memory proof = _consistencyProof(forged, m, n);
        vm.expectRevert(_inconsistent(m, anchored, n, root, proof.length));
        ledger.anchor(2, n, root, bytes32(0), proof);
        assertEq(ledger.checkpointCount(), 1, "only the honest checkpoint");
    }

    function testFuzz_tamperedProofRejected(bytes32 seed, uint256 a, uint256 b, uint256 which, bytes32 flip)
        public
    {
        vm.assume(flip != bytes32(0));
        (uint64 m, uint64 n) = _sizes(a, b);
        bytes32 anchored = _mth(seed, 0, m);
        ledger.anchor(1, m, anchored, bytes32(0), new bytes32[](0));
        bytes32 root = _mth(seed, 0, n);
        bytes32[] memory proof = _consistencyProof(seed, m, n);
        proof[which % proof.length] ^= flip;
        vm.expectRevert(_inconsistent(m, anchored, n, root, proof.length));
        ledger.anchor(2, n, root, bytes32(0), proof);
    }

    function testFuzz_wrongRootWithHonestProofRejected(bytes32 seed, uint256 a, uint256 b, bytes32 root) public {
        (uint64 m, uint64 n) = _sizes(a, b);
        vm.assume(root != bytes32(0) && root != _mth(seed, 0, n));
        bytes32 anchored = _mth(seed, 0, m);
        ledger.anchor(1, m, anchored, bytes32(0), new bytes32[](0));
        bytes32[] memory proof = _consistencyProof(seed, m, n);
        vm.expectRevert(_inconsistent(m, anchored, n, root, proof.length));
        ledger.anchor(2, n, root, bytes32(0), proof);
    }

    function testFuzz_shortenedOrLengthenedProofRejected(bytes32 seed, uint256 a, uint256 b, bytes32 extra)
        public
    {
        (uint64 m, uint64 n) = _sizes(a, b);
        bytes32 anchored = _mth(seed, 0, m);
        ledger.anchor(1, m, anchored, bytes32(0), new bytes32[](0));
        bytes32 root = _mth(seed, 0, n);
        bytes32[] memory proof = _consistencyProof(seed, m, n);
        bytes32[] memory shorter = new bytes32[](proof.length - 1);
        for (uint256 i = 0; i < shorter.length; i++) {
            shorter[i] = proof[i];
        }
        vm.expectRevert(_inconsistent(m, anchored, n, root, shorter.length));
        ledger.anchor(2, n, root, bytes32(0), shorter);
        bytes32[] memory longer = _append(proof, extra);
        vm.expectRevert(_inconsistent(m, anchored, n, root, longer.length));
        ledger.anchor(2, n, root, bytes32(0), longer);
        ledger.anchor(2, n, root, bytes32(0), proof);
    }

    function test_emptyProofRejectedAfterTheFirst() public {
        bytes32 seed = keccak256("seed");
        ledger.anchor(1, 3, _mth(seed, 0, 3), bytes32(0), new bytes32[](0));
        bytes32 root = _mth(seed, 0, 4);
        vm.expectRevert(_inconsistent(3, _mth(seed, 0, 3), 4, root, 0));
        ledger.anchor(2, 4, root, bytes32(0), new bytes32[](0));
    }

    function test_overlongProofRejected() public {
        bytes32 seed = keccak256("seed");
        ledger.anchor(1, 3, _mth(seed, 0, 3), bytes32(0), new bytes32[](0));
        bytes32 root = _mth(seed, 0, 4);
        bytes32[] memory proof = new bytes32[](ledger.MAX_CONSISTENCY_PROOF_LENGTH() + 1);
        vm.expectRevert(_inconsistent(3, _mth(seed, 0, 3), 4, root, proof.length));
        ledger.anchor(2, 4, root, bytes32(0), proof);
    }

    // RFC 9162 vectors (transparency-dev/merkle testdata, Apache-2.0): the tree of the eight leaves
    // "", 0x00, 0x10, 0x2021, 0x3031, 0x40414243, 0x5051525354555657, 0x606162636465666768696a6b6c6d6e6f.
    bytes32 internal constant ROOT3 = 0xaeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77;
    bytes32 internal constant ROOT6 = 0x76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef;
    bytes32 internal constant ROOT8 = 0x5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328;

    function test_vectorThreeToEight() public {
        ledger.anchor(1, 3, ROOT3, bytes32(0), new bytes32[](0));
        bytes32[] memory proof = new bytes32[](4);
        proof[0] = 0x0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7;
        proof[1] = 0x07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7;
        proof[2] = 0xfac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125;
        proof[3] = 0x6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4;
        ledger.anchor(2, 8, ROOT8, bytes32(0), proof);
        assertEq(ledger.rootAt(8), ROOT8, "vector accepted");
    }

    function test_vectorSixToEight() public {
        ledger.anchor(1, 6, ROOT6, bytes32(0), new bytes32[](0));
        bytes32[] memory proof = new bytes32[](3);
        proof[0] = 0x0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a;
        proof[1] = 0xca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0;
        proof[2] = 0xd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7;
        ledger.anchor(2, 8, ROOT8, bytes32(0), proof);
        assertEq(ledger.rootAt(8), ROOT8, "vector accepted");
    }
}
