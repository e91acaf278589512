"""String types for request bodies: one-line names and free text without control characters
(:mod:`backend.domain.text`); a violation is a 422 naming the field."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from backend.domain.text import name_problem, text_problem


def _name(value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Name = Annotated[str, AfterValidator(_name)]
"""A one-line name or label: no control characters, no line breaks."""
Text = Annotated[str, AfterValidator(_text)]
"""Free text (a note, a reason): line breaks and tabs allowed, other control characters not."""
