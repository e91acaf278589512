"""docs/permissions.md's matrix is generated from the rule table and must be current."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.api import permissions

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


def test_the_documented_matrix_is_the_rule_table() -> None:
    document = DOC.read_text(encoding="utf-8")
    assert permissions.with_matrix(document) == document, (
        "docs/permissions.md is stale: run `python -m backend.api.permissions`"
    )


def test_every_rule_is_one_row_with_its_roles_and_scope() -> None:
    rows = permissions.matrix_markdown().splitlines()[2:]
    assert len(rows) == len(permissions.RULES)
    operator_only = next(r for r in rows if r.startswith("| POST | `/api/v1/companies` |"))
    assert operator_only.split("|")[3:10] == ["  ", "  ", "  ", "  ", " ✓ ", "  ", " `companies:admin` "]


def test_a_changed_rule_makes_the_document_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    document = DOC.read_text(encoding="utf-8")
    key = ("GET", "/api/v1/aggregates")
    monkeypatch.setitem(permissions.RULES, key, permissions.allow("aggregates:read", "park_manager"))
    assert permissions.with_matrix(document) != document
