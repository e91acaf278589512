"""Checkpoints on the chain: prepare, send, reconcile. The anchored meta sums what the features
below recorded. Re-anchoring, the chain guard and the repair of a lost suffix."""
