"""The Idempotency-Key rule, written once: which keys are accepted and what a repeated key means.

A client sends a fresh key (a UUID, say) with each request that creates something, and the same key
when it retries. A key is 8–128 characters of A–Z, a–z, 0–9, ``.``, ``_``, ``:`` or ``-``. A key the
same caller already used replays the first answer when the request is the same (equal
:func:`request_hash`) and is refused with ``409 idempotency-conflict`` when it is not; nothing is
written twice. Routes take the key through ``IdempotencyKeyDep`` (``backend/api/deps.py``),
services compare hashes with :func:`check_replay`.
"""

from __future__ import annotations

import re
from typing import Any

from backend.domain.canonical import canonical_json, sha256_hex
from backend.domain.errors import IdempotencyConflict, InvalidInput

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{8,128}")
KEY_RULE = "8–128 characters of A–Z, a–z, 0–9, '.', '_', ':' or '-'"


def check_key(value: str | None, *, required: bool) -> str | None:
    """``value`` if it is a well-formed key; ``None`` when absent and not required."""
    if value is None:
        if required:
            raise InvalidInput(HEADER, "header is required (8–128 characters, e.g. a UUID)")
        return None
    if not KEY_PATTERN.fullmatch(value):
        raise InvalidInput(HEADER, f"must be {KEY_RULE}")
    return value


def request_hash(document: Any) -> str:
    """What a replay must match: the SHA-256 of the request's canonical JSON (RFC 8785)."""
    return sha256_hex(canonical_json(document))


def check_replay(stored_hash: str | None, digest: str) -> None:
    """Refuses a reused key whose request differs from the first one."""
    if stored_hash != digest:
        raise IdempotencyConflict(f"this {HEADER} was already used with a different request body")
