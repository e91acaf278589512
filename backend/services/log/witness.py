"""The witness a city platform or an audit firm runs (``carbon-ledger witness serve``).

It is configured with its own name and Ed25519 key and with the logs it watches (each log's
verifier keys, whose name is the log's origin). For each log it keeps only the latest checkpoint it
cosigned; a checkpoint is cosigned (c2sp.org/tlog-cosignature, v1) only when it is proven to
extend that one — a forked log, which shows one party a history and another party a rewritten one,
is refused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.adapters.witness_state import WitnessState
from backend.domain.log import notes
from backend.domain.log import witness as protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


def load_witness_key(path: Path) -> Ed25519PrivateKey:
    """The witness's Ed25519 seed (hex) at ``path``, created with mode 600 on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        tmp.replace(path)
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(path.read_text().strip()))


@dataclass
class Witness:
    name: str
    key: Ed25519PrivateKey
    logs: dict[str, list[notes.Verifier]]
    """Trusted log keys by origin (a log's key name is its origin)."""
    state: WitnessState
    clock: Callable[[], float] = field(default=time.time)

    @property
    def signer(self) -> notes.Signer:
        return notes.Signer(self.name, self.key, notes.SIG_COSIGNATURE_V1)

    @classmethod
    def from_vkeys(cls, name: str, key: Ed25519PrivateKey, vkeys: list[str], state: WitnessState) -> Witness:
        logs: dict[str, list[notes.Verifier]] = {}
        for vkey in vkeys:
            verifier = notes.parse_vkey(vkey)
            if verifier.sig_type != notes.SIG_ED25519:
                raise notes.NoteError("a log's verifier key has signature type 0x01 (Ed25519)", "vkey")
            logs.setdefault(verifier.name, []).append(verifier)
        return cls(notes.check_key_name(name), key, logs, state)

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            submission = protocol.parse_submission(body)
        except protocol.BadSubmission as exc:
            return Answer(400, f"{exc}\n".encode())
        origin = submission.checkpoint.origin
        trusted = self.logs.get(origin)

        def decide(current: protocol.LogState | None) -> tuple[Answer, protocol.LogState | None, bytes]:
            verdict = protocol.decide(submission, trusted, current)
            if verdict.status == protocol.Status.CONFLICT:
                size = f"{verdict.latest_size}\n".encode()
                return Answer(409, size, protocol.SIZE_CONTENT_TYPE), None, b""
            if verdict.status != protocol.Status.OK:
                return Answer(int(verdict.status), f"{verdict.reason}\n".encode()), None, b""
            line = self.signer.cosignature_line(submission.note.text, int(self.clock()))
            assert trusted is not None
            log_lines = [s.line for s in submission.note.signatures if _by(s, trusted)]
            note = submission.note.text + b"\n" + "".join([*log_lines, line]).encode()
            new = protocol.LogState(submission.checkpoint.tree_size, submission.checkpoint.root)
            return Answer(200, line.encode()), new, note

        answer = self.state.update(origin, decide)
        if answer.status != 200:
            logger.warning(
                "refused a checkpoint of %s at size %d: %s %s",
                origin, submission.checkpoint.tree_size, answer.status, answer.body.decode().strip(),
            )  # fmt: skip
        return answer

    def checkpoint_for(self, origin_hash: str) -> bytes | None:
        for origin in self.logs:
            if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                return self.state.latest_note(origin)
        return None


def _by(line: notes.SignatureLine, verifiers: list[notes.Verifier]) -> bool:
    return any((line.name, line.key_id) == (v.name, v.key_id) for v in verifiers)
