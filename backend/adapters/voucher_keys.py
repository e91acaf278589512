"""The park's voucher-signing key: ECDSA P-256, created once in the data dir (``voucher-signing.key``,
PKCS #8 PEM, mode 0600) and backed up with the other keys. Signatures are raw r‖s in base64url
(what WebCrypto's ECDSA verify takes); the public key is published as a JWK."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

KEY_FILE = "voucher-signing.key"
_COORDINATE_BYTES = 32


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VoucherSigner:
    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key

    @classmethod
    def load_or_create(cls, data_dir: Path) -> VoucherSigner:
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.unlink(missing_ok=True)  # a crashed start's leftover; O_EXCL below makes a fresh file
            # Created with mode 0600 in the same call: the key is never on disk readable by others.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            try:  # the first writer wins: API workers starting together all read the same key
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"{path} is not an ECDSA P-256 key")
        return cls(key)

    def sign(self, text: str) -> str:
        r, s = decode_dss_signature(self._key.sign(text.encode(), ec.ECDSA(hashes.SHA256())))
        return _b64url(r.to_bytes(_COORDINATE_BYTES, "big") + s.to_bytes(_COORDINATE_BYTES, "big"))

    def verify(self, text: str, signature: str) -> bool:
        try:
            raw = _unb64url(signature)
        except ValueError:
            return False
        if len(raw) != 2 * _COORDINATE_BYTES:
            return False
        der = encode_dss_signature(
            int.from_bytes(raw[:_COORDINATE_BYTES], "big"), int.from_bytes(raw[_COORDINATE_BYTES:], "big")
        )
        try:
            self._key.public_key().verify(der, text.encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    def secret_texts(self) -> list[str]:
        """The private key as it may be written out (PEM, its base64 lines, the scalar in hex), for
        log redaction."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        scalar = self._key.private_numbers().private_value.to_bytes(_COORDINATE_BYTES, "big").hex()
        return [pem, *pem.splitlines()[1:-1], scalar]

    def public_jwk(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x.to_bytes(_COORDINATE_BYTES, "big")),
            "y": _b64url(numbers.y.to_bytes(_COORDINATE_BYTES, "big")),
            "alg": "ES256",
            "use": "sig",
        }
