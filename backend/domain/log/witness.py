"""A C2SP tlog-witness's decision on an ``add-checkpoint`` request, without I/O.

The request body is ``old <size>\\n``, up to 63 base64 consistency-proof lines, a blank line, then
the signed checkpoint. The witness answers, in the specification's order of checks:

* 400 — a malformed body, or an old size above the checkpoint's;
* 404 — a log (origin) the witness was not configured for;
* 403 — no signature of a trusted key for that origin, or one that does not verify;
* 409 — the old size is not the size of the latest checkpoint it cosigned for that log (the body
  is that size, so the log can retry with the right proof): this is how a *split view* — a second
  checkpoint that does not extend the one the witness holds — is refused;
* 422 — a proof that does not verify, a non-empty proof from size 0, or the same size with
  another root (a fork of the log);
* 200 — the cosignature lines, after the new state is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from backend.domain.errors import ProofError
from backend.domain.log import merkle, notes

MAX_PROOF_LINES = 63
MAX_REQUEST_BYTES = notes.MAX_NOTE_BYTES + (MAX_PROOF_LINES + 1) * 64
SIZE_CONTENT_TYPE = "text/x.tlog.size"


class Status(IntEnum):
    OK = 200
    BAD_REQUEST = 400
    FORBIDDEN = 403
    UNKNOWN_LOG = 404
    CONFLICT = 409
    INCONSISTENT = 422


@dataclass(frozen=True)
class Submission:
    old_size: int
    proof: list[bytes]
    note: notes.Note
    checkpoint: notes.Checkpoint


@dataclass(frozen=True)
class LogState:
    """What the witness holds for one log: the latest checkpoint it cosigned."""

    tree_size: int
    root: bytes


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str
    latest_size: int | None = None
    """For a 409: the size the log must prove consistency from."""


class BadSubmission(ValueError):
    pass


def parse_submission(body: bytes) -> Submission:
    if len(body) > MAX_REQUEST_BYTES:
        raise BadSubmission(f"the request is larger than {MAX_REQUEST_BYTES} bytes")
    head, sep, note_bytes = body.partition(b"\n\n")
    if not sep:
        raise BadSubmission("no blank line between the consistency proof and the checkpoint")
    lines = head.split(b"\n")
    old = lines[0].decode("ascii", "replace")
    size_text = old.removeprefix("old ")
    if not old.startswith("old ") or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
        raise BadSubmission("the first line is 'old <size>' without leading zeroes")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise BadSubmission(f"more than {MAX_PROOF_LINES} consistency proof lines")
    try:
        proof = [notes.b64decode(line.decode("ascii"), "a proof line") for line in lines[1:]]
        note = notes.parse_note(note_bytes)
        checkpoint = notes.parse_checkpoint_text(note.text)
    except (notes.NoteError, UnicodeDecodeError) as exc:
        raise BadSubmission(str(exc)) from exc
    if any(len(p) != merkle.HASH_SIZE for p in proof):
        raise BadSubmission("each consistency proof line is a 32-byte hash")
    return Submission(int(size_text), proof, note, checkpoint)


def decide(submission: Submission, log_keys: list[notes.Verifier] | None, state: LogState | None) -> Verdict:
    """What the witness answers; ``log_keys`` None means the origin is unknown to it."""
    checkpoint = submission.checkpoint
    if submission.old_size > checkpoint.tree_size:
        return Verdict(Status.BAD_REQUEST, "the old size is larger than the checkpoint's")
    if log_keys is None:
        return Verdict(Status.UNKNOWN_LOG, f"unknown log {checkpoint.origin}")
    try:
        if not notes.verified_signers(submission.note, log_keys):
            return Verdict(Status.FORBIDDEN, "no signature by a key trusted for this log")
    except notes.NoteError as exc:
        return Verdict(Status.FORBIDDEN, exc.reason)
    latest = state.tree_size if state else 0
    if submission.old_size != latest:
        return Verdict(Status.CONFLICT, f"the latest cosigned size is {latest}", latest)
    if checkpoint.tree_size == 0 and checkpoint.root != merkle.EMPTY_ROOT:
        return Verdict(Status.INCONSISTENT, "a tree of size 0 has the empty tree's root")
    if submission.old_size == 0:
        if submission.proof:
            return Verdict(Status.INCONSISTENT, "a proof from size 0 must be empty")
        return Verdict(Status.OK, "first checkpoint of this log")
    assert state is not None
    try:
        merkle.verify_consistency(
            state.tree_size, checkpoint.tree_size, submission.proof, state.root, checkpoint.root
        )
    except ProofError as exc:
        return Verdict(Status.INCONSISTENT, f"not consistent with the cosigned size {latest}: {exc.detail}")
    return Verdict(Status.OK, "consistent")


def request_body(old_size: int, proof: list[bytes], signed_note: bytes) -> bytes:
    """What a log sends (the client side)."""
    head = f"old {old_size}\n" + "".join(notes.b64(p) + "\n" for p in proof)
    return head.encode() + b"\n" + signed_note
