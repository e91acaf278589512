"""Logged records: the exact bytes that become leaves of the transparency log.

A leaf is the canonical JSON (RFC 8785) of a record envelope. Each envelope carries a random
per-record salt, so a low-entropy record (a 12.4 km metro trip on a given day) cannot be guessed
from a leaf hash seen in someone else's proof, and a salted *subject commitment* instead of any raw
personal identifier (employee number, phone, openid). The commitment is an HMAC under a key the
park holds: stable per person (an auditor can group one person's records) yet not reversible by
anyone without the key. The envelope format is frozen: a change gets a new ``v``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from backend.domain.canonical import canonical_json

LEAF_FORMAT_VERSION = 1
"""The envelope version :func:`leaf_bytes` writes: the untyped format of the first records. New
records are written by :func:`backend.domain.log.record_kinds.encode` (version 2, typed bodies)."""
SALT_BYTES = 16
"""128 bits: enough that guessing a record from its hash is as hard as guessing the salt."""

RECORD_KINDS = frozenset(
    {
        "activity",
        "points_transfer",
        "correction",
        "factor_set",
        "period_close",
        "chain_move",
        "points_rules",
        "review",
        "period_signoff",
        "binding",
        "erasure",
        "voucher_use",
    }
)


def subject_commitment(subject_key: bytes, subject_id: str) -> str:
    digest = hmac.new(subject_key, b"carbon-ledger/subject/v1\x00" + subject_id.encode(), hashlib.sha256)
    return "0x" + digest.hexdigest()


def new_salt() -> str:
    return "0x" + secrets.token_hex(SALT_BYTES)


def leaf_bytes(kind: str, record_id: str, salt: str, subject: str | None, body: dict[str, Any]) -> bytes:
    if kind not in RECORD_KINDS:
        raise ValueError(f"unknown record kind {kind!r}")
    envelope: dict[str, Any] = {
        "v": LEAF_FORMAT_VERSION,
        "kind": kind,
        "id": record_id,
        "salt": salt,
        "subject": subject,
        "body": body,
    }
    return canonical_json(envelope)
