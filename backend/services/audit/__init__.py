"""Reading every record back: replaying the log, checking each record against the rules of its
version, verifying checkpoints against the chain."""
