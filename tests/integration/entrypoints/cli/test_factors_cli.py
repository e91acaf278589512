"""`carbon-ledger factors …` in process against a SQLite data directory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from backend.bootstrap.settings import get_settings
from backend.entrypoints.cli.main import main
from emission_factors.loader import SETS_DIR, load_builtin_set
from tests.figures import in_force

BUILTIN = "park-default-2026.1"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CARBON_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CARBON_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def test_validate_list_show(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digest = load_builtin_set(BUILTIN).content_hash
    assert main(["factors", "validate", str(SETS_DIR / BUILTIN)]) == 0
    assert capsys.readouterr().out.startswith(
        f"valid: {BUILTIN}, 83 factors, 6 parameters, sha256 0x{digest}"
    )
    assert main(["factors", "list"]) == 0
    out = capsys.readouterr().out
    now = in_force(datetime.now(UTC))  # 2026.1 until 2027-01-01, then 2027.1
    assert f"* {now} " in out and f"0x{digest}" in out and f"in force now: {now}" in out
    assert main(["factors", "show", BUILTIN]) == 0
    out = capsys.readouterr().out
    assert "car.petrol.avg" in out and "0.16272" in out and "DESNZ/DEFRA" in out
    assert main(["factors", "show", "nope"]) == 2
    assert "factor set nope not found" in capsys.readouterr().err


def test_invalid_directory_names_file_and_row(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / BUILTIN
    shutil.copytree(SETS_DIR / BUILTIN, directory)
    csv = directory / "factors.csv"
    csv.write_text(csv.read_text().replace(",vkm,0.16272,", ",vkm,,", 1))
    assert main(["factors", "validate", str(directory)]) == 2
    assert f"{csv}: row 2: column 'value' is empty" in capsys.readouterr().err
    assert main(["factors", "publish", str(directory)]) == 2
    assert "factors_csv: factors.csv: row 2: column 'value' is empty" in capsys.readouterr().err


def test_publish_and_recompute_preview(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "park-2027.1"
    shutil.copytree(SETS_DIR / BUILTIN, directory)
    toml = directory / "methodology.toml"
    toml.write_text(toml.read_text().replace(f'version = "{BUILTIN}"', 'version = "park-2027.1"'))
    # a month ahead, midnight in the park: later than every set in force, as publishing requires
    park = timezone(timedelta(hours=8))
    effective = datetime.combine((datetime.now(park) + timedelta(days=30)).date(), time(), park).isoformat()
    args = ["factors", "publish", str(directory), "--effective-from", effective]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith(f"published: park-2027.1 effective {effective}")
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("already published (same content): park-2027.1")
    assert main(["factors", "recompute", "--with", "park-2027.1"]) == 0
    out = capsys.readouterr().out
    assert "nothing is changed" in out and "total" in out
