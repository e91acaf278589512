"""Scanning captured logs for secrets and raw personal identifiers (shared by several tests)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from backend.adapters.anvil import ANVIL_DEFAULT_KEY_0
from backend.bootstrap.settings import DEV_TOKEN_SECRET

ALWAYS_SECRET = (ANVIL_DEFAULT_KEY_0, ANVIL_DEFAULT_KEY_0.removeprefix("0x"), DEV_TOKEN_SECRET)
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]+")


def leaks(text: str, secrets: Iterable[str] = (), subjects: Iterable[str] = ()) -> list[str]:
    """What ``text`` gives away: known secrets, any JWT, and the given subject ids (as words)."""
    found = [f"secret {s[:6]}…" for s in {*ALWAYS_SECRET, *secrets} if s and s.lower() in text.lower()]
    found += [f"JWT {m.group()[:12]}…" for m in _JWT.finditer(text)]
    for subject in set(subjects):
        if re.search(rf"(?<![A-Za-z0-9_\-]){re.escape(subject)}(?![A-Za-z0-9_\-])", text):
            found.append(f"subject id {subject!r}")
    return found
