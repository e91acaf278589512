"""C2SP signed notes, tlog checkpoints and tlog cosignatures (Ed25519), as bytes in and bytes out.

* c2sp.org/signed-note: a text, a blank line, then lines ``— <key name> base64(key ID || sig)``;
  the key ID is ``SHA-256(name || 0x0A || type || public key)[:4]``; a verifier key (vkey) is
  ``<name>+<hex key ID>+base64(type || public key)``. Type 0x01 signs the note text with Ed25519.
* c2sp.org/tlog-checkpoint: the note text is ``<origin>\\n<tree size>\\n<base64 root>\\n``.
* c2sp.org/tlog-cosignature (v1, type 0x04): a witness signs ``cosignature/v1\\ntime <t>\\n`` followed
  by the checkpoint text; the signature is ``key ID || u64 timestamp || Ed25519 signature``.

Pure (no I/O); the log, the witness and the offline verifier share it. The formats are frozen by
those specifications: a change here is a change of the public interface.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from backend.domain.errors import InvalidInput

SIG_ED25519 = 0x01
"""Signature type of a log's own Ed25519 note signature (c2sp.org/signed-note)."""
SIG_COSIGNATURE_V1 = 0x04
"""Signature type of a timestamped Ed25519 witness cosignature (c2sp.org/tlog-cosignature)."""

MAX_NOTE_BYTES = 64 * 1024
"""A checkpoint with a few dozen signatures is ~5 KiB; anything far larger is refused unparsed."""
MAX_SIGNATURES = 64
"""The spec asks verifiers to accept at least 16 signatures; more than this is refused."""
MAX_ORIGIN_CHARS = 255

_DASH = "\u2014 "
_NAME_RE = re.compile(r"^[^\s+]+$")
_BASE64_RE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


class NoteError(InvalidInput):
    """A note, checkpoint, signature or verifier key that does not follow its format."""

    def __init__(self, reason: str, field: str = "note") -> None:
        super().__init__(field, reason)


