"""The README's configuration table names every setting a park can set, and only settings that exist."""

from __future__ import annotations

import re
from pathlib import Path

from backend.bootstrap.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
# Declared but read by nothing: setting them changes nothing, so the table leaves them out.
UNUSED = {"token_ttl_s", "factor_set"}


def _table() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_every_setting_is_in_the_configuration_table() -> None:
    named = set(re.findall(r"`CARBON_([A-Z0-9_]+)`", _table()))
    missing = {f for f in Settings.model_fields if f.upper() not in named} - UNUSED
    assert not missing, f"settings missing from the README's table: {sorted(missing)}"


def test_the_table_names_no_setting_that_does_not_exist() -> None:
    fields = {f.upper() for f in Settings.model_fields}
    unknown = set(re.findall(r"`CARBON_([A-Z0-9_]+)`", _table())) - fields
    assert not unknown, f"the README's table names unknown settings: {sorted(unknown)}"


def test_the_left_out_settings_still_exist() -> None:
    assert set(Settings.model_fields) >= UNUSED
