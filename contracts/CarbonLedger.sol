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
 * - every checkpoint after the first extends the previous one: {anchor} checks an RFC 9162
 *   consistency proof (§2.1.4.2) from the previous root with the SHA-256 precompile, so a key
 *   holder cannot anchor a root that rewrites history;
 * - a root, once anchored for a tree size, is never overwritten.
 *
 * Version 2 ({LEDGER_VERSION}): version 1 had no consistency proof in {anchor}; its views and event
 * are the same. docs/transparency-log.md ("Contract versions") says how a deployment upgrades.
 */
contract CarbonLedger is AccessControl, Pausable {
    /// @notice Role allowed to anchor checkpoints (the ledger's anchoring key).
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");
    /// @notice Role allowed to pause and unpause anchoring (incident response).
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Version of this contract's anchoring rules (1 had no consistency proof).
    uint64 public constant LEDGER_VERSION = 2;

    /// @notice Longest audit path accepted by {verifyInclusion}: 64 levels cover 2^64 leaves.
    uint256 public constant MAX_AUDIT_PATH_LENGTH = 64;
    /// @notice Longest consistency proof accepted by {anchor}: at most two hashes per level of a
    /// tree of up to 2^64 leaves (RFC 9162 proofs are shorter; this bounds the work of a call).
    uint256 public constant MAX_CONSISTENCY_PROOF_LENGTH = 128;

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
    /// @notice The consistency proof does not show that the tree of `treeSize` with the given root
    /// extends the previous checkpoint (`previousTreeSize`, `previousRoot`): the new root would
    /// rewrite anchored history, or the proof is malformed.
    error CarbonLedgerInconsistentCheckpoint(
        uint64 previousTreeSize, bytes32 previousRoot, uint64 treeSize, bytes32 root, uint256 proofLength
    );

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
     * @param consistencyProof RFC 9162 consistency proof (§2.1.4.1, PROOF(m, D[0:n])) from the
     * latest checkpoint's tree size `m` to `treeSize`; ignored for the first checkpoint.
     * @return seq the new checkpoint's sequence number.
     *
     * Requirements:
     * - the caller holds {ANCHORER_ROLE}; the contract is not paused;
     * - `expectedSeq` is the number of checkpoints so far plus one;
     * - `treeSize` is greater than the latest anchored tree size; `root` is not zero;
     * - after the first checkpoint, `consistencyProof` proves that `root` extends the latest root
     *   (at most {MAX_CONSISTENCY_PROOF_LENGTH} hashes).
     *
     * Emits {CheckpointAnchored}.
     */
    function anchor(
        uint64 expectedSeq,
        uint64 treeSize,
        bytes32 root,
        bytes32 metaHash,
        bytes32[] calldata consistencyProof
    ) external onlyRole(ANCHORER_ROLE) whenNotPaused returns (uint64 seq) {
        uint256 count = _treeSizes.length;
        seq = uint64(count + 1);
        if (expectedSeq != seq) revert CarbonLedgerUnexpectedSequence(expectedSeq, seq);
        if (treeSize == 0 || root == bytes32(0)) revert CarbonLedgerEmptyCheckpoint(treeSize, root);
        if (count > 0) {
            uint64 previous = _treeSizes[count - 1];
            if (treeSize <= previous) revert CarbonLedgerTreeSizeNotIncreasing(previous, treeSize);
            bytes32 previousRoot = _rootAt[previous];
            if (!_consistent(previous, treeSize, previousRoot, root, consistencyProof)) {
                revert CarbonLedgerInconsistentCheckpoint(
                    previous, previousRoot, treeSize, root, consistencyProof.length
                );
            }
        }

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
                r = _node(p, r);
                if (fn & 1 == 0) {
                    while (fn & 1 == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                r = _node(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r == anchored;
    }

    /**
     * @dev RFC 9162 §2.1.4.2: whether `proof` shows that the tree of `second` leaves with root
     * `secondHash` extends the tree of `first` leaves with root `firstHash` (0 < first < second).
     */
    function _consistent(uint64 first, uint64 second, bytes32 firstHash, bytes32 secondHash, bytes32[] calldata proof)
        private
        view
        returns (bool)
    {
        uint256 length = proof.length;
        if (length == 0 || length > MAX_CONSISTENCY_PROOF_LENGTH) return false;
        uint256 fn = first - 1;
        uint256 sn = second - 1;
        uint256 i;
        bytes32 fr;
        // A power-of-two first tree is itself a node of the second: the proof starts above it.
        if (first & (first - 1) == 0) {
            fr = firstHash;
        } else {
            fr = proof[0];
            i = 1;
        }
        bytes32 sr = fr;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        for (; i < length; ++i) {
            if (sn == 0) return false;
            bytes32 c = proof[i];
            if (fn & 1 == 1 || fn == sn) {
                fr = _node(c, fr);
                sr = _node(c, sr);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = _node(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && fr == firstHash && sr == secondHash;
    }

    /// @dev SHA-256(0x01 || left || right) through the precompile, in unallocated memory (no
    /// allocation per hash, unlike `sha256(abi.encodePacked(...))`).
    function _node(bytes32 left, bytes32 right) private view returns (bytes32 digest) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore8(ptr, 0x01)
            mstore(add(ptr, 1), left)
            mstore(add(ptr, 33), right)
            if iszero(staticcall(gas(), 0x02, ptr, 65, 0x00, 0x20)) { revert(0, 0) }
            digest := mload(0x00)
        }
    }
}
