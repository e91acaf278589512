"""Signed notes, checkpoints and cosignatures against the C2SP specifications' own examples, and
round trips through our signer with the failures a verifier must catch."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.domain.log import notes

EXAMPLES = json.loads((Path(__file__).parents[3] / "vectors" / "c2sp" / "examples.json").read_text())


def _signer(seed: int, name: str, sig_type: int = notes.SIG_ED25519) -> notes.Signer:
    raw = random.Random(seed).randbytes(32)
    return notes.Signer(name, Ed25519PrivateKey.from_private_bytes(raw), sig_type)


def test_the_signed_note_example_verifies_with_its_vkey() -> None:
    example = EXAMPLES["signed_note"]
    verifier = notes.parse_vkey(example["vkey"])
    assert verifier.vkey == example["vkey"]  # our encoding of the same key is the spec's
    note = notes.parse_note(example["note"].encode())
    assert note.text == b"This is an example message.\n"
    assert notes.verified_signers(note, [verifier]) == [verifier]


def test_a_tampered_example_is_rejected() -> None:
    example = EXAMPLES["signed_note"]
    verifier = notes.parse_vkey(example["vkey"])
    note = notes.parse_note(example["note"].replace("example message", "exemplary message").encode())
    with pytest.raises(notes.NoteError, match="does not verify"):
        notes.verified_signers(note, [verifier])


def test_the_checkpoint_examples_parse() -> None:
    example = EXAMPLES["checkpoint"]
    note = notes.parse_note(example["note"].encode())
    checkpoint = notes.parse_checkpoint_text(note.text)
    assert checkpoint.origin == example["origin"]
    assert checkpoint.tree_size == example["tree_size"]
    assert checkpoint.root == base64.b64decode(example["root_base64"])
    assert checkpoint.text() == note.text
    cosigned = notes.parse_note(EXAMPLES["cosigned_checkpoint"]["note"].encode())
    assert [s.name for s in cosigned.signatures] == ["example.com/behind-the-sofa", "witness.example.com/w1"]
    assert len(cosigned.signatures[1].signature) == 72  # u64 timestamp + Ed25519 signature
    assert (
        notes.cosigned_message(checkpoint.text(), 1679315147).decode()
        == (EXAMPLES["cosigned_checkpoint"]["signed_message_example"])
    )


def test_key_ids_follow_the_spec() -> None:
    signer = _signer(1, "park.example/log")
    public = signer.verifier.public_key
    import hashlib

    assert signer.verifier.key_id == hashlib.sha256(b"park.example/log\n\x01" + public).digest()[:4]
    cosigner = _signer(1, "park.example/log", notes.SIG_COSIGNATURE_V1)
    assert cosigner.verifier.key_id != signer.verifier.key_id  # same key, other type, other ID


def test_a_signed_checkpoint_round_trips_and_unknown_keys_are_ignored() -> None:
    log, other = _signer(1, "park.example/log"), _signer(2, "park.example/log")
    witness = _signer(3, "city.example/witness", notes.SIG_COSIGNATURE_V1)
    checkpoint = notes.Checkpoint("park.example/log", 42, bytes(range(32)))
    cosig = witness.cosignature_line(checkpoint.text(), 1_800_000_000)
    data = notes.signed_checkpoint(checkpoint, [log], [cosig])
    note = notes.parse_note(data)
    assert notes.parse_checkpoint_text(note.text) == checkpoint
    assert notes.verified_signers(note, [log.verifier, other.verifier]) == [log.verifier]
    assert notes.verified_signers(note, [witness.verifier]) == [witness.verifier]
    assert notes.cosignature_timestamp(note.signatures[1]) == 1_800_000_000


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"o\n01\n" + base64.b64encode(bytes(32)) + b"\n", "leading zeroes"),
        (b"o\n1\n" + base64.b64encode(bytes(31)) + b"\n", "32 bytes"),
        (b"o\n1\n" + base64.b64encode(bytes(32)) + b"\next\n", "exactly three lines"),
        (b"o o\n1\n" + base64.b64encode(bytes(32)) + b"\n", "without spaces"),
    ],
)
def test_malformed_checkpoints_are_refused(text: bytes, reason: str) -> None:
    with pytest.raises(notes.NoteError, match=reason):
        notes.parse_checkpoint_text(text)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"text\n\xe2\x80\x94 k AAAAAAA=\n", "no blank line"),
        (b"text\n\n", "no signature lines"),
        (b"text\n\n- k AAAAAAA=\n", "signature line"),
        (b"te\x01xt\n\n\xe2\x80\x94 k AAAAAAA=\n", "control character"),
        (b"text\n\n\xe2\x80\x94 k AAAA\n", "4-byte key ID"),
    ],
)
def test_malformed_notes_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(notes.NoteError, match=reason):
        notes.parse_note(data)


def test_a_vkey_whose_id_does_not_match_is_refused() -> None:
    vkey = EXAMPLES["signed_note"]["vkey"].replace("530d903a", "530d903b")
    with pytest.raises(notes.NoteError, match="key ID does not match"):
        notes.parse_vkey(vkey)


def test_the_specs_add_checkpoint_request_parses_and_an_unknown_log_is_404() -> None:
    from backend.domain.log import witness

    submission = witness.parse_submission(EXAMPLES["add_checkpoint_request"].encode())
    assert submission.old_size == 20852014
    assert len(submission.proof) == 4
    assert submission.checkpoint.tree_size == 20852163
    assert len(submission.note.signatures) == 2
    verdict = witness.decide(submission, None, None)
    assert verdict.status == witness.Status.UNKNOWN_LOG
    unrelated = _signer(9, "example.com/behind-the-sofa").verifier  # right name, wrong key
    assert witness.decide(submission, [unrelated], None).status == witness.Status.FORBIDDEN
    with pytest.raises(witness.BadSubmission, match="old <size>"):
        witness.parse_submission(EXAMPLES["add_checkpoint_request"].replace("old ", "old 0", 1).encode())
