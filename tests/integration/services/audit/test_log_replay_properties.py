"""Property: any sequence of legitimate operations leaves a log that replays to the stored state,
and any single edit of a stored column that a leaf covers is named with its record.

Operations go through the HTTP API (in-process, real SQLite, no chain: the replay of records is
what is checked here; the chain side of verify-log is covered by test_log_audit.py). Bounded to a
few examples by default; ``-m slow`` runs many more.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.adapters.orm_corrections import CorrectionRow
from backend.adapters.orm_identity import BindingRow
from backend.adapters.orm_integrations import ReviewRow
from backend.adapters.orm_points import PointsAccountRow, PointsRulesRow, PointsTransferRow, RedemptionRow
from backend.adapters.orm_scope3 import PeriodCloseRow, PeriodSignoffRow
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import Settings
from backend.bootstrap.startup import build_runtime
from backend.domain.log.records import subject_commitment
from backend.domain.points.points import derived_id
from backend.entrypoints.cli.main import main
from backend.services.audit import audit_records
from backend.services.audit.record_audit import RecordAudit
from backend.services.audit.verification import verify_log
from backend.services.identity import enrollment
from backend.services.integrations import integrations
from tests.dbtemplates import MigratedTemplates, copy_migrated
from tests.figures import RIDE_OVER_SELF_REPORT_LIMIT as RIDE
from tests.integration import chainkit

OPERATIONS = (
    "trip",
    "long_trip",
    "approve",
    "reject",
    "reverse",
    "redeem",
    "cancel",
    "rules",
    "correct",
    "close",
    "restate",
    "sign_off",
    "bind",
    "unbind",
    "allocate",
)
EMPLOYEES = tuple(f"emp-{i}" for i in range(4))


def _paged(fetch: Callable[[Any], list[dict[str, Any]]], key: str, first: Any) -> Iterator[dict[str, Any]]:
    cursor = first
    while True:
        page = fetch(cursor)
        if not page:
            return
        yield from page
        cursor = page[-1][key] + 1 if key == "leaf_index" else page[-1][key]


def replay_problems(runtime: Runtime) -> list[str]:
    """verify-log's record replay over the stored log and read model (no checkpoints)."""
    db, key = runtime.db, runtime.subject_key
    with db.read_sessions() as session:
        leaves = [
            (r.idx, bytes(r.leaf), bytes(r.leaf_hash))
            for r in session.execute(select(LogLeafRow).order_by(LogLeafRow.idx)).scalars()
        ]
    audit = RecordAudit(
        _paged(lambda start: audit_records.records_page(db, key, start, 1000), "leaf_index", 0),
        accounts=_paged(lambda after: audit_records.accounts_page(db, key, after, 1000), "cursor", ""),
        redemptions=_paged(lambda after: audit_records.redemptions_page(db, after, 1000), "cursor", ""),
    )
    report = verify_log([], iter(leaves), lambda a, b: {}, lambda size: b"", records=audit)
    return report.problems


