"""The one way tests wait: poll a condition until it holds, never sleep a fixed time and hope."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

WAIT_S = 30.0


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout_s: float = WAIT_S,
    interval_s: float = 0.1,
    not_yet: tuple[type[BaseException], ...] = (),
) -> T:
    """Calls ``probe`` until it returns something truthy and returns that; fails naming ``what``
    after ``timeout_s`` (``probe`` runs at least once). An exception in ``not_yet`` (a server not
    listening yet, an element being re-rendered) counts as not yet; any other propagates, so a
    probe may assert what must hold meanwhile."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = probe()
        except not_yet:
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)
