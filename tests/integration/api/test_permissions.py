"""The role matrix: every route of the OpenAPI schema has a rule, and every route answers every
role as the matrix says (allowed roles get through, others get 401/403)."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from backend.adapters import migrations
from backend.adapters.database import create_database
from backend.adapters.identity_providers import DevProvider
from backend.api.permissions import RULES
from backend.api.routes.scope3 import scope3_config
from backend.domain.accounting.scope3 import parse_period
from backend.domain.identity.access import ROLES
from backend.domain.points.points import TransferKind
from backend.services.identity import enrollment, identity, staff
from backend.services.identity.tokens import Principal
from backend.services.integrations import integrations
from backend.services.points import points, rewards
from backend.services.recording.activities import Caller, record_activity
from backend.services.reporting import scope3_close
from emission_factors.loader import SETS_DIR, builtin_versions
from tests.figures import RIDE_OVER_SELF_REPORT_LIMIT
from tests.integration.api_harness import Api, TestClient, fast_password_hashing

ANONYMOUS = "anonymous"
NOW = datetime.now(UTC)
YEAR = str(NOW.year)
"""A Scope 3 period (the park's time zone is ahead of UTC, so this year has begun there too)."""
BUILTIN = builtin_versions()[0]
_counter = itertools.count()
_months = itertools.count()


def fresh(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (METHOD, path template) the app serves: the OpenAPI schema's and the routes hidden
    from it (the dashboard's static files), which ``authorize`` refuses just the same without a rule."""
    paths = app.openapi()["paths"]
    documented = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    contexts = [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
    hidden = {(m, str(c.path)) for c in contexts for m in c.methods or ()}
    return documented | hidden


def missing_rules(app: FastAPI) -> list[str]:
    """Routes without a rule in the matrix, as "METHOD /path"."""
    return sorted(f"{m} {p}" for m, p in served_routes(app) if (m, p) not in RULES)


def stale_rules(app: FastAPI) -> list[str]:
    present = served_routes(app)
    return sorted(f"{m} {p}" for m, p in RULES if (m, p) not in present)


class World:
    """One park: company acme with a department, an enrolled and signed-in employee, one staff
    account per staff role, a data source, a binding and a flagged-activity factory."""

    def __init__(self, tmp: Path) -> None:
        db = create_database(f"sqlite:///{tmp / 'ledger.sqlite3'}")
        migrations.upgrade(db.engine)
        self.api = Api(db, tmp)
        rt = self.api.runtime
        self.db, self.rt = db, rt
        enrollment.create_company(db, "acme", "Acme", NOW)
        enrollment.create_department(db, "acme", "rd", "R&D", NOW)
        emp = enrollment.enroll_employee(db, "acme", "E1", "rd", None, timedelta(days=1), "setup", NOW)
        assert emp.invitation_code is not None
        self.employee_id = emp.employee.id
        login = identity.login_employee(db, DevProvider(), "dev:wx-e1", emp.invitation_code, rt.tokens, NOW)
        self.tokens: dict[str, str] = {"employee": login.access_token}
        self.passwords: dict[str, str] = {}
        self.staff_ids: dict[str, str] = {}
        enrollment.create_company(db, "canteen", "Park canteen", NOW)
        for role in ("company_admin", "park_manager", "auditor", "operator", "merchant"):
            company = {"company_admin": "acme", "merchant": "canteen"}.get(role)
            row = staff.create_staff(
                db, f"{role.replace('_', '-')}-1", "correct horse battery", role, company, NOW
            )
            self.staff_ids[role] = row.id
            self.passwords[role] = row.username
            self.tokens[role] = staff.login_staff(
                db, row.username, "correct horse battery", rt.tokens, NOW
            ).access_token
        self.activity_id = self.record(self.employee_id, "acme", hours_ago=30).row.id
        # Reversed by its probe (taking back its points), so the first one's issuance stays correctable.
        self.reversible_id = self.record(self.employee_id, "acme", hours_ago=40).row.id
        self.source, self.source_secret = integrations.register_source(
            db, "gates", "Gates", "transit_gate", ["metro"], 10_000, NOW
        )
        binding, _ = integrations.add_binding(
            db,
            self.employee_id,
            "transit_card",
            "card-1",
            None,
            rt.subject_key,
            NOW,
            self.binding_code("card-1"),
        )
        self.binding_id = binding.id
        self._points_and_scope3()

    def _points_and_scope3(self) -> None:
        """A park-wide reward (the operator's) and a company reward (acme's admin's) at 1 point, a
        redemption, the points issued for the employee's activity (to correct), acme's pool funded
        (to award from) and a closed month (to restate)."""
        now = datetime.now(UTC)
        self.reward_ids = {
            role: rewards.create_reward(
                self.db,
                self.principal(role),
                rewards.RewardSpec(
                    name=f"reward of the {role}", price_points=1, stock=1000, merchant="canteen"
                ),
                {"role": role},
                None,
                self.rt.settings.redemption_cancel_window_s,
                now,
            )[0].id
            for role in ("operator", "company_admin")
        }
        self.redemption_id = self.redeem()
        self.voucher_code = rewards.get_redemption(self.db, self.employee_id, self.redemption_id)[
            0
        ].voucher_code
        (issued,) = points.find_transfers(self.db, org_id=None, activity_id=str(self.activity_id))
        self.issuance_id = issued.id
        points.grant(
            self.db,
            self.rt.subject_key,
            transfer_id=str(uuid.uuid4()),
            kind=TransferKind.ALLOCATION,
            org_id="acme",
            employee=None,
            amount=1000,
            note=None,
            actor=self.principal("operator"),
            now=now,
        )
        self.closed_period = "2025-12"
        scope3_close.close_period(
            self.db,
            parse_period(self.closed_period),
            scope3_config(self.rt),
            "operator",
            self.staff_ids["operator"],
            self.rt.subject_key,
        )

    def binding_code(self, account: str) -> str:
        """A one-time code the gates' operator issued for one of its cards."""
        now = datetime.now(UTC)
        return integrations.issue_binding_code(
            self.db, self.source, fresh("setup-"), account, self.rt.subject_key, 300, now
        ).code

    def principal(self, role: str) -> Principal:
        if role == "employee":
            return Principal("employee", self.employee_id, "acme", "rd")
        org = {"company_admin": "acme", "merchant": "canteen"}.get(role)
        return Principal(role, self.staff_ids[role], org)

    def redeem(self) -> str:
        """A new redemption of the park-wide reward by the employee (who earned points for their trip)."""
        return rewards.redeem(
            self.db,
            self.rt.subject_key,
            self.principal("employee"),
            self.reward_ids["operator"],
            str(uuid.uuid4()),
            datetime.now(UTC),
        ).row.id

    def closable_period(self) -> str:
        """A month long ended and never closed: each call closes a different one."""
        n = next(_months)
        return f"{2001 + n // 12}-{n % 12 + 1:02d}"

    def record(self, subject: str, org: str, hours_ago: float, km: str = "12.4", kind: str = "metro") -> Any:
        when = NOW - timedelta(hours=hours_ago)
        payload = {"type": kind, "occurred_at": when.isoformat(), "distance_km": km}
        return record_activity(self.db, Caller(subject, org), fresh("key-"), payload, when, self.rt.issuance)

    def headers(self, role: str) -> dict[str, str]:
        return {} if role == ANONYMOUS else {"Authorization": f"Bearer {self.tokens[role]}"}

    def staff_refresh(self, role: str) -> str:
        role = role if role in self.passwords else "operator"
        return staff.login_staff(
            self.db, self.passwords[role], "correct horse battery", self.rt.tokens, NOW
        ).refresh_token

    def employee_refresh(self) -> str:
        return identity.login_employee(
            self.db, DevProvider(), "dev:wx-e1", None, self.rt.tokens, NOW
        ).refresh_token

    def key_of(self, role: str) -> str:
        role = role if role in self.staff_ids else "operator"
        principal = Principal(role, self.staff_ids[role], "acme" if role == "company_admin" else None)
        return staff.create_api_key(self.db, principal, "probe", ["keys"], None, NOW).row.id

    def disposable_staff(self) -> str:
        return staff.create_staff(self.db, fresh("pm-"), "long enough password", "park_manager", None, NOW).id

    def flagged_activity(self) -> str:
        ride = RIDE_OVER_SELF_REPORT_LIMIT  # over 2 kg without evidence
        row = self.record(fresh("emp-flag-"), "acme", 2, str(ride["distance_km"]), str(ride["type"])).row
        assert row.status == "flagged"
        return str(row.id)


@dataclass(frozen=True)
class Probe:
    """A request that succeeds (``ok`` statuses) for any role the matrix allows."""

    path: str | Callable[[World, str], str]
    body: Any = None
    ok: tuple[int, ...] = (200, 201, 202, 204)
    content: Callable[[World, str], bytes] | None = None
    headers: Callable[[World, str], dict[str, str]] | None = None


def _csv(_w: World, _role: str) -> bytes:
    return f"employee_no,department_id\n{fresh('C')},rd\n".encode()


def _signed(world: World, _role: str) -> dict[str, str]:
    body = _delivery_body()
    stamp, signature = integrations.signature_header(world.source_secret, body)
    return {"X-Carbon-Timestamp": stamp, "X-Carbon-Signature": signature, "Content-Type": "application/json"}


_delivery_nonce = itertools.count()


def _delivery_body() -> bytes:
    return json.dumps({"records": [], "nonce": next(_delivery_nonce)}).encode()


def _factor_set_candidate(_w: World, _role: str) -> dict[str, str]:
    """The built-in set under a new version, in force only from 2099: published, it changes nothing
    the other probes compute (publishing it twice answers 200 with the first publication)."""
    toml = (SETS_DIR / BUILTIN / "methodology.toml").read_text()
    return {
        "factors_csv": (SETS_DIR / BUILTIN / "factors.csv").read_text(),
        "methodology_toml": toml.replace(f'version = "{BUILTIN}"', 'version = "park-probe-2099.1"'),
        "effective_from": "2099-01-01T00:00:00+08:00",
    }


def _grant(_w: World, role: str) -> dict[str, Any]:
    """Operators fund a company's pool (allocation); a company admin awards from its pool."""
    grant: dict[str, Any] = {"id": str(uuid.uuid4()), "company": "acme", "amount": 1}
    if role == "company_admin":
        return {**grant, "kind": "award", "employee": _w.employee_id}
    return {**grant, "kind": "allocation"}


def _idempotent(_w: World, _role: str) -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/healthz"): Probe("/healthz"),  # liveness: the database only, no chain needed
    ("GET", "/readyz"): Probe("/readyz", ok=(200, 503)),  # no chain in these tests: "not ready"
    ("GET", "/metrics"): Probe("/metrics"),  # CARBON_METRICS_TOKEN unset here: open, as in development
    ("POST", "/mp/v1/auth/login"): Probe("/mp/v1/auth/login", {"code": "dev:wx-e1"}),
    ("POST", "/mp/v1/auth/refresh"): Probe(
        "/mp/v1/auth/refresh", lambda w, r: {"refresh_token": w.employee_refresh()}
    ),
    ("POST", "/mp/v1/auth/logout"): Probe(
        "/mp/v1/auth/logout", lambda w, r: {"refresh_token": w.employee_refresh()}
    ),
    ("GET", "/mp/v1/activity-types"): Probe("/mp/v1/activity-types"),
    ("GET", "/mp/v1/chain"): Probe("/mp/v1/chain"),
    ("GET", "/mp/v1/me"): Probe("/mp/v1/me"),
    ("POST", "/mp/v1/activities"): Probe(
        "/mp/v1/activities",
        lambda w, r: {
            "type": "metro",
            "occurred_at": (NOW - timedelta(hours=5)).isoformat(),
            "distance_km": 8,
        },
        headers=lambda w, r: {"Idempotency-Key": str(uuid.uuid4())},
    ),
    ("GET", "/mp/v1/activities"): Probe("/mp/v1/activities"),
    ("GET", "/mp/v1/activities/{activity_id}"): Probe(lambda w, r: f"/mp/v1/activities/{w.activity_id}"),
    ("GET", "/mp/v1/activities/{activity_id}/receipt"): Probe(
        lambda w, r: f"/mp/v1/activities/{w.activity_id}/receipt"
    ),
    ("GET", "/mp/v1/bindings"): Probe("/mp/v1/bindings"),
    ("POST", "/mp/v1/bindings"): Probe(
        "/mp/v1/bindings",
        lambda w, r: {
            "kind": "transit_card",
            "identifier": "card-7",
            "consent": True,
            "code": w.binding_code("card-7"),
        },
    ),
    ("DELETE", "/mp/v1/bindings/{binding_id}"): Probe(lambda w, r: f"/mp/v1/bindings/{w.binding_id}"),
    ("POST", "/api/v1/auth/token"): Probe(
        "/api/v1/auth/token", lambda w, r: {"username": "auditor-1", "password": "correct horse battery"}
    ),
    ("POST", "/api/v1/auth/refresh"): Probe(
        "/api/v1/auth/refresh", lambda w, r: {"refresh_token": w.staff_refresh(r)}
    ),
    ("POST", "/api/v1/auth/logout"): Probe(
        "/api/v1/auth/logout", lambda w, r: {"refresh_token": w.staff_refresh(r)}
    ),
    ("GET", "/api/v1/me/api-keys"): Probe("/api/v1/me/api-keys"),
    ("POST", "/api/v1/me/api-keys"): Probe("/api/v1/me/api-keys", {"name": "ci", "scopes": ["keys"]}),
    ("POST", "/api/v1/me/api-keys/{key_id}/rotate"): Probe(
        lambda w, r: f"/api/v1/me/api-keys/{w.key_of(r)}/rotate"
    ),
    ("DELETE", "/api/v1/me/api-keys/{key_id}"): Probe(lambda w, r: f"/api/v1/me/api-keys/{w.key_of(r)}"),
    ("POST", "/api/v1/companies"): Probe(
        "/api/v1/companies", lambda w, r: {"id": fresh("co-"), "name": "Co"}
    ),
    ("GET", "/api/v1/companies"): Probe("/api/v1/companies"),
    ("POST", "/api/v1/staff"): Probe(
        "/api/v1/staff",
        lambda w, r: {"username": fresh("aud-"), "password": "another long password", "role": "auditor"},
    ),
    ("GET", "/api/v1/staff"): Probe("/api/v1/staff"),
    # An unknown subject: past the matrix, nothing to erase (the world's people stay for the others).
    ("POST", "/api/v1/privacy/erasures"): Probe(
        "/api/v1/privacy/erasures",
        lambda w, r: {"subject": fresh("gone-"), "basis": "employee_request"},
        ok=(404,),
    ),
    ("POST", "/api/v1/staff/{staff_id}/disable"): Probe(
        lambda w, r: f"/api/v1/staff/{w.disposable_staff()}/disable"
    ),
    ("GET", "/api/v1/integrations/sources"): Probe("/api/v1/integrations/sources"),
    ("POST", "/api/v1/integrations/sources"): Probe(
        "/api/v1/integrations/sources",
        lambda w, r: {
            "id": fresh("bikes-"),
            "name": "Bikes",
            "kind": "bike_share",
            "activity_types": ["metro"],
        },
    ),
    ("POST", "/api/v1/integrations/sources/{source_id}/rotate-secret"): Probe(
        "/api/v1/integrations/sources/gates-rotating/rotate-secret"
    ),
    ("PATCH", "/api/v1/integrations/sources/{source_id}"): Probe(
        "/api/v1/integrations/sources/gates", {"enabled": True}
    ),
    ("POST", "/integrations/v1/{source_id}/records"): Probe(
        "/integrations/v1/gates/records", headers=_signed
    ),
    ("POST", "/integrations/v1/{source_id}/binding-codes"): Probe(
        "/integrations/v1/gates/binding-codes", ok=(201,)
    ),
    ("POST", "/api/v1/companies/{company_id}/departments"): Probe(
        "/api/v1/companies/acme/departments", lambda w, r: {"id": fresh("d-"), "name": "D"}
    ),
    ("GET", "/api/v1/companies/{company_id}/departments"): Probe("/api/v1/companies/acme/departments"),
    ("POST", "/api/v1/companies/{company_id}/employees"): Probe(
        "/api/v1/companies/acme/employees", lambda w, r: {"employee_no": fresh("N"), "department_id": "rd"}
    ),
    ("GET", "/api/v1/companies/{company_id}/employees"): Probe("/api/v1/companies/acme/employees"),
    ("PATCH", "/api/v1/companies/{company_id}/employees/{employee_id}"): Probe(
        lambda w, r: f"/api/v1/companies/acme/employees/{w.employee_id}", {"status": "active"}
    ),
    ("POST", "/api/v1/companies/{company_id}/employees/import"): Probe(
        "/api/v1/companies/acme/employees/import",
        content=_csv,
        headers=lambda w, r: {"Content-Type": "text/csv"},
    ),
    ("POST", "/api/v1/companies/{company_id}/invitations"): Probe(
        "/api/v1/companies/acme/invitations", {"department_id": "rd", "max_uses": 5}
    ),
    ("GET", "/api/v1/companies/{company_id}/reviews"): Probe("/api/v1/companies/acme/reviews"),
    ("POST", "/api/v1/companies/{company_id}/reviews/{activity_id}"): Probe(
        lambda w, r: f"/api/v1/companies/acme/reviews/{w.flagged_activity()}",
        {"decision": "approve", "reason": "ticket checked"},
    ),
    ("GET", "/api/v1/aggregates"): Probe("/api/v1/aggregates"),
    ("GET", "/audit/v1/checkpoints"): Probe("/audit/v1/checkpoints"),
    ("GET", "/audit/v1/consistency"): Probe("/audit/v1/consistency?first=0&second=0"),
    ("GET", "/audit/v1/leaves"): Probe("/audit/v1/leaves"),
    ("GET", "/audit/v1/receipts/{leaf_index}"): Probe("/audit/v1/receipts/0"),
    # No checkpoint is anchored in these tests: a proof at size 1 is refused as not anchored (422).
    ("GET", "/audit/v1/proofs"): Probe("/audit/v1/proofs?tree_size=1", ok=(200, 422)),
    ("GET", "/audit/v1/records"): Probe("/audit/v1/records"),
    ("GET", "/audit/v1/accounts"): Probe("/audit/v1/accounts"),
    ("GET", "/audit/v1/redemptions"): Probe("/audit/v1/redemptions"),
    ("GET", "/audit/v1/records/{leaf_index}"): Probe("/audit/v1/records/0"),
    ("GET", "/audit/v1/chain"): Probe("/audit/v1/chain"),
    ("GET", "/checkpoint"): Probe("/checkpoint", ok=(200, 404)),  # 404: nothing anchored here
    ("GET", "/audit/v1/checkpoints/{tree_size}/note"): Probe("/audit/v1/checkpoints/1/note", ok=(200, 404)),
    ("GET", "/log/v1/vkey"): Probe("/log/v1/vkey"),
    ("GET", "/tile/{level}/{rest:path}"): Probe("/tile/0/000", ok=(200, 404)),
    ("GET", "/tile/{level}/{rest}"): Probe("/tile/0/000.p/1", ok=(200, 404)),
    ("POST", "/api/v1/activities/{activity_id}/reversal"): Probe(
        lambda w, r: f"/api/v1/activities/{w.reversible_id}/reversal", {"reason_code": "data_entry_error"}
    ),
    # Employees' points, rewards, redemptions and leaderboards.
    ("GET", "/mp/v1/points"): Probe("/mp/v1/points"),
    ("GET", "/mp/v1/points/history"): Probe("/mp/v1/points/history"),
    ("GET", "/mp/v1/rewards"): Probe("/mp/v1/rewards"),
    ("POST", "/mp/v1/redemptions"): Probe(
        "/mp/v1/redemptions", lambda w, r: {"reward_id": w.reward_ids["operator"]}, headers=_idempotent
    ),
    ("GET", "/mp/v1/redemptions"): Probe("/mp/v1/redemptions"),
    ("GET", "/mp/v1/redemptions/{redemption_id}"): Probe(
        lambda w, r: f"/mp/v1/redemptions/{w.redemption_id}"
    ),
    ("POST", "/mp/v1/redemptions/{redemption_id}/cancel"): Probe(
        lambda w, r: f"/mp/v1/redemptions/{w.redeem() if r == 'employee' else w.redemption_id}/cancel"
    ),
    ("GET", "/mp/v1/leaderboards/opt-in"): Probe("/mp/v1/leaderboards/opt-in"),
    ("PUT", "/mp/v1/leaderboards/opt-in"): Probe("/mp/v1/leaderboards/opt-in", {"alias": "Green Fox"}),
    ("DELETE", "/mp/v1/leaderboards/opt-in"): Probe("/mp/v1/leaderboards/opt-in"),
    ("GET", "/mp/v1/leaderboards/company"): Probe("/mp/v1/leaderboards/company"),
    ("GET", "/mp/v1/leaderboards/department"): Probe("/mp/v1/leaderboards/department"),
    ("GET", "/mp/v1/leaderboards/departments"): Probe("/mp/v1/leaderboards/departments"),
    # Emission factor sets.
    ("GET", "/api/v1/factor-sets"): Probe("/api/v1/factor-sets"),
    ("GET", "/api/v1/factor-sets/{version}"): Probe(f"/api/v1/factor-sets/{BUILTIN}"),
    ("GET", "/api/v1/factor-sets/{version}/diff/{other}"): Probe(
        f"/api/v1/factor-sets/{BUILTIN}/diff/park-default-2027.1"
    ),
    ("POST", "/api/v1/factor-sets"): Probe("/api/v1/factor-sets", _factor_set_candidate),
    ("GET", "/api/v1/factor-sets/{version}/recompute"): Probe(f"/api/v1/factor-sets/{BUILTIN}/recompute"),
    # Points administration: each manager acts on the reward it owns, on its own company.
    ("GET", "/api/v1/rewards"): Probe("/api/v1/rewards"),
    ("POST", "/api/v1/rewards"): Probe(
        "/api/v1/rewards", {"name": "Tea", "price_points": 5, "stock": 3}, headers=_idempotent
    ),
    ("PATCH", "/api/v1/rewards/{reward_id}"): Probe(
        lambda w, r: f"/api/v1/rewards/{w.reward_ids.get(r, w.reward_ids['operator'])}", {"add_stock": 1}
    ),
    ("GET", "/api/v1/points/rules"): Probe("/api/v1/points/rules"),
    ("PUT", "/api/v1/points/rules/park"): Probe("/api/v1/points/rules/park", {"points_per_kg": 100}),
    ("PUT", "/api/v1/points/rules/companies/{org_id}"): Probe(
        "/api/v1/points/rules/companies/acme", {"employee_daily_points_cap": 5000}
    ),
    ("POST", "/api/v1/points/corrections"): Probe(
        "/api/v1/points/corrections",
        lambda w, r: {
            "id": str(uuid.uuid4()),
            "reverses": w.issuance_id,
            "reason_code": "data_error",
            "amount": 1,
        },
    ),
    ("POST", "/api/v1/points/transfers"): Probe("/api/v1/points/transfers", _grant),
    ("GET", "/api/v1/points/transfers"): Probe(
        lambda w, r: f"/api/v1/points/transfers?activity_id={w.activity_id}"
    ),
    ("GET", "/api/v1/points/ledger"): Probe("/api/v1/points/ledger"),
    # Scope 3 and the dashboard.
    ("GET", "/api/v1/scope3/summary"): Probe(f"/api/v1/scope3/summary?period={YEAR}"),
    ("GET", "/api/v1/scope3/export"): Probe(f"/api/v1/scope3/export?period={YEAR}&format=json"),
    ("GET", "/api/v1/scope3/report"): Probe(f"/api/v1/scope3/report?period={YEAR}"),
    ("GET", "/api/v1/scope3/disclosure"): Probe(f"/api/v1/scope3/disclosure?period={YEAR}&format=json"),
    ("GET", "/api/v1/scope3/explain"): Probe(f"/api/v1/scope3/explain?period={YEAR}"),
    ("GET", "/api/v1/scope3/periods"): Probe("/api/v1/scope3/periods"),
    ("GET", "/api/v1/scope3/headcounts"): Probe("/api/v1/scope3/headcounts"),
    ("PUT", "/api/v1/scope3/headcounts/{company}"): Probe(
        "/api/v1/scope3/headcounts/acme", {"headcount": 40}
    ),
    ("POST", "/api/v1/scope3/periods/{period}/close"): Probe(
        lambda w, r: f"/api/v1/scope3/periods/{w.closable_period()}/close"
    ),
    ("POST", "/api/v1/scope3/periods/{period}/signoffs"): Probe(
        lambda w, r: f"/api/v1/scope3/periods/{w.closed_period}/signoffs",
        {"opinion": "unqualified"},
        ok=(200, 201),
    ),
    ("GET", "/api/v1/scope3/periods/{period}/signoffs"): Probe(
        lambda w, r: f"/api/v1/scope3/periods/{w.closed_period}/signoffs"
    ),
    ("POST", "/api/v1/scope3/periods/{period}/restatements"): Probe(
        lambda w, r: f"/api/v1/scope3/periods/{w.closed_period}/restatements", {"reason": "late gate data"}
    ),
    ("GET", "/api/v1/scope3/feed"): Probe("/api/v1/scope3/feed"),
    ("POST", "/api/v1/scope3/feed/snapshots"): Probe(f"/api/v1/scope3/feed/snapshots?period={YEAR}"),
    ("GET", "/api/v1/dashboard/status"): Probe("/api/v1/dashboard/status"),
    ("GET", "/api/v1/scope3/targets"): Probe(f"/api/v1/scope3/targets?period={YEAR}-Q1"),
    ("PUT", "/api/v1/scope3/targets/{year}"): Probe(f"/api/v1/scope3/targets/{YEAR}", {"co2e_kg": 120_000}),
    ("GET", "/dashboard"): Probe("/dashboard"),
    ("GET", "/dashboard/static/{name}"): Probe("/dashboard/static/app.js"),
    ("GET", "/dashboard/vendor/chart.umd.min.js"): Probe("/dashboard/vendor/chart.umd.min.js"),
    ("GET", "/h5"): Probe("/h5"),
    ("GET", "/h5/static/{name}"): Probe("/h5/static/verify.js"),
    ("GET", "/api/v1/vouchers/key"): Probe("/api/v1/vouchers/key"),
    ("GET", "/api/v1/vouchers/{code}"): Probe(lambda w, _r: f"/api/v1/vouchers/{w.voucher_code}"),
    ("POST", "/api/v1/vouchers/{code}/use"): Probe(
        lambda w, _r: f"/api/v1/vouchers/{w.voucher_code}/use", ok=(200, 409)
    ),
    ("GET", "/mp/v1/redemptions/{redemption_id}/qr"): Probe(
        lambda w, _r: f"/mp/v1/redemptions/{w.redemption_id}/qr"
    ),
    ("GET", "/merchant"): Probe("/merchant"),
    ("GET", "/merchant/static/{name}"): Probe("/merchant/static/merchant.js"),
    ("GET", "/docs"): Probe("/docs"),
    ("GET", "/redoc"): Probe("/redoc"),
    ("GET", "/docs/vendor/{name}"): Probe("/docs/vendor/swagger-ui.css"),
    ("GET", "/problems"): Probe("/problems"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with fast_password_hashing():
        w = World(tmp_path_factory.mktemp("permissions"))
        integrations.register_source(w.db, "gates-rotating", "Gates 2", "transit_gate", ["metro"], 100, NOW)
        try:
            yield w
        finally:
            w.db.dispose()


def test_every_route_in_the_openapi_schema_has_a_rule(world: World) -> None:
    missing = missing_rules(world.api.app)
    assert not missing, (
        "routes without a rule in backend/api/permissions.py RULES (and docs/permissions.md): "
        + ", ".join(missing)
    )
    assert not stale_rules(world.api.app), f"rules for routes that do not exist: {stale_rules(world.api.app)}"


def test_a_route_without_a_rule_is_named_and_refused(world: World) -> None:
    app = Api(world.db, world.api.settings.data_dir).app

    @app.get("/api/v1/unruled")
    def unruled() -> dict[str, str]:
        return {"leak": "yes"}

    assert missing_rules(app) == ["GET /api/v1/unruled"]
    response = TestClient(app).get("/api/v1/unruled", headers=world.headers("operator"))
    assert response.status_code == 403 and "no permission rule" in response.json()["detail"]


SIGNED_BODIES = {
    ("POST", "/integrations/v1/{source_id}/records"): _delivery_body,
    ("POST", "/integrations/v1/{source_id}/binding-codes"): lambda: json.dumps(
        {"account": "card-9", "nonce": str(next(_delivery_nonce))}
    ).encode(),
}


def _call(world: World, key: tuple[str, str], role: str) -> Any:
    probe = PROBES[key]
    method = key[0]
    path = probe.path(world, role) if callable(probe.path) else probe.path
    headers = {**world.headers(role), **(probe.headers(world, role) if probe.headers else {})}
    if probe.content is not None:
        return world.api.client.request(method, path, content=probe.content(world, role), headers=headers)
    if key in SIGNED_BODIES:
        body = SIGNED_BODIES[key]()
        stamp, signature = integrations.signature_header(world.source_secret, body)
        headers.update({"X-Carbon-Timestamp": stamp, "X-Carbon-Signature": signature})
        return world.api.client.request(method, path, content=body, headers=headers)
    body = probe.body(world, role) if callable(probe.body) else probe.body
    return world.api.client.request(method, path, json=body, headers=headers)


def test_every_probe_matches_a_rule() -> None:
    assert set(PROBES) == set(RULES), "add a probe for each new rule (and a rule for each route)"


@pytest.mark.parametrize("key", sorted(RULES), ids=lambda k: f"{k[0]} {k[1]}")
def test_each_route_answers_each_role_as_the_matrix_says(world: World, key: tuple[str, str]) -> None:
    rule = RULES[key]
    for role in (*ROLES, ANONYMOUS):
        response = _call(world, key, role)
        allowed = rule.public or rule.signed or role in rule.roles
        if allowed:
            assert response.status_code in PROBES[key].ok, (
                f"{role}: {response.status_code} {response.text[:300]}"
            )
        else:
            expected = 401 if role == ANONYMOUS else 403
            assert response.status_code == expected, f"{role}: {response.status_code} {response.text[:300]}"
            assert response.headers["content-type"] == "application/problem+json"


def test_the_documented_matrix_lists_every_rule() -> None:
    documented = (Path(__file__).parents[3] / "docs" / "permissions.md").read_text()
    missing = [f"{m} {p}" for m, p in RULES if f"| {m} | `{p}` |" not in documented]
    assert not missing, f"docs/permissions.md lacks rows for: {', '.join(missing)}"
