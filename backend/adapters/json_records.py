"""Frozen dataclasses kept as JSON files (the deployment manifest, the compiled contract)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")


def to_json(record: Any) -> str:
    """Indented, keys sorted, one trailing newline: stable files that diff well."""
    return json.dumps(dataclasses.asdict(record), indent=2, sort_keys=True) + "\n"


def from_json(cls: type[T], text: str, what: str) -> T:
    """``cls`` from ``text``, every field present and of exactly its declared type (no coercion);
    a ``ValueError`` naming ``what`` and the offending fields otherwise."""
    try:
        return TypeAdapter(cls).validate_json(text, strict=True)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"{what}: {problems}") from None
