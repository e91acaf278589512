"""The log's Ed25519 checkpoint-signing keys, kept in one file in the data directory.

Stored like the subject-commitment key: generated on first use, written to a temporary file with
mode 600 and renamed into place; outside local mode a file other users can read is refused
(:func:`backend.bootstrap.key_safety.key_file_problems`). The file holds every key the log has used, newest
first; checkpoints are signed by each key that is not retired, so after ``carbon-ledger log
rotate-key`` a checkpoint carries the new and the old signature until the old key is retired and
verifiers (witnesses, auditors) have the new verifier key. A running server notices a rotation
by the file's inode (each write renames a new file into place).

The file also keeps the default origin (``carbon-ledger.local/<random>``) chosen when the file was
created, so a park that never set ``CARBON_LOG_ORIGIN`` keeps one stable, unique log identity.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from backend.domain.errors import ConfigurationError, NotFound
from backend.domain.log.notes import Signer, Verifier, check_key_name

FORMAT_VERSION = 1
DEFAULT_ORIGIN_PREFIX = "carbon-ledger.local/"


@dataclass(frozen=True)
class LogKey:
    seed: bytes
    created_at: str
    retired_at: str | None

    def signer(self, name: str) -> Signer:
        return Signer(name, Ed25519PrivateKey.from_private_bytes(self.seed))


def _new_key(now: datetime) -> LogKey:
    seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return LogKey(seed, now.isoformat(), None)


class LogKeyStore:
    """The key file at ``path``; the origin is ``origin`` when set, else the file's default."""

    def __init__(self, path: Path, origin: str | None = None) -> None:
        self.path = path
        self._origin = check_key_name(origin) if origin else None
        self._lock = threading.Lock()
        self._cache: tuple[tuple[int, int], str, list[LogKey]] | None = None

    def _load(self) -> tuple[str, list[LogKey]]:
        with self._lock:
            if not self.path.exists():
                self._write(DEFAULT_ORIGIN_PREFIX + secrets.token_hex(6), [_new_key(datetime.now(UTC))])
            info = self.path.stat()
            version = (info.st_ino, info.st_mtime_ns)  # each write renames a new file into place
            if self._cache is None or self._cache[0] != version:
                data = json.loads(self.path.read_text())
                if data.get("version") != FORMAT_VERSION:
                    raise ConfigurationError(f"{self.path}: unknown log key file version")
                keys = [
                    LogKey(bytes.fromhex(k["seed"]), k["created_at"], k.get("retired_at"))
                    for k in data["keys"]
                ]
                self._cache = (version, data["default_origin"], keys)
            return self._cache[1], self._cache[2]

    def _write(self, default_origin: str, keys: list[LogKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "default_origin": default_origin,
            "keys": [
                {"seed": k.seed.hex(), "created_at": k.created_at, "retired_at": k.retired_at} for k in keys
            ],
        }
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(body, indent=1))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)
        self._cache = None

    @property
    def origin(self) -> str:
        return self._origin or self._load()[0]

    def signers(self) -> list[Signer]:
        """The keys checkpoints are signed with now, newest first."""
        _, keys = self._load()
        return [k.signer(self.origin) for k in keys if k.retired_at is None]

    def verifiers(self) -> list[tuple[Verifier, LogKey]]:
        _, keys = self._load()
        return [(k.signer(self.origin).verifier, k) for k in keys]

    def secret_texts(self) -> list[str]:
        """Every key's seed (retired ones too) as it may be written out, hex and base64, for log
        redaction."""
        _, keys = self._load()
        return [text for k in keys for text in (k.seed.hex(), base64.b64encode(k.seed).decode())]

    def rotate(self, now: datetime) -> Verifier:
        """Adds a new key (signing from now on, alongside the keys not yet retired)."""
        origin, keys = self._load()
        key = _new_key(now)
        with self._lock:
            self._write(origin, [key, *keys])
        return key.signer(self.origin).verifier

    def retire(self, key_id_hex: str, now: datetime) -> Verifier:
        """Stops signing with a key; the newest key cannot be retired (something must sign)."""
        origin, keys = self._load()
        matches = [i for i, k in enumerate(keys) if k.signer(self.origin).verifier.key_id.hex() == key_id_hex]
        if not matches:
            raise NotFound(f"no log key has the key ID {key_id_hex}")
        index = matches[0]
        if index == 0:
            raise ConfigurationError("the newest log key cannot be retired; rotate first")
        old = keys[index]
        keys = [*keys]
        keys[index] = LogKey(old.seed, old.created_at, old.retired_at or now.isoformat())
        with self._lock:
            self._write(origin, keys)
        return old.signer(self.origin).verifier
