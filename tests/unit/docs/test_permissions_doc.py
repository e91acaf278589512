"""docs/permissions.md's matrix is generated from the rule table and must be current."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.api import permissions
from backend.domain.identity import access

DOC = Path(__file__).resolve().parents[3] / "docs" / "permissions.md"


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


def test_the_scopes_table_names_the_roles_that_hold_each_scope() -> None:
    """The hand-written scopes table agrees with ``ROLE_SCOPES`` ("every role" means every one)."""
    document = DOC.read_text(encoding="utf-8")
    table = document.split("## Scopes (API keys)", 1)[1].split("\n## ", 1)[0]
    named = {"every role": set(access.ROLES), "every staff role": set(access.STAFF_ROLES)}
    documented = {}
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            roles = cells[1]
            documented[cells[0].strip("`")] = named.get(roles) or {r.strip() for r in roles.split(",")}
    holders = {
        scope: {role for role, scopes in access.ROLE_SCOPES.items() if scope in scopes}
        for scope in access.SCOPES
    }
    assert documented == holders
