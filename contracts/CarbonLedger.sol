// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

/**
 * @title CarbonLedger
 * @notice Anchors checkpoints (tree size, root, meta hash) of the Carbon Ledger transparency log,
 * an RFC 9162 Merkle tree of every record the ledger keeps. Auditors read {rootAt} and
 * {latestCheckpoint}, or check an inclusion proof on-chain with {verifyInclusion}, without
 * trusting the ledger's server.
 *
 * Rules that make the anchored history append-only:
 * - only accounts holding {ANCHORER_ROLE} can anchor;
 * - tree sizes strictly increase from one checkpoint to the next;
 * - a root, once anchored for a tree size, is never overwritten.
 */
contract CarbonLedger is AccessControl, Pausable {
    /// @notice Role allowed to anchor checkpoints (the ledger's anchoring key).
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");
    /// @notice Role allowed to pause and unpause anchoring (incident response).
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Longest audit path accepted by {verifyInclusion}: 64 levels cover 2^64 leaves.
    uint256 public constant MAX_AUDIT_PATH_LENGTH = 64;

    /// @dev Tree sizes in anchoring order; checkpoint `seq` has index `seq - 1`. Four sizes share
    /// a storage slot, and the meta hash, time and block of each checkpoint live only in its
    /// {CheckpointAnchored} event: an anchor costs two new storage words instead of five.
    uint64[] private _treeSizes;
    mapping(uint64 treeSize => bytes32 root) private _rootAt;

    /// @notice Emitted when a checkpoint is anchored.
    event CheckpointAnchored(uint64 indexed seq, bytes32 indexed root, uint64 treeSize, bytes32 metaHash);

    /// @notice The given tree size does not exceed the latest anchored one.
    error CarbonLedgerTreeSizeNotIncreasing(uint64 previous, uint64 given);
    /// @notice A checkpoint must cover at least one leaf and carry a non-zero root.
    error CarbonLedgerEmptyCheckpoint(uint64 treeSize, bytes32 root);
    /// @notice No checkpoint with that sequence number exists.
    error CarbonLedgerUnknownCheckpoint(uint64 seq);
    /// @notice The caller expected a different latest checkpoint (a stale or duplicated send).
    error CarbonLedgerUnexpectedSequence(uint64 expected, uint64 actual);

    /**
     * @param admin account given {DEFAULT_ADMIN_ROLE}, {ANCHORER_ROLE} and {PAUSER_ROLE}.
     */
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ANCHORER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    /**
     * @notice Anchors the checkpoint `(treeSize, root, metaHash)` as checkpoint `expectedSeq`.
     * @param expectedSeq the sequence number the new checkpoint must get (latest + 1); a resend of
     * an already mined transaction therefore reverts instead of anchoring twice.
     * @param treeSize number of leaves the root covers.
     * @param root RFC 9162 root hash of the first `treeSize` leaves.
     * @param metaHash SHA-256 of the checkpoint's canonical meta document (factor set, totals).
     * @return seq the new checkpoint's sequence number.
     *
     * Requirements:
     * - the caller holds {ANCHORER_ROLE}; the contract is not paused;
     * - `expectedSeq` is the number of checkpoints so far plus one;
     * - `treeSize` is greater than the latest anchored tree size; `root` is not zero.
     *
     * Emits {CheckpointAnchored}.
     */
    function anchor(uint64 expectedSeq, uint64 treeSize, bytes32 root, bytes32 metaHash)
        external
        onlyRole(ANCHORER_ROLE)
        whenNotPaused
        returns (uint64 seq)
    {
        uint256 count = _treeSizes.length;
        seq = uint64(count + 1);
        if (expectedSeq != seq) revert CarbonLedgerUnexpectedSequence(expectedSeq, seq);
        if (treeSize == 0 || root == bytes32(0)) revert CarbonLedgerEmptyCheckpoint(treeSize, root);
        uint64 previous = count == 0 ? 0 : _treeSizes[count - 1];
        if (treeSize <= previous) revert CarbonLedgerTreeSizeNotIncreasing(previous, treeSize);

        _treeSizes.push(treeSize);
        _rootAt[treeSize] = root;
        emit CheckpointAnchored(seq, root, treeSize, metaHash);
    }

    /**
     * @notice Pauses anchoring.
     *
     * Requirements: the caller holds {PAUSER_ROLE}.
     */
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /**
     * @notice Resumes anchoring.
     *
     * Requirements: the caller holds {PAUSER_ROLE}.
     */
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice The root anchored for `treeSize`, or `bytes32(0)` if none was.
    function rootAt(uint64 treeSize) external view returns (bytes32) {
        return _rootAt[treeSize];
    }

    /// @notice The latest checkpoint; all zero before the first one.
    function latestCheckpoint() external view returns (uint64 seq, uint64 treeSize, bytes32 root) {
        uint256 count = _treeSizes.length;
        if (count == 0) return (0, 0, bytes32(0));
        uint64 size = _treeSizes[count - 1];
        return (uint64(count), size, _rootAt[size]);
    }

    /// @notice Number of checkpoints anchored so far (the latest sequence number).
    function checkpointCount() external view returns (uint64) {
        return uint64(_treeSizes.length);
    }

    /**
     * @notice Tree size and root of the checkpoint with sequence number `seq` (1-based); its meta
     * hash, block and time are in the {CheckpointAnchored} event with that `seq`.
     *
     * Requirements: `seq` is between 1 and {checkpointCount}.
     */
    function checkpointAt(uint64 seq) external view returns (uint64 treeSize, bytes32 root) {
        if (seq == 0 || seq > _treeSizes.length) revert CarbonLedgerUnknownCheckpoint(seq);
        treeSize = _treeSizes[seq - 1];
        root = _rootAt[treeSize];
    }

    /**
     * @notice Checks an RFC 9162 inclusion proof (§2.1.3.2) against the root anchored for
     * `treeSize`, with the SHA-256 precompile.
     * @param leafHash SHA-256(0x00 || leaf bytes).
     * @param leafIndex zero-based index of the leaf.
     * @param treeSize anchored tree size the proof was made for.
     * @param auditPath sibling hashes from the leaf up.
     * @return valid true when the proof leads to the anchored root.
     */
    function verifyInclusion(bytes32 leafHash, uint64 leafIndex, uint64 treeSize, bytes32[] calldata auditPath)
        external
        view
        returns (bool valid)
    {
        bytes32 anchored = _rootAt[treeSize];
        if (anchored == bytes32(0) || leafIndex >= treeSize || auditPath.length > MAX_AUDIT_PATH_LENGTH) {
            return false;
        }
        uint64 fn = leafIndex;
        uint64 sn = treeSize - 1;
        bytes32 r = leafHash;
        for (uint256 i = 0; i < auditPath.length; i++) {
            if (sn == 0) return false;
            bytes32 p = auditPath[i];
            if (fn & 1 == 1 || fn == sn) {
                r = sha256(abi.encodePacked(bytes1(0x01), p, r));
                if (fn & 1 == 0) {
                    while (fn & 1 == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                r = sha256(abi.encodePacked(bytes1(0x01), r, p));
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r == anchored;
    }
}