@dataclass
class Park:
    runtime: Runtime
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    hours: int = 0
    flagged: list[str] = field(default_factory=list)
    activities: list[str] = field(default_factory=list)
    redemptions: list[tuple[str, str]] = field(default_factory=list)
    reward: str | None = None
    closed: bool = False
    enrolled: str | None = None
    source: Any = None
    bindings: list[str] = field(default_factory=list)

    _client: Any = None

    def __post_init__(self) -> None:
        enrollment.create_company(self.runtime.db, "acme", "Acme", self.now)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = chainkit.client(self.runtime)
        return self._client

    def headers(self, role: str, subject: str, org: str | None = None) -> dict[str, str]:
        return {**chainkit.auth(self.runtime, role, subject, org), "Idempotency-Key": str(uuid.uuid4())}

    def trip(self, employee: str, km: int, **extra: Any) -> None:
        self.hours += 2
        body = {
            "type": "metro",
            "occurred_at": (self.now - timedelta(hours=self.hours)).isoformat(),
            "distance_km": km,
            **extra,
        }
        answer = self.client.post(
            "/mp/v1/activities", json=body, headers=self.headers("employee", employee, "acme")
        )
        assert answer.status_code == 201, answer.text
        (self.flagged if answer.json()["status"] == "flagged" else self.activities).append(
            answer.json()["id"]
        )

    def run(self, operation: str, pick: int) -> None:
        client, admin = self.client, self.headers("company_admin", "adm-1", "acme")
        operator = self.headers("operator", "ops-1")
        employee = EMPLOYEES[pick % len(EMPLOYEES)]
        period = (self.now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        if operation == "trip":
            self.trip(employee, 3 + pick % 9, evidence_ref=f"photo:{pick}")
        elif operation == "long_trip":
            self.trip(employee, RIDE["distance_km"] + pick % 5, type=RIDE["type"])  # flagged: over 2 kg
        elif operation in ("approve", "reject") and self.flagged:
            activity = self.flagged.pop(pick % len(self.flagged))
            decision = {"decision": operation, "reason": "checked"}
            answer = client.post(f"/api/v1/companies/acme/reviews/{activity}", json=decision, headers=admin)
            assert answer.status_code == 200, answer.text
            if operation == "approve":
                self.activities.append(activity)
        elif operation == "reverse" and self.activities:
            activity = self.activities.pop(pick % len(self.activities))
            answer = client.post(
                f"/api/v1/activities/{activity}/reversal", json={"reason_code": "duplicate"}, headers=operator
            )
            assert answer.status_code == 201, answer.text
        elif operation == "redeem":
            if self.reward is None:
                reward = {"name": "Canteen coupon", "name_zh": "食堂券", "price_points": 3, "stock": 100}
                answer = client.post("/api/v1/rewards", json=reward, headers=operator)
                assert answer.status_code == 201, answer.text
                self.reward = answer.json()["id"]
            answer = client.post(
                "/mp/v1/redemptions",
                json={"reward_id": self.reward},
                headers=self.headers("employee", employee, "acme"),
            )
            assert answer.status_code in (201, 422), answer.text  # 422: not enough points yet
            if answer.status_code == 201:
                self.redemptions.append((answer.json()["id"], employee))
        elif operation == "cancel" and self.redemptions:
            redemption, owner = self.redemptions.pop(pick % len(self.redemptions))
            answer = client.post(
                f"/mp/v1/redemptions/{redemption}/cancel", headers=self.headers("employee", owner, "acme")
            )
            assert answer.status_code == 200, answer.text
        elif operation == "rules":
            document = {"employee_daily_points_cap": 1000 + pick % 500}
            answer = client.put("/api/v1/points/rules/companies/acme", json=document, headers=admin)
            assert answer.status_code == 200, answer.text
        elif operation == "correct" and self.activities:
            with self.runtime.db.read_sessions() as session:
                issued = session.get(
                    PointsTransferRow, derived_id("issuance", self.activities[pick % len(self.activities)])
                )
            if issued is not None:
                body = {
                    "id": str(uuid.uuid4()),
                    "reverses": issued.id,
                    "reason_code": "data_error",
                    "amount": 1,
                }
                answer = client.post("/api/v1/points/corrections", json=body, headers=operator)
                assert answer.status_code in (201, 409, 422), answer.text  # spent or fully reversed
        elif operation == "close" and not self.closed:
            answer = client.post(f"/api/v1/scope3/periods/{period}/close", headers=operator)
            assert answer.status_code == 201, answer.text
            self.closed = True
        elif operation == "restate" and self.closed:
            body = {"reason": "late records"}
            answer = client.post(f"/api/v1/scope3/periods/{period}/restatements", json=body, headers=operator)
            assert answer.status_code == 201, answer.text
        elif operation == "bind":
            if self.enrolled is None:
                enrolled = enrollment.enroll_employee(
                    self.runtime.db, "acme", "E1", None, None, timedelta(days=1), "setup", self.now
                )
                self.enrolled = enrolled.employee.id
            if self.source is None:
                self.source = integrations.register_source(
                    self.runtime.db, "gates", "Gates", "transit_gate", ["metro"], 10_000, self.now
                )[0]
            card = f"card-{pick}"
            code = integrations.issue_binding_code(
                self.runtime.db, self.source, str(uuid.uuid4()), card, self.runtime.subject_key, 300, self.now
            ).code
            body = {"kind": "transit_card", "identifier": card, "consent": True, "code": code}
            answer = client.post(
                "/mp/v1/bindings", json=body, headers=self.headers("employee", self.enrolled, "acme")
            )
            assert answer.status_code in (200, 201), answer.text
            if answer.status_code == 201:
                self.bindings.append(answer.json()["id"])
        elif operation == "unbind" and self.bindings and self.enrolled is not None:
            binding = self.bindings.pop(pick % len(self.bindings))
            answer = client.delete(
                f"/mp/v1/bindings/{binding}", headers=self.headers("employee", self.enrolled, "acme")
            )
            assert answer.status_code == 200, answer.text
        elif operation == "allocate":
            grant = {
                "id": str(uuid.uuid4()),
                "kind": "allocation",
                "company": "acme",
                "amount": 1 + pick % 50,
            }
            answer = client.post("/api/v1/points/transfers", json=grant, headers=operator)
            assert answer.status_code == 201, answer.text
        elif operation == "sign_off" and self.closed:
            auditor = self.headers("auditor", f"auditor-{pick % 3}")
            answer = client.post(
                f"/api/v1/scope3/periods/{period}/signoffs", json={"opinion": "unqualified"}, headers=auditor
            )
            assert answer.status_code in (200, 201, 409), answer.text


# --- Single edits of stored columns a leaf covers ---------------------------------------------------


@dataclass(frozen=True)
class Edit:
    table: Any
    column: str
    change: Callable[[Any], Any]
    named: Callable[[Any, bytes], str]
    """What the problems must name, from the row (and the subject key)."""


def _by_id(row: Any, _key: bytes) -> str:
    return str(row.id)


def _other(options: tuple[str, ...]) -> Callable[[Any], Any]:
    return lambda value: next(o for o in options if o != value)


def _account_name(row: Any, key: bytes) -> str:
    if row.id.startswith("employee:"):
        return "points account employee:" + subject_commitment(key, row.id.removeprefix("employee:"))
    return f"points account {row.id}"


EDITS = (
    Edit(ActivityRow, "co2e_avoided_g", lambda v: v + 1, _by_id),
    Edit(ActivityRow, "co2e_scope3_g", lambda v: v + 1, _by_id),
    Edit(ActivityRow, "type", _other(("bike", "metro")), _by_id),
    Edit(ActivityRow, "status", _other(("accepted", "rejected", "reversed", "flagged")), _by_id),
    Edit(ActivityRow, "points", lambda v: v + 1, _by_id),
    Edit(ActivityRow, "org_id", _other(("globex", "acme")), _by_id),
    Edit(ActivityRow, "occurred_at", lambda v: v - timedelta(days=1), _by_id),
    Edit(ActivityRow, "quantities", lambda v: {**v, "distance_km": "999"}, _by_id),
    Edit(PointsTransferRow, "amount", lambda v: v + 1, _by_id),
    Edit(PointsTransferRow, "kind", _other(("award", "issuance")), _by_id),
    Edit(PointsTransferRow, "activity_id", lambda v: "someone-else" if v else "a-1", _by_id),
    Edit(PointsAccountRow, "credits_posted", lambda v: v + 1, _account_name),
    Edit(PointsAccountRow, "debits_posted", lambda v: v - 1 if v > 0 else v, _account_name),
    Edit(CorrectionRow, "reason_code", _other(("fraud_suspected", "duplicate")), _by_id),
    Edit(ReviewRow, "decision", _other(("reject", "approve")), lambda row, _k: str(row.activity_id)),
    Edit(RedemptionRow, "price_points", lambda v: v + 1, lambda row, _k: f"redemption {row.id}"),
    Edit(RedemptionRow, "status", _other(("cancelled", "issued")), lambda row, _k: f"redemption {row.id}"),
    Edit(PeriodCloseRow, "summary_sha256", lambda v: "0x" + "00" * 32, _by_id),
    Edit(PeriodCloseRow, "cutoff_tree_size", lambda v: v + 1, _by_id),
    Edit(BindingRow, "revoked_at", lambda v: None if v else datetime.now(UTC), _by_id),
    Edit(BindingRow, "kind", _other(("bike_account", "transit_card")), _by_id),
    Edit(PeriodSignoffRow, "opinion", _other(("adverse", "unqualified")), _by_id),
    Edit(
        PointsRulesRow,
        "document",
        lambda v: {**v, "employee_daily_points_cap": 1},
        lambda row, _k: derived_id("points_rules", row.scope, str(row.version)),
    ),
)


def _apply_edit(session: Session, edit: Edit, pick: int, key: bytes) -> str | None:
    """Changes one column of one row; what must then be named (None: no row or no change)."""
    rows = list(session.execute(select(edit.table)).scalars())
    if not rows:
        return None
    row = rows[pick % len(rows)]
    before = getattr(row, edit.column)
    after = edit.change(before)
    if after == before:
        return None
    named = edit.named(row, key)
    setattr(row, edit.column, after)
    return named


def _runtime(directory: Path, templates: MigratedTemplates) -> Runtime:
    url = f"sqlite:///{directory / 'ledger.sqlite3'}"
    copy_migrated(url, templates)  # the session's migrated database, not a migration per example
    settings = chainkit.settings_for(
        directory / "var",
        url,
        "http://127.0.0.1:1",
        points_per_kg=100,
    )
    return build_runtime(settings, with_chain=False)


def check(operations: list[tuple[str, int]], edit_at: int, pick: int, templates: MigratedTemplates) -> bool:
    """Runs the operations, checks the replay, applies one edit and checks it is named; whether an
    edit could be made (the sequence may have created no row of the edited table)."""
    with tempfile.TemporaryDirectory() as directory:
        runtime = _runtime(Path(directory), templates)
        try:
            park = Park(runtime)
            for operation, choice in operations:
                park.run(operation, choice)
            problems = replay_problems(runtime)
            assert problems == [], (operations, problems)
            edit = EDITS[edit_at % len(EDITS)]
            with runtime.db.write_sessions() as session, session.begin():
                named = _apply_edit(session, edit, pick, runtime.subject_key)
            if named is None:
                return False
            problems = replay_problems(runtime)
            assert any(named in problem for problem in problems), (
                edit.table.__name__,
                edit.column,
                named,
                problems,
            )
            return True
        finally:
            runtime.db.dispose()


operations = st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 1000)), min_size=4, max_size=10)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, st.integers(0, len(EDITS) - 1), st.integers(0, 1000))
def test_legitimate_operations_replay_and_single_edits_are_named(
    migrated_templates: MigratedTemplates, ops: list[tuple[str, int]], edit_at: int, pick: int
) -> None:
    check([("trip", 1), ("long_trip", 2), *ops], edit_at, pick, migrated_templates)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 1000)), min_size=8, max_size=40),
    st.integers(0, len(EDITS) - 1),
    st.integers(0, 1000),
)
def test_legitimate_operations_replay_and_single_edits_are_named_long(
    migrated_templates: MigratedTemplates, ops: list[tuple[str, int]], edit_at: int, pick: int
) -> None:
    check([("trip", 1), ("long_trip", 2), *ops], edit_at, pick, migrated_templates)


