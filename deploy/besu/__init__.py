"""A sample 4-validator Hyperledger Besu QBFT network for the ``besu-qbft`` chain profile.

``python -m deploy.besu --out DIR`` writes a fresh network (new keys) to DIR; ``--sample`` writes the
committed sample again (its keys are derived from public seeds, so they are for trying out only).
"""
