"""verify-log's factor-set check: one version, one hash, in every leaf and anchored meta; built-in
versions at their released pins; activities only on sets built in, published or anchored."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from backend.services.audit.record_audit import FactorSetAudit
from emission_factors.loader import pinned_hashes, superseded_hashes

PIN = "11" * 32
OTHER = "22" * 32
OPERATOR = "33" * 32


def activity(record_id: str, version: str, digest: str) -> dict[str, Any]:
    body = {"factor_set": {"version": version, "sha256": "0x" + digest}}
    return {"kind": "activity", "id": record_id, "body": body}


def publication(version: str, digest: str) -> dict[str, Any]:
    return {"kind": "factor_set", "id": version, "body": {"version": version, "sha256": "0x" + digest}}


def meta(**sets: str) -> str:
    return json.dumps({"v": 2, "factor_sets": {v.replace("_", "-"): "0x" + d for v, d in sets.items()}})


def run(leaves: Sequence[dict[str, Any] | None], checkpoints: dict[int, str]) -> FactorSetAudit:
    audit = FactorSetAudit({"builtin-1": PIN})
    for index, record in enumerate(leaves):
        audit.leaf(index, record)
        if index + 1 in checkpoints:
            audit.checkpoint(
                len([c for c in checkpoints if c <= index + 1]), index + 1, checkpoints[index + 1]
            )
    audit.finish()
    return audit


def test_a_consistent_log_passes_and_counts_every_hash() -> None:
    leaves = [
        activity("a1", "builtin-1", PIN),
        publication("op-2", OPERATOR),
        activity("a2", "op-2", OPERATOR),
    ]
    audit = run(leaves, {3: meta(builtin_1=PIN, op_2=OPERATOR)})
    assert audit.problems == [] and audit.checked == 5


def test_a_builtin_set_off_its_pin_is_named_in_leaves_and_checkpoints() -> None:
    audit = run([None, activity("a1", "builtin-1", OTHER)], {2: meta(builtin_1=OTHER)})
    assert audit.problems == [
        f"leaf 1 (activity record a1): factor set builtin-1 has SHA-256 {OTHER}, but the released "
        f"built-in set is pinned at {PIN} (an edited built-in set)",
        f"checkpoint 1 (tree size 2): factor set builtin-1 has SHA-256 {OTHER}, but the released "
        f"built-in set is pinned at {PIN} (an edited built-in set)",
    ]


def test_an_activity_on_other_content_than_the_published_set_is_named() -> None:
    audit = run([publication("op-2", OPERATOR), activity("a1", "op-2", OTHER)], {})
    assert audit.problems == [
        f"leaf 1 (activity record a1): factor set op-2 has SHA-256 {OTHER}, but leaf 0 "
        f"(factor_set record op-2) gave {OPERATOR}"
    ]


def test_an_activity_on_a_set_never_published_nor_anchored_is_named() -> None:
    audit = run([activity("a1", "ghost-9", OTHER)], {1: meta(builtin_1=PIN)})
    assert audit.problems == [
        "leaf 0 (activity record a1): computed with factor set ghost-9, which is neither a released "
        "built-in set this tool knows nor published in the log nor anchored"
    ]


def test_a_newer_builtin_set_the_tool_does_not_know_is_accepted_when_anchored() -> None:
    # an auditor on an older release: the set is not pinned here, but the chain anchors its hash
    audit = run([activity("a1", "builtin-2", OTHER)], {1: meta(builtin_1=PIN, builtin_2=OTHER)})
    assert audit.problems == []


def test_a_hash_that_is_not_one_is_named() -> None:
    audit = run(
        [{"kind": "activity", "id": "a1", "body": {"factor_set": {"version": "builtin-1", "sha256": 7}}}], {}
    )
    assert audit.problems == ["leaf 0 (activity record a1): factor set builtin-1 is named without a SHA-256"]


def test_content_revised_before_effect_is_accepted_in_checkpoints_only() -> None:
    audit = FactorSetAudit({"builtin-1": PIN}, {"builtin-1": frozenset({OTHER})})
    audit.checkpoint(1, 1, meta(builtin_1=OTHER))  # anchored while the earlier content was scheduled
    audit.checkpoint(2, 2, meta(builtin_1=PIN))
    assert audit.problems == []
    audit.leaf(2, activity("a1", "builtin-1", OTHER))
    assert audit.problems == [
        f"leaf 2 (activity record a1): factor set builtin-1 has SHA-256 {OTHER}, content that was "
        "revised before it took effect, so nothing may have been computed with it"
    ]


def test_the_shipped_pins_read_and_park_default_2027_1_was_revised_before_effect() -> None:
    pins, superseded = pinned_hashes(), superseded_hashes()
    assert set(pins) == {"park-default-2026.1", "park-default-2027.1"}
    assert pins["park-default-2027.1"] not in superseded["park-default-2027.1"]
    assert "park-default-2026.1" not in superseded
