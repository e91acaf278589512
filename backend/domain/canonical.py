"""RFC 8785 canonical JSON and the hashes written over it.

Every byte string the ledger hashes or signs — a leaf, a checkpoint's meta, a factor set, an
idempotent request — is written by :func:`canonical_json`, so the same document always gives the
same bytes, in Python as in the JavaScript verifier.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

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
