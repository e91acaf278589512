"""The log's side of c2sp.org/tlog-witness: each new anchored checkpoint goes to the witnesses the
park configured (``CARBON_WITNESSES``) with a consistency proof from the size each witness last
cosigned; their cosignatures are verified, stored, and published with the checkpoint
(``GET /checkpoint``). A witness that answers 409 names the size it holds, and the log retries
once with a proof from there (after a witness lost its state, or on its first contact).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import func, select

from backend.adapters.database import Database
from backend.adapters.log_keys import LogKeyStore
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm_witness import CosignatureRow
from backend.domain.log import notes
from backend.domain.log import witness as protocol
from backend.domain.log.checkpoints import AnchorTarget
from backend.services.log import tlog

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
"""A first try from the size we believe the witness holds, and one from the size it says it holds."""


@dataclass(frozen=True)
class WitnessEndpoint:
    url: str
    """The witness's submission prefix (``add-checkpoint`` is appended)."""
    verifier: notes.Verifier


@dataclass(frozen=True)
class Outcome:
    witness: str
    tree_size: int
    status: str
    """``cosigned``, ``already`` (held before), or ``refused: <status> <reason>`` / ``failed: …``."""


def endpoints(config: list[dict[str, str]]) -> list[WitnessEndpoint]:
    out = []
    for i, item in enumerate(config):
        if not str(item.get("url", "")).startswith(("http://", "https://")):
            raise notes.NoteError("each witness has an http(s) URL", f"witnesses[{i}].url")
        verifier = notes.parse_vkey(item.get("vkey", ""))
        if verifier.sig_type != notes.SIG_COSIGNATURE_V1:
            raise notes.NoteError(
                "a witness's verifier key has type 0x04 (cosignature/v1)", f"witnesses[{i}].vkey"
            )
        out.append(WitnessEndpoint(item["url"].rstrip("/"), verifier))
    return out


def _cosigned_size(db: Database, origin: str, verifier: notes.Verifier) -> int:
    with db.read_sessions() as session:
        stmt = select(func.max(CosignatureRow.tree_size)).where(
            CosignatureRow.origin == origin,
            CosignatureRow.witness == verifier.name,
            CosignatureRow.key_id == verifier.key_id.hex(),
        )
        return int(session.execute(stmt).scalar_one_or_none() or 0)


def _proof(db: Database, old_size: int, new_size: int) -> list[bytes]:
    if old_size in (0, new_size):
        return []
    with db.read_sessions() as session:
        return SqlLogStore(session).consistency_proof(old_size, new_size)


def submit_latest(
    db: Database,
    target: AnchorTarget,
    keys: LogKeyStore,
    witnesses: list[WitnessEndpoint],
    http: httpx.Client,
    now: datetime,
) -> list[Outcome]:
    """Asks every witness that has not cosigned the latest anchored checkpoint yet to do so."""
    if not witnesses or tlog.published_size(db, target) == 0:
        return []
    published = tlog.latest_note(db, target, keys)
    checkpoint = published.checkpoint
    signed = notes.signed_checkpoint(checkpoint, keys.signers(), [])
    return [_submit(db, checkpoint, signed, w, http, now) for w in witnesses]


def _submit(
    db: Database,
    checkpoint: notes.Checkpoint,
    signed: bytes,
    witness: WitnessEndpoint,
    http: httpx.Client,
    now: datetime,
) -> Outcome:
    name, size = witness.verifier.name, checkpoint.tree_size
    old = _cosigned_size(db, checkpoint.origin, witness.verifier)
    if old == size:
        return Outcome(name, size, "already")
    for _ in range(MAX_ATTEMPTS):
        if old > size:
            return _failed(name, size, f"refused: the witness holds size {old}, beyond this log's {size}")
        body = protocol.request_body(old, _proof(db, old, size), signed)
        try:
            response = http.post(f"{witness.url}/add-checkpoint", content=body)
        except httpx.HTTPError as exc:
            return _failed(name, size, f"failed: {type(exc).__name__}: {exc}")
        if response.status_code == 409 and response.headers.get("content-type", "").startswith(
            protocol.SIZE_CONTENT_TYPE
        ):
            text = response.text.strip()
            if not text.isdigit():
                return _failed(name, size, "failed: a 409 without a tree size")
            old = int(text)
            continue
        if response.status_code != 200:
            return _failed(name, size, f"refused: {response.status_code} {response.text.strip()[:200]}")
        return _store(db, checkpoint, witness.verifier, response.content, now)
    return _failed(name, size, f"refused: the witness's size moved again ({old})")


def _failed(name: str, size: int, status: str) -> Outcome:
    logger.warning("witness %s did not cosign tree size %d: %s", name, size, status)
    return Outcome(name, size, status)


def _store(
    db: Database, checkpoint: notes.Checkpoint, verifier: notes.Verifier, body: bytes, now: datetime
) -> Outcome:
    """Keeps the response's cosignatures by this witness's key that verify; ignores the others."""
    text = checkpoint.text()
    try:
        lines = [notes.parse_signature_line(line + "\n") for line in body.decode().splitlines() if line]
        note = notes.Note(text, tuple(lines))
        good = notes.verified_signers(note, [verifier])
    except (notes.NoteError, UnicodeDecodeError) as exc:
        return _failed(verifier.name, checkpoint.tree_size, f"failed: a bad cosignature: {exc}")
    if not good:
        return _failed(verifier.name, checkpoint.tree_size, "failed: no cosignature by the configured key")
    line = next(s for s in lines if (s.name, s.key_id) == (verifier.name, verifier.key_id))
    with db.write_sessions() as session, session.begin():
        session.add(
            CosignatureRow(
                origin=checkpoint.origin, tree_size=checkpoint.tree_size, root=checkpoint.root,
                witness=verifier.name, key_id=verifier.key_id.hex(), line=line.line.rstrip("\n") + "\n",
                timestamp_s=notes.cosignature_timestamp(line), created_at=now,
            )
        )  # fmt: skip
    logger.info("witness %s cosigned tree size %d", verifier.name, checkpoint.tree_size)
    return Outcome(verifier.name, checkpoint.tree_size, "cosigned")
