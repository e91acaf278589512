"""Settings refuse what would silently change a rule: removed variables and a group of one."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from pydantic import ValidationError

from backend.adapters.voucher_keys import KEY_FILE, VoucherSigner
from backend.bootstrap.settings import Settings
from backend.domain.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _no_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout


@pytest.mark.parametrize("removed", ["CARBON_SCOPE3_MIN_GROUP_SIZE", "CARBON_LEADERBOARD_MIN_GROUP"])
def test_removed_group_size_variables_are_refused_naming_the_one_that_replaced_them(
    removed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(removed, "3")
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path)
    assert removed in str(refused.value) and "CARBON_MIN_GROUP_SIZE" in str(refused.value)
    monkeypatch.delenv(removed)
    (tmp_path / ".env").write_text(f"{removed.lower()}=3\n")
    with pytest.raises(ValidationError, match="CARBON_MIN_GROUP_SIZE"):
        Settings(data_dir=tmp_path)


def test_the_minimum_group_is_at_least_two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(data_dir=tmp_path).min_group_size == 5
    assert Settings(data_dir=tmp_path, min_group_size=2).min_group_size == 2
    monkeypatch.setenv("CARBON_MIN_GROUP_SIZE", "1")
    with pytest.raises(ValidationError, match="min_group_size"):
        Settings(data_dir=tmp_path)


def test_production_refuses_a_voucher_key_file_others_can_read(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        env="production",
        token_secret="k3Vq9-xR2bLm8ZtY4wHc7NpJ0sDf6GaE",
        anchoring_key_file=tmp_path / "anchoring.key",
        identity_provider="wechat",
        wechat_app_id="app",
        wechat_app_secret="secret",
    )
    (tmp_path / "anchoring.key").write_text(Account.create().key.hex())
    (tmp_path / "anchoring.key").chmod(0o600)
    VoucherSigner.load_or_create(tmp_path)
    settings.check_production_safety()
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(ConfigurationError, match=f"voucher signing key file .*{KEY_FILE}.*chmod 600"):
        settings.check_production_safety()
