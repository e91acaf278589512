"""The Idempotency-Key rule: one definition (backend/domain/idempotency.py) used by every route."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from backend.api.app import create_app
from backend.domain import idempotency
from backend.domain.errors import IdempotencyConflict, InvalidInput

ROOT = Path(__file__).resolve().parents[3]
KEYED_ROUTES = {("post", "/mp/v1/activities"), ("post", "/mp/v1/redemptions"), ("post", "/api/v1/rewards")}


@pytest.mark.parametrize(
    "key", ["12345678", "a" * 128, "6f1c9d2e-8b7a-4c1e-9f3a-2d5b7e8c1a40", "order:2026.x_1"]
)
def test_well_formed_keys_pass(key: str) -> None:
    assert idempotency.check_key(key, required=True) == key


@pytest.mark.parametrize("key", ["1234567", "a" * 129, "has space", "naïve-key-1", "slash/key/1", ""])
def test_malformed_keys_are_refused_naming_the_header(key: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        idempotency.check_key(key, required=False)
    assert refused.value.field == "Idempotency-Key"


def test_a_missing_key_is_refused_only_where_required() -> None:
    assert idempotency.check_key(None, required=False) is None
    with pytest.raises(InvalidInput, match="required"):
        idempotency.check_key(None, required=True)


def test_a_replay_must_repeat_the_request() -> None:
    first = idempotency.request_hash({"reward_id": "r-1", "note": None})
    assert first == idempotency.request_hash({"note": None, "reward_id": "r-1"})  # canonical JSON
    idempotency.check_replay(first, first)
    with pytest.raises(IdempotencyConflict):
        idempotency.check_replay(first, idempotency.request_hash({"reward_id": "r-2", "note": None}))


def test_every_route_taking_the_header_takes_it_from_the_one_dependency() -> None:
    schema = create_app(cast(Any, None)).openapi()
    found = set()
    descriptions = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "header" and parameter["name"].lower() == "idempotency-key":
                    found.add((method, path))
                    descriptions.add(parameter.get("description"))
    assert found == KEYED_ROUTES
    assert descriptions == {next(iter(descriptions))} and idempotency.KEY_RULE in str(descriptions)
    declared_elsewhere = [
        str(path.relative_to(ROOT))
        for package in ("backend/api", "mini_program_api")
        for path in (ROOT / package).rglob("*.py")
        if 'alias="Idempotency-Key"' in path.read_text(encoding="utf-8")
    ]
    assert declared_elsewhere == []