def b64decode(text: str, what: str) -> bytes:
    if not _BASE64_RE.match(text):
        raise NoteError(f"{what} is not standard base64")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise NoteError(f"{what} is not standard base64: {exc}") from exc


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """The 4-byte key ID the specification recommends (and tlog-cosignature requires)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def check_key_name(name: str) -> str:
    if not name or not _NAME_RE.match(name) or len(name) > MAX_ORIGIN_CHARS:
        raise NoteError("must be non-empty, at most 255 characters, without spaces or '+'", "key name")
    return name


def _raw_public(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A public key under a name, for one signature type: what a vkey encodes."""

    name: str
    sig_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.sig_type, self.public_key)

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([self.sig_type]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_vkey(vkey: str) -> Verifier:
    """``name+hexid+base64(type || key)``; the ID must be the one the name and key imply."""
    parts = vkey.strip().split("+", 2)  # the base64 key may contain "+" itself
    if len(parts) != 3:
        raise NoteError("a verifier key is name+keyid+base64key", "vkey")
    name, hex_id, material = parts
    check_key_name(name)
    raw = b64decode(material, "the verifier key")
    if len(raw) != 33 or raw[0] not in (SIG_ED25519, SIG_COSIGNATURE_V1):
        raise NoteError("only Ed25519 (type 0x01) and cosignature/v1 (0x04) keys are supported", "vkey")
    verifier = Verifier(name, raw[0], raw[1:])
    if verifier.key_id.hex() != hex_id.lower():
        raise NoteError("the key ID does not match the key name and key", "vkey")
    return verifier


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key under a name; signs notes (type 0x01) or cosignatures (0x04)."""

    name: str
    private_key: Ed25519PrivateKey
    sig_type: int = SIG_ED25519

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.sig_type, _raw_public(self.private_key))

    def signature_line(self, text: bytes) -> str:
        """The note signature line over ``text`` (type 0x01)."""
        assert self.sig_type == SIG_ED25519
        sig = self.verifier.key_id + self.private_key.sign(text)
        return f"{_DASH}{self.name} {b64(sig)}\n"

    def cosignature_line(self, checkpoint_text: bytes, timestamp_s: int) -> str:
        """A tlog-cosignature/v1 line over a checkpoint's text at ``timestamp_s`` (type 0x04)."""
        assert self.sig_type == SIG_COSIGNATURE_V1
        message = cosigned_message(checkpoint_text, timestamp_s)
        sig = self.verifier.key_id + struct.pack(">Q", timestamp_s) + self.private_key.sign(message)
        return f"{_DASH}{self.name} {b64(sig)}\n"


def cosigned_message(checkpoint_text: bytes, timestamp_s: int) -> bytes:
    if not 0 < timestamp_s < 1 << 63:
        raise NoteError("a cosignature's timestamp must be in (0, 2^63)", "timestamp")
    return b"cosignature/v1\ntime %d\n" % timestamp_s + checkpoint_text


@dataclass(frozen=True)
class SignatureLine:
    name: str
    key_id: bytes
    signature: bytes
    line: str


@dataclass(frozen=True)
class Note:
    text: bytes
    signatures: tuple[SignatureLine, ...]


def parse_note(data: bytes) -> Note:
    """Splits a signed note at its last blank line; checks the format, not the signatures."""
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError(f"larger than {MAX_NOTE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteError("not valid UTF-8") from exc
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("contains a control character other than newline")
    if not text.endswith("\n"):
        raise NoteError("does not end in a newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteError("has no blank line before its signatures")
    body, sig_block = text[: split + 1], text[split + 2 :]
    lines = sig_block.split("\n")[:-1]
    if not lines:
        raise NoteError("has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"has more than {MAX_SIGNATURES} signatures")
    return Note(body.encode(), tuple(parse_signature_line(line + "\n") for line in lines))


def parse_signature_line(line: str) -> SignatureLine:
    if not line.startswith(_DASH) or not line.endswith("\n"):
        raise NoteError("a signature line is '\u2014 <name> <base64>' ending in a newline")
    fields = line[len(_DASH) : -1].split(" ")
    if len(fields) != 2:
        raise NoteError("a signature line has a key name and a signature, separated by one space")
    name, encoded = fields
    check_key_name(name)
    raw = b64decode(encoded, "a signature")
    if len(raw) < 5:
        raise NoteError("a signature is a 4-byte key ID and at least one byte")
    return SignatureLine(name, raw[:4], raw[4:], line)


def verified_signers(note: Note, verifiers: list[Verifier]) -> list[Verifier]:
    """The known keys whose signatures verify. Unknown keys are ignored; a known key with a bad
    signature makes the whole note invalid, as the specification asks."""
    good: list[Verifier] = []
    for line in note.signatures:
        for verifier in verifiers:
            if (line.name, line.key_id) != (verifier.name, verifier.key_id):
                continue
            if not _verify_line(verifier, note.text, line):
                raise NoteError(f"the signature of {verifier.name} does not verify")
            good.append(verifier)
    return good


def _verify_line(verifier: Verifier, text: bytes, line: SignatureLine) -> bool:
    if verifier.sig_type == SIG_ED25519:
        return len(line.signature) == 64 and verifier.verify(text, line.signature)
    if len(line.signature) != 72:
        return False
    (timestamp_s,) = struct.unpack(">Q", line.signature[:8])
    if not 0 < timestamp_s < 1 << 63:
        return False
    return verifier.verify(cosigned_message(text, timestamp_s), line.signature[8:])


def cosignature_timestamp(line: SignatureLine) -> int:
    return int(struct.unpack(">Q", line.signature[:8])[0]) if len(line.signature) == 72 else 0


# --- checkpoints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root: bytes

    def text(self) -> bytes:
        return f"{self.origin}\n{self.tree_size}\n{b64(self.root)}\n".encode()


def parse_checkpoint_text(text: bytes) -> Checkpoint:
    """The three mandatory lines of a checkpoint's text; extension lines are refused (this log
    never writes any, and a witness signs only what it understood)."""
    lines = text.decode().split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise NoteError("a checkpoint here has exactly three lines: origin, tree size, root", "checkpoint")
    origin, size_text, root_text = lines[:3]
    check_key_name(origin)
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")) or len(size_text) > 19:
        raise NoteError("the tree size is a decimal number without leading zeroes", "checkpoint")
    root = b64decode(root_text, "the root hash")
    if len(root) != 32:
        raise NoteError("the root hash is 32 bytes", "checkpoint")
    return Checkpoint(origin, int(size_text), root)


def signed_checkpoint(checkpoint: Checkpoint, signers: list[Signer], cosignature_lines: list[str]) -> bytes:
    """The checkpoint note: text, blank line, the log's signatures, then any witness cosignatures."""
    text = checkpoint.text()
    lines = [signer.signature_line(text) for signer in signers] + list(cosignature_lines)
    return text + b"\n" + "".join(lines).encode()
