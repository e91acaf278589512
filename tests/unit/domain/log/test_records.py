"""Canonical JSON: the fast path writes exactly what the RFC 8785 reference encoder writes."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.canonical import MAX_EXACT_INT, canonical_json

keys = st.text(max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_EXACT_INT, max_value=MAX_EXACT_INT)
    | st.text(max_size=12)
    | st.text(alphabet=st.characters(max_codepoint=0x3F), max_size=6)  # control characters, quotes
    | st.floats(allow_nan=False, allow_infinity=False)
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=600, deadline=None)
@given(documents)
def test_fast_path_matches_the_reference_encoder(document: Any) -> None:
    assert canonical_json(document) == bytes(rfc8785.dumps(document))


@pytest.mark.parametrize(
    "document",
    [
        {"\U0001f600": 1, "\uff61": 2},  # UTF-16 order differs from code-point order here
        {"a": 1.0, "b": 1e21, "c": 5e-324},
        {"big": MAX_EXACT_INT},
        ['\x00\x1f\x7f\u2028"\\'],
        {"z": [], "a": {}, "m": [None, True, False]},
    ],
)
def test_edge_cases_match_the_reference_encoder(document: Any) -> None:
    assert canonical_json(document) == bytes(rfc8785.dumps(document))


def test_keys_sort_by_utf16_code_units() -> None:
    # By code point U+FF61 comes before U+1F600; in UTF-16 the emoji is 0xD83D 0xDE00, which sorts
    # before 0xFF61, so the RFC puts the emoji key first.
    assert canonical_json({"\uff61": 1, "\U0001f600": 2}).decode().index("\U0001f600") < 10


@pytest.mark.parametrize("document", [{"n": MAX_EXACT_INT + 1}, {"s": "\ud800"}, {"d": object()}])
def test_what_the_rfc_cannot_represent_is_refused_as_the_reference_refuses_it(document: Any) -> None:
    with pytest.raises(Exception) as ours:
        canonical_json(document)
    with pytest.raises(Exception) as reference:
        rfc8785.dumps(document)
    assert type(ours.value) is type(reference.value)
