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
import json
import secrets
from typing import Any

import rfc8785

LEAF_FORMAT_VERSION = 1
"""The envelope version :func:`leaf_bytes` writes: the untyped format of the first records. New
records are written by :func:`backend.domain.record_kinds.encode` (version 2, typed bodies)."""
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


MAX_EXACT_INT = 2**53 - 1
"""RFC 8785 numbers are IEEE 754 doubles: integers beyond this are not represented exactly."""


def _plain(document: Any) -> bool:
    """Whether ``document`` holds only what :func:`json.dumps` writes exactly as RFC 8785 does:
    dicts with keys in the Basic Multilingual Plane (code-point order is then UTF-16 order),
    lists, strings, exact integers, booleans and null. Floats need ECMAScript number formatting."""
    stack = [document]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if -MAX_EXACT_INT <= item <= MAX_EXACT_INT:
                continue
            return False
        if kind is dict:
            for key in item:
                if type(key) is not str or (not key.isascii() and max(map(ord, key)) > 0xFFFF):
                    return False
            stack.extend(item.values())
            continue
        if kind is list:
            stack.extend(item)
            continue
        return False
    return True


def canonical_json(document: Any) -> bytes:
    """RFC 8785 canonical JSON. Our records are plain (no floats), so the standard library's
    encoder writes them byte for byte as the RFC does at a sixth of the pure-Python encoder's
    cost; anything else goes to :mod:`rfc8785` (tests compare the two on generated documents)."""
    if _plain(document):
        try:
            return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate: the RFC's encoder says what is wrong
            pass
    return bytes(rfc8785.dumps(document))


def sha256_hex(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()
