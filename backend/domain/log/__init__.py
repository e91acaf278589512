"""The log's records: the leaf envelope and its kinds, salted subject commitments, the
RFC 9162 Merkle tree, C2SP checkpoints, tiles and cosignatures, and where checkpoints are
anchored. Knows no feature."""
