// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {CarbonLedger} from "../CarbonLedger.sol";
import {CheatTest} from "./Vm.sol";

contract CarbonLedgerTest is CheatTest {
    CarbonLedger internal ledger;
    address internal constant OUTSIDER = address(0xBEEF);

    event CheckpointAnchored(uint64 indexed seq, bytes32 indexed root, uint64 treeSize, bytes32 metaHash);

    function setUp() public {
        ledger = new CarbonLedger(address(this));
    }

    /// @dev No consistency proof: none is needed for a first checkpoint, and each test below that
    /// anchors a second one expects a revert that comes before the proof is looked at. Honest and
    /// dishonest extensions are tested against a reference in CarbonLedgerConsistency.t.sol.
    function _none() internal pure returns (bytes32[] memory) {
        return new bytes32[](0);
    }

    function test_startsEmpty() public view {
        (uint64 seq, uint64 size, bytes32 root) = ledger.latestCheckpoint();
        assertEq(seq, 0, "seq");
        assertEq(size, 0, "size");
        assertEq(root, bytes32(0), "root");
        assertEq(ledger.rootAt(1), bytes32(0), "rootAt");
    }

    function test_anchorRecordsAndEmits() public {
        vm.expectEmit(true, true, false, true);
        emit CheckpointAnchored(1, keccak256("r"), 10, keccak256("m"));
        uint64 seq = ledger.anchor(1, 10, keccak256("r"), keccak256("m"), _none());
        assertEq(seq, 1, "seq");
        assertEq(ledger.rootAt(10), keccak256("r"), "rootAt");
        (uint64 latestSeq, uint64 size, bytes32 root) = ledger.latestCheckpoint();
        assertEq(latestSeq, 1, "latest seq");
        assertEq(size, 10, "latest size");
        assertEq(root, keccak256("r"), "latest root");
        (uint64 cpSize, bytes32 cpRoot) = ledger.checkpointAt(1);
        assertEq(cpSize, 10, "checkpointAt size");
        assertEq(cpRoot, keccak256("r"), "checkpointAt root");
    }

    function testFuzz_onlyAnchorersWrite(address caller, uint64 size, bytes32 root) public {
        vm.assume(caller != address(this) && size > 0 && root != bytes32(0));
        bytes32 role = ledger.ANCHORER_ROLE();
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role));
        vm.prank(caller);
        ledger.anchor(1, size, root, bytes32(0), _none());
        assertEq(ledger.checkpointCount(), 0, "nothing anchored");
    }

    function testFuzz_treeSizesStrictlyIncrease(uint64 first, uint64 second) public {
        vm.assume(first > 0 && second > 0 && second <= first);
        ledger.anchor(1, first, keccak256("a"), bytes32(0), _none());
        vm.expectRevert(abi.encodeWithSelector(CarbonLedger.CarbonLedgerTreeSizeNotIncreasing.selector, first, second));
        ledger.anchor(2, second, keccak256("b"), bytes32(0), _none());
        assertEq(ledger.checkpointCount(), 1, "only the first checkpoint");
    }

    function testFuzz_rootsNeverOverwritten(uint64 size, bytes32 root, bytes32 other) public {
        vm.assume(size > 0 && root != bytes32(0) && other != bytes32(0) && other != root);
        ledger.anchor(1, size, root, bytes32(0), _none());
        vm.expectRevert(abi.encodeWithSelector(CarbonLedger.CarbonLedgerTreeSizeNotIncreasing.selector, size, size));
        ledger.anchor(2, size, other, bytes32(0), _none());
        assertEq(ledger.rootAt(size), root, "root kept");
    }

    function testFuzz_resendWithStaleSequenceReverts(uint64 expected) public {
        vm.assume(expected != 2);
        ledger.anchor(1, 5, keccak256("a"), bytes32(0), _none());
        vm.expectRevert(abi.encodeWithSelector(CarbonLedger.CarbonLedgerUnexpectedSequence.selector, expected, 2));
        ledger.anchor(expected, 6, keccak256("b"), bytes32(0), _none());
    }

    function test_zeroTreeSizeRejected() public {
        vm.expectRevert(abi.encodeWithSelector(CarbonLedger.CarbonLedgerEmptyCheckpoint.selector, uint64(0), keccak256("a")));
        ledger.anchor(1, 0, keccak256("a"), bytes32(0), _none());
    }

    function test_zeroRootRejected() public {
        vm.expectRevert(abi.encodeWithSelector(CarbonLedger.CarbonLedgerEmptyCheckpoint.selector, uint64(3), bytes32(0)));
        ledger.anchor(1, 3, bytes32(0), bytes32(0), _none());
    }

    function test_pauseBlocksAnchoring() public {
        ledger.pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        ledger.anchor(1, 1, keccak256("a"), bytes32(0), _none());
        ledger.unpause();
        ledger.anchor(1, 1, keccak256("a"), bytes32(0), _none());
    }

    function test_grantedAnchorerCanWrite() public {
        ledger.grantRole(ledger.ANCHORER_ROLE(), OUTSIDER);
        vm.prank(OUTSIDER);
        ledger.anchor(1, 4, keccak256("a"), bytes32(0), _none());
        assertEq(ledger.rootAt(4), keccak256("a"), "anchored by grantee");
    }

    function test_unknownCheckpointReverts() public {
        vm.expectRevert(abi.encodeWithSelector(CarbonLedger.CarbonLedgerUnknownCheckpoint.selector, uint64(1)));
        ledger.checkpointAt(1);
    }

    // RFC 9162 public vector (transparency-dev/merkle testdata, Apache-2.0): leaf 5 of a tree of 8.
    bytes32 internal constant ROOT8 = 0x5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328;
    bytes32 internal constant LEAF5 = 0x4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658;

    function _path8() internal pure returns (bytes32[] memory path) {
        path = new bytes32[](3);
        path[0] = 0xbc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b;
        path[1] = 0xca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0;
        path[2] = 0xd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7;
    }

    function test_verifyInclusionAcceptsVector() public {
        ledger.anchor(1, 8, ROOT8, bytes32(0), _none());
        assertTrue(ledger.verifyInclusion(LEAF5, 5, 8, _path8()), "vector proof accepted");
    }

    function test_verifyInclusionNeedsAnchoredRoot() public view {
        assertTrue(!ledger.verifyInclusion(LEAF5, 5, 8, _path8()), "unanchored size rejected");
    }

    function testFuzz_verifyInclusionRejectsTampering(uint8 which, bytes32 flip) public {
        vm.assume(flip != bytes32(0));
        ledger.anchor(1, 8, ROOT8, bytes32(0), _none());
        bytes32[] memory path = _path8();
        path[which % 3] = path[which % 3] ^ flip;
        assertTrue(!ledger.verifyInclusion(LEAF5, 5, 8, path), "tampered path rejected");
        assertTrue(!ledger.verifyInclusion(LEAF5 ^ flip, 5, 8, _path8()), "tampered leaf rejected");
    }

    function testFuzz_verifyInclusionRejectsWrongIndex(uint64 index) public {
        vm.assume(index != 5);
        ledger.anchor(1, 8, ROOT8, bytes32(0), _none());
        assertTrue(!ledger.verifyInclusion(LEAF5, index, 8, _path8()), "wrong index rejected");
    }
}