EVERY_KIND = [
    ("trip", 1),
    ("trip", 2),
    ("long_trip", 3),
    ("long_trip", 4),
    ("approve", 0),
    ("reject", 0),
    ("trip", 5),
    ("redeem", 1),
    ("redeem", 1),
    ("cancel", 0),
    ("rules", 7),
    ("reverse", 0),
    ("correct", 0),
    ("close", 0),
    ("restate", 0),
    ("sign_off", 1),
    ("bind", 1),
    ("bind", 2),
    ("unbind", 0),
    ("allocate", 3),
]
"""A sequence that creates a row of every table the edits touch."""


@pytest.fixture(scope="module")
def every_kind(
    tmp_path_factory: pytest.TempPathFactory, migrated_templates: MigratedTemplates
) -> Iterator[Runtime]:
    runtime = _runtime(tmp_path_factory.mktemp("every-kind"), migrated_templates)
    park = Park(runtime)
    for operation, choice in EVERY_KIND:
        park.run(operation, choice)
    assert replay_problems(runtime) == []
    yield runtime
    runtime.db.dispose()


@pytest.mark.parametrize(
    "edit_at", range(len(EDITS)), ids=[f"{e.table.__tablename__}.{e.column}" for e in EDITS]
)
def test_every_covered_column_edited_is_named(every_kind: Runtime, edit_at: int) -> None:
    """Every edit of the catalogue once, then undone (the log replays clean again)."""
    runtime, edit = every_kind, EDITS[edit_at]
    with runtime.db.write_sessions() as session, session.begin():
        rows = list(session.execute(select(edit.table)).scalars())
        assert rows, f"the sequence made no {edit.table.__tablename__} row"
        before = getattr(rows[0], edit.column)
        named = _apply_edit(session, edit, 0, runtime.subject_key)
        identity = session.identity_key(instance=rows[0])[1]
    assert named is not None
    problems = replay_problems(runtime)
    assert any(named in problem for problem in problems), (named, problems)
    with runtime.db.write_sessions() as session, session.begin():
        setattr(session.get(edit.table, identity), edit.column, before)
    assert replay_problems(runtime) == []


def test_small_record_pages_give_the_same_records(every_kind: Runtime) -> None:
    db, key = every_kind.db, every_kind.subject_key
    whole = audit_records.records_page(db, key, 0, 1000)
    paged = list(_paged(lambda start: audit_records.records_page(db, key, start, 3), "leaf_index", 0))
    assert paged == whole and len({r["leaf_index"] for r in whole}) == len(whole) > 20
    assert [r["leaf_index"] for r in audit_records.records_page(db, key, 5, 2)] == [
        r["leaf_index"] for r in whole if r["leaf_index"] >= 5
    ][:2]


def test_a_seeded_demo_park_replays_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A month of the demo park (at a tenth of its size) is a log the stored state agrees with."""
    settings = Settings(data_dir=tmp_path, subject_key="cd" * 32)
    assert main(["demo", "seed", "--months", "1", "--scale", "0.1"], settings=settings) == 0
    capsys.readouterr()
    runtime = build_runtime(settings, with_chain=False)
    try:
        with runtime.db.read_sessions() as session:
            kinds = set(session.execute(select(LogLeafRow.kind).distinct()).scalars())
        assert {"activity", "points_transfer"} <= kinds
        assert replay_problems(runtime) == []
    finally:
        runtime.db.dispose()
