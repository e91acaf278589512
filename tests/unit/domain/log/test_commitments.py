"""Commitments to free text: the documented encoding, byte for byte, and what it hides."""

from __future__ import annotations

import pytest

from backend.domain.log.commitments import (
    commit_optional,
    commit_text,
    committed_quantities,
    is_commitment,
    new_subject_key,
    opens,
)

KEY = bytes(range(32))


def test_golden_encoding() -> None:
    # HMAC-SHA256(key 00..1f, "carbon-ledger/text/v1" 00 "reason" 00 UTF-8 text), computed independently
    assert commit_text(KEY, "reason", "电话 13800138000") == (
        "hmac-sha256:52bef8e026d80c47e95bf7053100f17a76cdaa02b625a26264feada15fb9d948"
    )


def test_field_and_key_separate_commitments() -> None:
    text = "13800138000"
    assert commit_text(KEY, "reason", text) != commit_text(KEY, "note", text)
    assert commit_text(KEY, "reason", text) != commit_text(new_subject_key(), "reason", text)
    assert opens(commit_text(KEY, "note", text), KEY, "note", text)
    assert not opens(commit_text(KEY, "note", text), KEY, "note", text + " ")
    assert commit_optional(KEY, "note", None) is None


def test_shape_and_key_length() -> None:
    assert is_commitment(commit_text(KEY, "reason", "x"))
    assert not is_commitment("hmac-sha256:XYZ") and not is_commitment(None)
    assert len(new_subject_key()) == 32 and new_subject_key() != new_subject_key()
    with pytest.raises(ValueError):
        commit_text(b"short", "reason", "x")


def test_quantities_commit_free_text_only() -> None:
    quantities = {
        "distance_km": "8",
        "evidence_ref": "photo 1",
        "source_record_id": "PNR1",
        "purpose": "commute",
    }
    committed = committed_quantities(KEY, quantities)
    assert committed["distance_km"] == "8" and committed["purpose"] == "commute"
    assert committed["evidence_ref"] == commit_text(KEY, "evidence_ref", "photo 1")
    assert committed["source_record_id"] == commit_text(KEY, "source_record_id", "PNR1")
    assert quantities["evidence_ref"] == "photo 1"  # the stored quantities are not changed
    assert committed_quantities(None, {"evidence_ref": "hmac-sha256:" + "0" * 64})["evidence_ref"].endswith(
        "0"
    )
