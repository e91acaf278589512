"""Settings refuse what would silently change a rule: removed variables and a group of one."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from backend.bootstrap.settings import Settings


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
