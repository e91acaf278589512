"""The role matrix as data: every route of the API (method and path template) and who may call it.

Enforced for every request by :func:`backend.api.deps.authorize` (an application-wide dependency)
before the route runs, so a route cannot forget its check; a route missing from this table is
refused to everyone (fail closed) and fails ``tests/integration/api/test_permissions.py``, which
compares this table with the OpenAPI schema. docs/permissions.md is the same matrix for people.

Roles grant access; data scoping (an employee's own rows, a company admin's own company, small
groups never shown to managers) is enforced by the routes and services beneath.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.domain.identity.access import ROLE_SCOPES, ROLES, SCOPES


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    scope: str | None
    public: bool = False
    signed: bool = False
    """Authenticated by the body's HMAC signature of an integration source, not by a bearer token."""
    note: str = ""
    """Why a public route is public (shown in docs/permissions.md)."""


def public(note: str = "") -> Rule:
    return Rule(frozenset(), None, public=True, note=note)


PUBLIC = public()
SIGNED_SOURCE = Rule(frozenset(), None, signed=True)
STAFF = ("company_admin", "park_manager", "auditor", "operator", "merchant")
DESK_STAFF = ("company_admin", "park_manager", "auditor", "operator")
"""Staff who read the factor sets; merchants only accept vouchers."""


def allow(scope: str, *roles: str) -> Rule:
    return Rule(frozenset(roles), scope)


EMPLOYEE = allow("activities", "employee")
AUDIT = allow("audit:read", "auditor", "operator")
COMPANY_READ = allow("enrollment:read", "company_admin")
COMPANY_WRITE = allow("enrollment:write", "company_admin")
REVIEWS = allow("reviews", "company_admin")
OWN_KEYS = allow("keys", *STAFF)
PARK_ADMIN = allow("companies:admin", "operator")
SOURCES_ADMIN = allow("integrations:admin", "operator")
POINTS = allow("points", "employee")
REWARDS_ADMIN = allow("rewards:admin", "operator", "company_admin")
POINTS_ADMIN = allow("points:admin", "operator", "company_admin")
FACTORS_READ = allow("factors:read", "employee", *DESK_STAFF)
MERCHANT = allow("vouchers:redeem", "merchant")
SCOPE3_READ = allow("scope3:read", "park_manager", "company_admin")
SCOPE3_CONFIG = allow("scope3:config", "park_manager", "company_admin", "operator")
SCOPE3_ADMIN = allow("scope3:admin", "park_manager", "operator")

RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): public("check names and reasons, no data"),
    # Public to the matrix: the route checks its own bearer, CARBON_METRICS_TOKEN, when it is set.
    ("GET", "/metrics"): public("the route checks `CARBON_METRICS_TOKEN` itself when it is set"),
    # The API's documentation: no data (the OpenAPI document is FastAPI's own route, not ruled).
    ("GET", "/docs"): public("the API's documentation, no data"),
    ("GET", "/redoc"): public("the API's documentation, no data"),
    ("GET", "/docs/vendor/{name}"): public("the documentation's pinned assets"),
    ("GET", "/problems"): public("the problem types, no data"),
    # Employees (mini-program): their own data only.
    ("POST", "/mp/v1/auth/login"): PUBLIC,
    ("POST", "/mp/v1/auth/refresh"): PUBLIC,
    ("POST", "/mp/v1/auth/logout"): PUBLIC,
    ("GET", "/mp/v1/activity-types"): public("the types' names in Chinese and English"),
    ("GET", "/mp/v1/chain"): public("chain id, contract and JSON-RPC URL for verifiers"),
    ("GET", "/mp/v1/me"): EMPLOYEE,
    ("POST", "/mp/v1/activities"): EMPLOYEE,
    ("GET", "/mp/v1/activities"): EMPLOYEE,
    ("GET", "/mp/v1/activities/{activity_id}"): EMPLOYEE,
    ("GET", "/mp/v1/activities/{activity_id}/receipt"): EMPLOYEE,
    ("GET", "/mp/v1/bindings"): EMPLOYEE,
    ("POST", "/mp/v1/bindings"): EMPLOYEE,
    ("DELETE", "/mp/v1/bindings/{binding_id}"): EMPLOYEE,
    ("GET", "/mp/v1/points"): POINTS,
    ("GET", "/mp/v1/points/history"): POINTS,
    ("GET", "/mp/v1/rewards"): POINTS,
    ("POST", "/mp/v1/redemptions"): POINTS,
    ("GET", "/mp/v1/redemptions"): POINTS,
    ("GET", "/mp/v1/redemptions/{redemption_id}"): POINTS,
    ("POST", "/mp/v1/redemptions/{redemption_id}/cancel"): POINTS,
    ("GET", "/mp/v1/leaderboards/opt-in"): POINTS,
    ("PUT", "/mp/v1/leaderboards/opt-in"): POINTS,
    ("DELETE", "/mp/v1/leaderboards/opt-in"): POINTS,
    ("GET", "/mp/v1/leaderboards/company"): POINTS,  # pseudonyms, opted-in only, small boards hidden
    ("GET", "/mp/v1/leaderboards/department"): POINTS,
    ("GET", "/mp/v1/leaderboards/departments"): POINTS,
    # Staff sign-in and their own API keys.
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): PUBLIC,
    ("GET", "/api/v1/me/api-keys"): OWN_KEYS,
    ("POST", "/api/v1/me/api-keys"): OWN_KEYS,
    ("POST", "/api/v1/me/api-keys/{key_id}/rotate"): OWN_KEYS,
    ("DELETE", "/api/v1/me/api-keys/{key_id}"): OWN_KEYS,
    # Operators: the park's companies, staff accounts and data sources.
    ("POST", "/api/v1/companies"): PARK_ADMIN,
    ("GET", "/api/v1/companies"): allow("enrollment:read", "operator", "park_manager"),
    ("POST", "/api/v1/staff"): PARK_ADMIN,
    ("GET", "/api/v1/staff"): PARK_ADMIN,
    # Erasure of a person's personal data and key (logged, nothing personal in the record).
    ("POST", "/api/v1/privacy/erasures"): allow("privacy:erase", "operator"),
    ("POST", "/api/v1/staff/{staff_id}/disable"): PARK_ADMIN,
    ("GET", "/api/v1/integrations/sources"): SOURCES_ADMIN,
    ("POST", "/api/v1/integrations/sources"): SOURCES_ADMIN,
    ("POST", "/api/v1/integrations/sources/{source_id}/rotate-secret"): SOURCES_ADMIN,
    ("PATCH", "/api/v1/integrations/sources/{source_id}"): SOURCES_ADMIN,
    ("POST", "/integrations/v1/{source_id}/records"): SIGNED_SOURCE,
    ("POST", "/integrations/v1/{source_id}/binding-codes"): SIGNED_SOURCE,
    # Company admins: their own company only (checked against the token's company).
    ("POST", "/api/v1/companies/{company_id}/departments"): COMPANY_WRITE,
    ("GET", "/api/v1/companies/{company_id}/departments"): COMPANY_READ,
    ("POST", "/api/v1/companies/{company_id}/employees"): COMPANY_WRITE,
    ("GET", "/api/v1/companies/{company_id}/employees"): COMPANY_READ,
    ("PATCH", "/api/v1/companies/{company_id}/employees/{employee_id}"): COMPANY_WRITE,
    ("POST", "/api/v1/companies/{company_id}/employees/import"): COMPANY_WRITE,
    ("POST", "/api/v1/companies/{company_id}/invitations"): COMPANY_WRITE,
    ("GET", "/api/v1/companies/{company_id}/reviews"): REVIEWS,
    ("POST", "/api/v1/companies/{company_id}/reviews/{activity_id}"): REVIEWS,
    # Park managers and company admins: aggregates, small groups suppressed.
    ("GET", "/api/v1/aggregates"): allow("aggregates:read", "park_manager", "company_admin"),
    # Auditors (and operators, for chain operations): the log, checkpoints, proofs, receipts.
    ("GET", "/audit/v1/checkpoints"): AUDIT,
    ("GET", "/audit/v1/consistency"): AUDIT,
    ("GET", "/audit/v1/leaves"): AUDIT,
    ("GET", "/audit/v1/receipts/{leaf_index}"): AUDIT,
    ("GET", "/audit/v1/proofs"): AUDIT,
    ("GET", "/audit/v1/records"): AUDIT,
    ("GET", "/audit/v1/accounts"): AUDIT,
    ("GET", "/audit/v1/redemptions"): AUDIT,
    ("GET", "/audit/v1/records/{leaf_index}"): AUDIT,
    ("GET", "/audit/v1/chain"): AUDIT,
    # The log in C2SP formats for any verifier: signed checkpoints (roots the chain holds anyway),
    # hash tiles (hashes of salted records) and the verifier key. Entry bundles share the tile
    # path template: that route itself asks for an auditor unless CARBON_LOG_ENTRIES_PUBLIC.
    ("GET", "/checkpoint"): PUBLIC,
    ("GET", "/audit/v1/checkpoints/{tree_size}/note"): PUBLIC,
    ("GET", "/log/v1/vkey"): PUBLIC,
    ("GET", "/tile/{level}/{rest:path}"): PUBLIC,
    ("GET", "/tile/{level}/{rest}"): PUBLIC,  # the same route as the OpenAPI schema names it
    # Corrections never edit: a logged reversal (company admins for their company, operators).
    ("POST", "/api/v1/activities/{activity_id}/reversal"): allow("corrections", "company_admin", "operator"),
    # Emission factor sets: every signed-in role reads them (each figure cites one); operators
    # publish; the recompute preview (activity ids and figures, no people) is an audit view.
    ("GET", "/api/v1/factor-sets"): FACTORS_READ,
    ("GET", "/api/v1/factor-sets/{version}"): FACTORS_READ,
    ("GET", "/api/v1/factor-sets/{version}/diff/{other}"): FACTORS_READ,
    ("POST", "/api/v1/factor-sets"): allow("factors:admin", "operator"),
    ("GET", "/api/v1/factor-sets/{version}/recompute"): AUDIT,
    # Points administration: operators park-wide, company admins their own company (checked beneath).
    ("GET", "/api/v1/rewards"): REWARDS_ADMIN,
    ("POST", "/api/v1/rewards"): REWARDS_ADMIN,
    ("PATCH", "/api/v1/rewards/{reward_id}"): REWARDS_ADMIN,
    ("GET", "/api/v1/points/rules"): allow("points:read", "operator", "company_admin", "park_manager"),
    ("PUT", "/api/v1/points/rules/park"): allow("points:admin", "operator"),
    ("PUT", "/api/v1/points/rules/companies/{org_id}"): POINTS_ADMIN,
    ("POST", "/api/v1/points/corrections"): POINTS_ADMIN,
    ("POST", "/api/v1/points/transfers"): POINTS_ADMIN,
    ("GET", "/api/v1/points/transfers"): POINTS_ADMIN,
    ("GET", "/api/v1/points/ledger"): allow("points:audit", "operator", "auditor", "park_manager"),
    # Scope 3 (aggregates; company admins only their company, small departments never shown).
    ("GET", "/api/v1/scope3/summary"): SCOPE3_READ,
    ("GET", "/api/v1/scope3/export"): SCOPE3_READ,
    ("GET", "/api/v1/scope3/report"): SCOPE3_READ,
    ("GET", "/api/v1/scope3/disclosure"): SCOPE3_READ,
    ("GET", "/api/v1/scope3/explain"): SCOPE3_READ,
    ("GET", "/api/v1/scope3/periods"): SCOPE3_READ,
    ("GET", "/api/v1/scope3/headcounts"): SCOPE3_CONFIG,
    ("PUT", "/api/v1/scope3/headcounts/{company}"): SCOPE3_CONFIG,
    ("POST", "/api/v1/scope3/periods/{period}/close"): SCOPE3_ADMIN,
    ("POST", "/api/v1/scope3/periods/{period}/restatements"): SCOPE3_ADMIN,
    ("POST", "/api/v1/scope3/periods/{period}/signoffs"): allow("audit:signoff", "auditor"),
    ("GET", "/api/v1/scope3/periods/{period}/signoffs"): AUDIT,
    ("GET", "/api/v1/scope3/feed"): SCOPE3_ADMIN,
    ("POST", "/api/v1/scope3/feed/snapshots"): SCOPE3_ADMIN,
    ("GET", "/api/v1/dashboard/status"): SCOPE3_READ,
    ("GET", "/api/v1/scope3/targets"): SCOPE3_READ,
    ("PUT", "/api/v1/scope3/targets/{year}"): SCOPE3_ADMIN,
    # The dashboard's page and its static files hold no data: it calls the APIs above with the
    # user's own token. The two static routes are hidden from the OpenAPI schema but still ruled.
    ("GET", "/dashboard"): public("the page shell, its data comes from the APIs with the user's token"),
    ("GET", "/dashboard/static/{name}"): public("fixed list of static files, hidden from OpenAPI"),
    ("GET", "/dashboard/vendor/chart.umd.min.js"): public("pinned Chart.js, hidden from OpenAPI"),
    # Vouchers at the till: a merchant's own vouchers only (checked beneath); the public key that
    # signs voucher QR codes is public, as is the merchant's page (static files, no data).
    ("GET", "/api/v1/vouchers/key"): public("the public key that signs voucher QR codes"),
    ("GET", "/api/v1/vouchers/{code}"): MERCHANT,
    ("POST", "/api/v1/vouchers/{code}/use"): MERCHANT,
    ("GET", "/mp/v1/redemptions/{redemption_id}/qr"): POINTS,
    ("GET", "/merchant"): public(
        "the merchant's till page, its data comes from the APIs with the merchant's token"
    ),
    ("GET", "/merchant/static/{name}"): public("fixed list of static files, hidden from OpenAPI"),
    # The employee's phone page: static files; it calls /mp/v1 with the employee's own token.
    ("GET", "/h5"): public(
        "the employee's phone page, its data comes from `/mp/v1` with the employee's token"
    ),
    ("GET", "/h5/static/{name}"): public("fixed list of static files, hidden from OpenAPI"),
}


