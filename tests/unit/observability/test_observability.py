"""Logs (JSON, request ids, redaction), metric label bounds, and the dev-key refusal."""

from __future__ import annotations

import io
import json
import logging
import stat
from pathlib import Path

import pytest
from eth_account import Account

from backend.adapters.anvil import ANVIL_DEFAULT_KEY_0
from backend.bootstrap import key_safety
from backend.bootstrap.settings import Settings
from backend.domain.errors import ChainError
from backend.observability import jobs, metrics
from backend.observability.context import acceptable_request_id, bound_request_id, current_request_id
from backend.observability.logging import REDACTED, build_handler, redact, register_secret

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def _capture(fmt: str = "json") -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger(f"test.observability.{fmt}")
    logger.handlers = [build_handler(fmt, stream)]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_json_lines_carry_the_request_id_and_extra_fields() -> None:
    logger, stream = _capture()
    with bound_request_id("req-12345678"):
        logger.info("recorded %d", 3, extra={"route": "/mp/v1/activities"})
    logger.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "recorded 3" and first["request_id"] == "req-12345678"
    assert first["route"] == "/mp/v1/activities" and first["level"] == "INFO"
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert second["request_id"] is None and current_request_id() is None


def test_secrets_tokens_and_keys_are_redacted_in_messages_extras_and_tracebacks() -> None:
    secret = "s3cr3t-token-secret-value-0123456789"
    register_secret(secret, ANVIL_DEFAULT_KEY_0)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJlbXAtMDAxIn0.c2lnbmF0dXJlLWJ5dGVz"
    logger, stream = _capture()
    logger.warning("secret=%s key=%s", secret, ANVIL_DEFAULT_KEY_0.removeprefix("0x").upper())
    logger.info("header", extra={"auth": f"Bearer {jwt}", "nested": {"k": [secret]}})
    try:
        raise ChainError(f"signing with {ANVIL_DEFAULT_KEY_0} failed")
    except ChainError:
        logger.exception("boom")
    text = stream.getvalue()
    assert secret not in text and jwt not in text
    assert ANVIL_DEFAULT_KEY_0[2:] not in text.lower()
    assert text.count(REDACTED) >= 5
    assert redact("a Bearer abcdefgh12345678 b") == f"a Bearer {REDACTED} b"


def test_text_format_is_redacted_too() -> None:
    register_secret("another-secret-value-xyz")
    logger, stream = _capture("text")
    logger.info("value another-secret-value-xyz")
    assert "another-secret-value-xyz" not in stream.getvalue() and REDACTED in stream.getvalue()


@pytest.mark.parametrize(
    ("given", "kept"),
    [("abcdef12-3456", True), ("short", False), ("x" * 65, False), ("bad id with spaces", False)],
)
def test_only_safe_client_request_ids_are_kept(given: str, kept: bool) -> None:
    assert (acceptable_request_id(given) == given) is kept


def test_label_values_are_bounded() -> None:
    assert metrics.bounded_label("t-label", "has space") == "invalid"
    values = [metrics.bounded_label("t-label", f"v{i}") for i in range(metrics.MAX_LABEL_VALUES + 5)]
    assert values[: metrics.MAX_LABEL_VALUES] == [f"v{i}" for i in range(metrics.MAX_LABEL_VALUES)]
    assert set(values[metrics.MAX_LABEL_VALUES :]) == {"other"}
    assert metrics.bounded_label("t-label", "v0") == "v0"


def _sample(name: str, labels: dict[str, str]) -> float:
    value = metrics.REGISTRY.get_sample_value(name, labels)
    return value or 0.0


def test_instrumented_job_counts_runs_failures_and_binds_a_request_id() -> None:
    seen: list[str | None] = []

    def ok() -> None:
        seen.append(current_request_id())

    def failing() -> None:
        raise ChainError("node down")

    before = {
        o: _sample("carbon_ledger_job_runs_total", {"job_id": "t-job", "outcome": o})
        for o in ("success", "failure")
    }
    jobs.instrumented("t-job", ok)()
    jobs.instrumented("t-job", failing)()
    jobs.instrumented("t-job", ok)()
    assert (
        _sample("carbon_ledger_job_runs_total", {"job_id": "t-job", "outcome": "success"})
        == before["success"] + 2
    )
    assert (
        _sample("carbon_ledger_job_runs_total", {"job_id": "t-job", "outcome": "failure"})
        == before["failure"] + 1
    )
    assert all(rid and rid.startswith("job-t-job-") for rid in seen) and seen[0] != seen[1]
    beat = jobs.heartbeat("t-job")
    assert beat is not None and beat.ok and beat.finished_s is not None


def test_the_listed_dev_addresses_are_the_anvil_mnemonic_accounts() -> None:
    Account.enable_unaudited_hdwallet_features()
    derived = {
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").address.lower()
        for i in range(10)
    }
    assert derived == key_safety.WELL_KNOWN_DEV_ADDRESSES
    assert Account.from_key(ANVIL_DEFAULT_KEY_0).address.lower() in derived


def test_production_refuses_the_anvil_key_and_loose_key_files(tmp_path: Path) -> None:
    strong = "k3Vq9-xR2bLm8ZtY4wHc7NpJ0sDf6GaE"  # a generated secret: production refuses weak ones
    # A production identity provider, so that the anchoring key is the only thing refused.
    wechat = {"identity_provider": "wechat", "wechat_app_id": "app", "wechat_app_secret": "secret"}
    with pytest.raises(Exception, match="public development key") as refused:
        Settings(
            env="production", token_secret=strong, anchoring_key=ANVIL_DEFAULT_KEY_0, **wechat
        ).check_production_safety()
    assert ANVIL_DEFAULT_KEY_0[2:] not in str(refused.value)
    key_file = tmp_path / "anchoring.key"
    key_file.write_text(Account.create().key.hex())
    key_file.chmod(0o644)
    loose = Settings(env="production", token_secret=strong, anchoring_key_file=key_file, **wechat)
    with pytest.raises(Exception, match="chmod 600"):
        loose.check_production_safety()
    key_file.chmod(stat.S_IRUSR | stat.S_IWUSR)
    loose.check_production_safety()
    key_file.write_text(ANVIL_DEFAULT_KEY_0)
    with pytest.raises(Exception, match="public development key"):
        loose.check_production_safety()
    Settings(env="local", anchoring_key=ANVIL_DEFAULT_KEY_0).check_production_safety()
