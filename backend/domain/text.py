"""Plain text that people typed: names are one line of printable characters; free text may also
hold line breaks and tabs. Control characters (NUL, escape, bell…) are refused: they corrupt
exports and terminals, and nobody types them on purpose.
"""

from __future__ import annotations

import re

from backend.domain.errors import InvalidInput

_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 control characters (tab and line breaks included) and the Unicode line separators."""
_TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""The same, less tab, line feed and carriage return."""


def _problem(value: str, pattern: re.Pattern[str]) -> str | None:
    found = pattern.search(value)
    if found is None:
        return None
    return (
        f"must not contain control characters (found U+{ord(found.group()):04X} at position {found.start()})"
    )


def name_problem(value: str) -> str | None:
    """Why ``value`` is not a one-line name, or None."""
    return _problem(value, _NAME_FORBIDDEN)


def text_problem(value: str) -> str | None:
    """Why ``value`` is not free text (line breaks allowed), or None."""
    return _problem(value, _TEXT_FORBIDDEN)


def check_name(field: str, value: str | None) -> str | None:
    problem = None if value is None else name_problem(value)
    if problem:
        raise InvalidInput(field, problem)
    return value