MATRIX_START = "<!-- the matrix is generated from RULES: python -m backend.api.permissions -->"
MATRIX_END = "<!-- end of the generated matrix -->"
_COLUMNS = {"employee": "emp", "company_admin": "co-admin", "park_manager": "park-mgr"}


def matrix_markdown() -> str:
    """The matrix of docs/permissions.md, one row per rule, in the table's order."""
    head = " | ".join(_COLUMNS.get(role, role) for role in ROLES)
    lines = [f"| method | path | {head} | scope |", "| --- | --- |" + " :-: |" * len(ROLES) + " --- |"]
    for (method, path), rule in RULES.items():
        if rule.public or rule.signed:
            who = "source HMAC signature" if rule.signed else "public"
            cell = f"{who} (no token{'; ' + rule.note if rule.note else ''})"
            lines.append(f"| {method} | `{path}` | {cell} |" + " |" * (len(ROLES) - 1) + " — |")
        else:
            marks = " | ".join("✓" if role in rule.roles else "" for role in ROLES)
            lines.append(f"| {method} | `{path}` | {marks} | `{rule.scope}` |")
    return "\n".join(lines) + "\n"


def with_matrix(document: str) -> str:
    """``document`` (docs/permissions.md) with the generated matrix between its two markers."""
    before, start, rest = document.partition(MATRIX_START)
    _, end, after = rest.partition(MATRIX_END)
    if not start or not end:
        raise ValueError("docs/permissions.md lacks the generated matrix's markers")
    return f"{before}{MATRIX_START}\n{matrix_markdown()}{MATRIX_END}{after}"


