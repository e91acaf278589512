"""Who may do what: roles and the scopes an API key can be limited to.

Each route of the API names the roles allowed and the one scope it needs (``backend/api/permissions.py``);
a signed-in user's token carries every scope of its role, an API key only those it was given,
which must be scopes of its owner's role.
"""

from __future__ import annotations

from collections.abc import Mapping

ROLES = ("employee", "company_admin", "park_manager", "auditor", "operator", "merchant")
STAFF_ROLES = ("company_admin", "park_manager", "auditor", "operator", "merchant")

SCOPES: Mapping[str, str] = {
    "activities": "record and read one's own activities, bindings and receipts (employees)",
    "points": "one's own points balance and history, redemptions and leaderboards (employees)",
    "enrollment:read": "read the company's departments, employees and invitations",
    "enrollment:write": "enroll employees, import CSV, issue invitation codes",
    "reviews": "read the review queue and approve or reject flagged activities",
    "aggregates:read": "read aggregates (small groups suppressed)",
    "audit:read": "read checkpoints, leaves, receipts, consistency proofs and factor-set recompute previews",
    "audit:signoff": "sign off a closed or restated reporting period (a logged record)",
    "companies:admin": "create companies and staff accounts",
    "integrations:admin": "register data sources and rotate their secrets",
    "keys": "manage one's own API keys",
    "corrections": "reverse a recorded activity with a reason code (logged, never an edit)",
    "factors:read": "read the emission factor sets, which is in force, and their sources",
    "factors:admin": "publish a new emission factor set version",
    "rewards:admin": "manage the rewards catalogue (the park's, or one's own company's)",
    "points:read": "read the points issuance rules in force (configuration, no balances)",
    "points:admin": "set issuance rules, correct and look up transfers, fund and award from company pools",
    "points:audit": "check the points ledger: conservation and totals (employee accounts masked)",
    "scope3:read": "read Scope 3 summaries, exports, reports, explanations, closed periods, dashboard status",
    "scope3:config": "read and set companies' headcounts (the Scope 3 denominators)",
    "scope3:admin": "close and restate periods; inspect and queue pushes to the park platform",
    "privacy:erase": "erase a person's personal data and commitment key (logged, never undone)",
    "vouchers:redeem": "look up a voucher of one's own merchant and mark it used, once (merchants)",
}

ROLE_SCOPES: Mapping[str, frozenset[str]] = {
    "employee": frozenset({"activities", "points", "factors:read"}),
    "company_admin": frozenset(
        {
            "corrections",
            "enrollment:read",
            "enrollment:write",
            "reviews",
            "aggregates:read",
            "keys",
            "factors:read",
            "rewards:admin",
            "points:read",
            "points:admin",
            "scope3:read",
            "scope3:config",
        }
    ),
    "park_manager": frozenset(
        {
            "aggregates:read",
            "enrollment:read",
            "keys",
            "factors:read",
            "points:read",
            "points:audit",
            "scope3:read",
            "scope3:config",
            "scope3:admin",
        }
    ),
    "auditor": frozenset({"audit:read", "audit:signoff", "keys", "factors:read", "points:audit"}),
    "merchant": frozenset({"vouchers:redeem", "keys"}),
    "operator": frozenset(
        {
            "corrections",
            "audit:read",
            "companies:admin",
            "integrations:admin",
            "enrollment:read",
            "keys",
            "factors:read",
            "factors:admin",
            "rewards:admin",
            "points:read",
            "points:admin",
            "points:audit",
            "scope3:config",
            "scope3:admin",
            "privacy:erase",
        }
    ),
}


def may(role: str, scopes: frozenset[str] | None, allowed_roles: frozenset[str], scope: str) -> bool:
    """Whether a caller with ``role`` (and, for an API key, ``scopes``) may use a route."""
    if role not in allowed_roles:
        return False
    return scopes is None or scope in scopes
