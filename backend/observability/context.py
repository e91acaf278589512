"""The request id of the work in progress, carried by a context variable.

The HTTP middleware binds the caller's ``X-Request-ID`` (or a new one) for the duration of a
request; scheduler jobs bind ``job-<name>-<hex>`` for the duration of a run. Context variables
follow the work into FastAPI's thread pool (anyio copies the context), so every log line a
service writes while handling a request carries its id.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID_MAX_LENGTH = 64
"""Longest client-supplied request id kept; a longer or odd one is replaced, so logs stay small."""
_VALID_REQUEST_ID = re.compile(rf"^[A-Za-z0-9._:\-]{{8,{REQUEST_ID_MAX_LENGTH}}}$")

_request_id: ContextVar[str | None] = ContextVar("carbon_ledger_request_id", default=None)


def new_request_id(prefix: str = "") -> str:
    return prefix + secrets.token_hex(8)


def acceptable_request_id(value: str | None) -> str | None:
    """``value`` if it is safe to log and echo (8–64 URL-safe characters), else None."""
    if value is not None and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return None


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def bound_request_id(request_id: str) -> Iterator[str]:
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)
