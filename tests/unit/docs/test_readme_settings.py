"""The README's configuration table names every setting a park can set, and only settings that exist."""

from __future__ import annotations

import re
from pathlib import Path

from backend.bootstrap.settings import Settings

README = Path(__file__).resolve().parents[3] / "README.md"


def _table() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_every_setting_is_in_the_configuration_table() -> None:
    named = set(re.findall(r"`CARBON_([A-Z0-9_]+)`", _table()))
    missing = {f for f in Settings.model_fields if f.upper() not in named}
    assert not missing, f"settings missing from the README's table: {sorted(missing)}"


def test_the_table_names_no_setting_that_does_not_exist() -> None:
    fields = {f.upper() for f in Settings.model_fields}
    unknown = set(re.findall(r"`CARBON_([A-Z0-9_]+)`", _table())) - fields
    assert not unknown, f"the README's table names unknown settings: {sorted(unknown)}"


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_the_defaults_the_table_quotes_are_the_code_s() -> None:
    checked = 0
    for line in _table().splitlines():
        row = re.match(r"\| ((?:`CARBON_[A-Z0-9_]+`(?: / )?)+) \| ([^|]+) \|", line)
        if not row:
            continue
        names = re.findall(r"CARBON_([A-Z0-9_]+)", row.group(1))
        cells = [cell.strip() for cell in row.group(2).split(" / ")]
        for name, cell in zip(names, cells if len(cells) == len(names) else [], strict=False):
            quoted = re.fullmatch(r"`([^`]+)`(?: \(.*\))?", cell)
            if not quoted or "<" in quoted.group(1) or name in {"DATA_DIR"}:
                continue
            assert quoted.group(1) == _literal(Settings.model_fields[name.lower()].default), name
            checked += 1
    assert checked > 30