def rule_for(method: str, path: str) -> Rule | None:
    return RULES.get((method.upper(), path))


def check_table() -> None:
    """Fails loudly on a rule naming an unknown role or scope (a typo would silently deny), on a
    rule whose scope an allowed role cannot hold (its API keys could never use the route), and on a
    scope a role holds but no rule lets it use (a grant that means nothing)."""
    used: set[tuple[str, str]] = set()
    for (method, path), rule in RULES.items():
        unknown = rule.roles - set(ROLES)
        if unknown or (rule.scope is not None and rule.scope not in SCOPES):
            raise ValueError(f"permission rule for {method} {path} names unknown roles/scope")
        if not (rule.public or rule.signed or (rule.roles and rule.scope)):
            raise ValueError(f"permission rule for {method} {path} allows nobody")
        for role in rule.roles:
            if rule.scope not in ROLE_SCOPES[role]:
                raise ValueError(f"permission rule for {method} {path}: {role} cannot hold {rule.scope}")
            used.add((role, rule.scope))
    idle = sorted(f"{r}:{s}" for r, scopes in ROLE_SCOPES.items() for s in scopes if (r, s) not in used)
    if idle:
        raise ValueError(f"scopes granted to roles that no rule uses: {', '.join(idle)}")


check_table()


if __name__ == "__main__":  # python -m backend.api.permissions: rewrite the matrix of docs/permissions.md
    import sys
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
    doc.write_text(with_matrix(doc.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stdout.write(f"wrote {doc}\n")
