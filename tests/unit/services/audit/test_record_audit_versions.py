"""verify-log's record replay over leaves of both envelope versions (pure: no database, no API)."""

from __future__ import annotations

import json
from typing import Any

from backend.domain.log.record_kinds import PointsTransferBody, encode
from backend.domain.log.records import leaf_bytes
from backend.services.audit.record_audit import RecordAudit
from tests.unit.domain.log.test_record_kinds import SALT, SAMPLES, SUBJECT

ACTIVITY = {k: v for k, v in SAMPLES["activity"].to_json().items() if k != "recorded_at"}


def _stored_activity(index: int, record_id: str, status: str, points: int) -> dict[str, Any]:
    return {
        **ACTIVITY,
        "leaf_index": index,
        "kind": "activity",
        "id": record_id,
        "subject": SUBJECT,
        "status": status,
        "points": points,
        "factor_set": ACTIVITY["factor_set"]["version"],
    }


def _replay(leaves: list[bytes], stored: list[dict[str, Any]]) -> list[str]:
    audit = RecordAudit(iter(stored))
    for index, leaf in enumerate(leaves):
        audit.leaf(index, json.loads(leaf), leaf)
    audit.finish()
    return audit.problems


def test_a_version_1_activity_with_its_points_and_a_version_2_one_replay_together() -> None:
    old = leaf_bytes("activity", "a-0", SALT, SUBJECT, {**ACTIVITY, "status": "accepted", "points": 10})
    new = encode("a-1", SUBJECT, SAMPLES["activity"], salt=SALT)  # flagged, no points in the body
    issuance = encode(
        "t-1",
        SUBJECT,
        PointsTransferBody(
            kind="issuance",
            debit="park:issuance",
            credit="employee",
            amount=7,
            reason_code=None,
            reverses=None,
            activity="a-1",
            redemption=None,
            org="acme",
            details={},
            at="2026-03-04T05:06:07+00:00",
        ),
        salt=SALT,
    )
    transfer = {
        "leaf_index": 2,
        "kind": "points_transfer",
        "id": "t-1",
        "subject": SUBJECT,
        "transfer_kind": "issuance",
        "debit": "park:issuance",
        "credit": "employee",
        "amount": 7,
        "reason_code": None,
        "reverses": None,
        "activity": "a-1",
        "redemption": None,
    }
    stored = [_stored_activity(0, "a-0", "accepted", 10), _stored_activity(1, "a-1", "flagged", 7), transfer]
    assert _replay([old, new, issuance], stored) == []

    edited = [_stored_activity(0, "a-0", "accepted", 11), *stored[1:]]
    problems = _replay([old, new, issuance], edited)
    assert any("activity record a-0" in p and "points" in p for p in problems), problems


def test_a_version_2_leaf_that_is_not_canonical_is_named() -> None:
    leaf = encode("a-1", SUBJECT, SAMPLES["activity"], salt=SALT).replace(b'"v":2', b'"v": 2')
    problems = _replay([leaf], [_stored_activity(0, "a-1", "flagged", 0)])
    assert problems == [
        "leaf 0 (activity record a-1): not a well-formed record: not in canonical form (RFC 8785)"
    ]
