from __future__ import annotations

import json

import pytest

from backend.api.limits import json_depth_exceeds


@pytest.mark.parametrize(
    ("document", "limit", "exceeds"),
    [
        ({"a": [1, 2, {"b": 3}]}, 3, False),
        ({"a": [1, 2, {"b": [3]}]}, 3, True),
        ({"text": "[[[[[[[[[[ {{{{{{ not structure"}, 1, False),
        ({"text": 'quote \\" then [[[[', "x": [[1]]}, 3, False),
        ({"text": 'quote \\" then [[[[', "x": [[[1]]]}, 3, True),
        ([], 1, False),
    ],
)
def test_depth_counts_structure_not_strings(document: object, limit: int, exceeds: bool) -> None:
    assert json_depth_exceeds(json.dumps(document).encode(), limit) is exceeds


def test_attack_depth_is_found_early() -> None:
    assert json_depth_exceeds(b"[" * 1_000_000 + b"]" * 1_000_000, 32)
