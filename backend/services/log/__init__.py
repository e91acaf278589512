"""Use cases of the transparency log itself: checkpoints and tiles served, receipts (inclusion
proofs), witness submissions and cosignatures, the per-subject keys of leaves. Knows no feature."""
