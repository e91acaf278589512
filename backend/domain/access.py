"""Who may do what: roles and the scopes an API key can be limited to.

Each route of the API names the roles allowed and the one scope it needs (``backend/api/permissions.py``);
a signed-in user's token carries every scope of its role, an API key only those it was given,
which must be scopes of its owner's role.
"""

from __future__ import annotations

from collections.abc import Mapping

ROLES = ("employee", "company_admin", "park_manager", "auditor", "operator")
STAFF_ROLES = ("company_admin", "park_manager", "auditor", "operator")

SCOPES: Mapping[str, str] = {
    "activities": "record and read one's own activities, points and receipts (employees)",
    "enrollment:read": "read the company's departments, employees and invitations",
    "enrollment:write": "enroll employees, import CSV, issue invitation codes",
    "reviews": "read the review queue and approve or reject flagged activities",
    "aggregates:read": "read aggregates (small groups suppressed)",
    "audit:read": "read checkpoints, leaves, receipts and consistency proofs",
    "companies:admin": "create companies and staff accounts",
    "integrations:admin": "register data sources and rotate their secrets",
    "keys": "manage one's own API keys",
}

ROLE_SCOPES: Mapping[str, frozenset[str]] = {
    "employee": frozenset({"activities"}),
    "company_admin": frozenset({"enrollment:read", "enrollment:write", "reviews", "aggregates:read", "keys"}),
    "park_manager": frozenset({"aggregates:read", "enrollment:read", "keys"}),
    "auditor": frozenset({"audit:read", "keys"}),
    "operator": frozenset({"audit:read", "companies:admin", "integrations:admin", "enrollment:read", "keys"}),
}


def may(role: str, scopes: frozenset[str] | None, allowed_roles: frozenset[str], scope: str) -> bool:
    """Whether a caller with ``role`` (and, for an API key, ``scopes``) may use a route."""
    if role not in allowed_roles:
        return False
    return scopes is None or scope in scopes
