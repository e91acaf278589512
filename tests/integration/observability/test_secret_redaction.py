"""What ``serve`` registers for log redaction: the settings' secrets and the keys the runtime loads
from files (voucher and log signing keys included), so no log line can carry them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.adapters.database import Database
from backend.adapters.voucher_keys import KEY_FILE
from backend.entrypoints.cli import ops
from backend.observability.logging import REDACTED, redact
from tests.integration.api_harness import Api


def test_signing_keys_and_the_feed_secret_are_redacted(db: Database, tmp_path: Path) -> None:
    feed_secret = "feed-hmac-" + base64.urlsafe_b64encode(tmp_path.name.encode()).decode()
    api = Api(db, tmp_path, park_platform_secret=feed_secret)
    runtime = api.runtime
    runtime.log_keys.rotate(datetime.now(UTC))  # an older key still verifies: both are secrets
    seeds = [key.seed for _verifier, key in runtime.log_keys.verifiers()]
    runtime.voucher_signer.public_jwk()  # created on first use
    pem = (tmp_path / KEY_FILE).read_text()
    voucher_key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(voucher_key, ec.EllipticCurvePrivateKey)
    scalar = voucher_key.private_numbers().private_value.to_bytes(32, "big").hex()
    secrets = [feed_secret, pem, *pem.splitlines()[1:-1], scalar, *(s.hex() for s in seeds)]
    secrets += [base64.b64encode(s).decode() for s in seeds]

    ops.register_settings_secrets(runtime.settings)
    ops.register_runtime_secrets(runtime)

    for secret in secrets:
        line = redact(f"loaded {secret} from the data dir")
        assert secret not in line and REDACTED in line, line
