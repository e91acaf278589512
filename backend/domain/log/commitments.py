"""Salted commitments to free text: what a leaf carries instead of anything a person typed.

The transparency log is append-only and public to auditors, so a review reason, a correction note,
an ``evidence_ref`` or a trip's ``source_record_id`` (any of which may hold a phone number, an
ID-card number or a name) never enters a leaf. The leaf carries a *commitment*:

    "hmac-sha256:" + lowercase hex of HMAC-SHA256(subject key, b"carbon-ledger/text/v1" 0x00
                                                   field 0x00 UTF-8 text)

where ``field`` is the name of the JSON field the commitment stands in (``reason``, ``note``,
``evidence_ref``, ``source_record_id``) and the subject key is a random 256-bit key of the person
the record is about, held in the database (``subject_keys``). The text stays in the database.
Whoever holds the key and the text can show that the leaf commits to that text; without the key
the commitment reveals nothing, not even whether two records hold the same text (keys differ per
person). Erasing a person erases their texts and their key, after which their commitments can no
longer be opened or linked to them, while the leaves, checkpoints and totals are unchanged.

Pure: no I/O. The encoding is frozen: a change gets a new domain tag (``.../text/v2``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any

COMMITMENT_PREFIX = "hmac-sha256:"
DOMAIN_TAG = b"carbon-ledger/text/v1"
SUBJECT_KEY_BYTES = 32
"""256 bits, HMAC-SHA256's block-size-independent security level; a guess of a short text (a phone
number) is useless without the key."""

FREE_TEXT_QUANTITIES = ("evidence_ref", "source_record_id")
"""Fields of an activity's quantities that a person or a source types freely."""

_COMMITMENT = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")


def new_subject_key() -> bytes:
    return secrets.token_bytes(SUBJECT_KEY_BYTES)


def commit_text(key: bytes, field: str, text: str) -> str:
    """The commitment a leaf carries for ``text`` in ``field``, under one person's ``key``."""
    if len(key) != SUBJECT_KEY_BYTES:
        raise ValueError(f"a subject key is {SUBJECT_KEY_BYTES} bytes")
    message = DOMAIN_TAG + b"\x00" + field.encode() + b"\x00" + text.encode()
    return COMMITMENT_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def commit_optional(key: bytes, field: str, text: str | None) -> str | None:
    return None if text is None else commit_text(key, field, text)


def is_commitment(value: Any) -> bool:
    return isinstance(value, str) and _COMMITMENT.match(value) is not None


def opens(commitment: str, key: bytes, field: str, text: str) -> bool:
    """Whether ``commitment`` is the commitment to ``text`` under ``key`` (constant time)."""
    return hmac.compare_digest(commitment, commit_text(key, field, text))


def committed_quantities(key: bytes | None, quantities: Mapping[str, Any]) -> dict[str, Any]:
    """``quantities`` as a leaf carries them: every free-text field replaced by its commitment.

    ``key`` None means the person's key was erased; their free text was then already replaced by
    its commitment in the database, and is returned as stored."""
    out = dict(quantities)
    for name in FREE_TEXT_QUANTITIES:
        value = out.get(name)
        if isinstance(value, str) and key is not None:
            out[name] = commit_text(key, name, value)
    return out
