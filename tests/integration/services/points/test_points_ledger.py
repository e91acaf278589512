"""The points ledger against real SQLite and PostgreSQL: idempotent transfers, no overdraft,
corrections in the history, the issuance path of activities, expiry, checkpoint totals."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from backend.adapters.database import Database
from backend.adapters.orm import ActivityRow, Base, LogLeafRow
from backend.adapters.orm_points import PointsAccountRow, PointsTransferRow
from backend.domain.errors import (
    Conflict,
    InsufficientPoints,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TransferConflict,
)
from backend.domain.points import points as ledger
from backend.domain.points.points import Transfer, TransferKind
from backend.services.anchoring.anchoring import checkpoint_meta
from backend.services.identity.tokens import Principal
from backend.services.points import points, points_rules, rewards
from backend.services.recording.activities import (
    Caller,
    IssuancePolicy,
    on_activity_accepted,
    record_activity,
)
from tests.integration.points_support import (
    NOW,
    SUBJECT_KEY,
    add_reward,
    balance,
    count,
    employee,
    enroll,
    fund,
    leaves_of_kind,
)

# figures here are hand-computed against the solo petrol car baseline
POLICY = IssuancePolicy(
    100, SUBJECT_KEY, timedelta(days=366), timedelta(minutes=5), baseline="petrol_car_solo"
)
WHEN = datetime(2026, 11, 20, 8, 10, tzinfo=UTC)


def _metro(at: datetime, km: str = "12.4") -> dict[str, object]:
    return {"type": "metro", "occurred_at": at.isoformat(), "distance_km": km}


def test_tables_match_the_migration(db: Database) -> None:
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_transfer_id_is_the_idempotency_key(db: Database) -> None:
    transfer = Transfer(
        str(uuid.uuid4()), ledger.PARK_ISSUANCE, ledger.employee_account("a"), 40, TransferKind.AWARD
    )
    with db.write_sessions() as session, session.begin():
        first = points.post_transfer(session, transfer, subject=None, now=NOW)
    with db.write_sessions() as session, session.begin():
        again = points.post_transfer(session, transfer, subject=None, now=NOW + timedelta(hours=1))
    assert first.created and not again.created and again.row.leaf_index == first.row.leaf_index
    other = Transfer(transfer.id, transfer.debit_account, transfer.credit_account, 41, TransferKind.AWARD)
    with pytest.raises(TransferConflict), db.write_sessions() as session, session.begin():
        points.post_transfer(session, other, subject=None, now=NOW)
    assert balance(db, "a") == 40 and count(db, PointsTransferRow) == 1
    assert leaves_of_kind(db, "points_transfer") == 1


def test_no_overdraft_and_the_database_refuses_one_too(db: Database) -> None:
    fund(db, "a", 50)
    spend = Transfer(
        str(uuid.uuid4()), ledger.employee_account("a"), ledger.REDEMPTION_SINK, 51, TransferKind.REDEMPTION
    )
    with pytest.raises(InsufficientPoints), db.write_sessions() as session, session.begin():
        points.post_transfer(session, spend, subject=None, now=NOW)
    assert balance(db, "a") == 50 and leaves_of_kind(db, "points_transfer") == 1
    # Should a code path ever skip the check, the CHECK constraint still stops the overdraft.
    with pytest.raises(IntegrityError), db.write_sessions() as session, session.begin():
        session.execute(
            update(PointsAccountRow)
            .where(PointsAccountRow.id == ledger.employee_account("a"))
            .values(debits_posted=PointsAccountRow.credits_posted + 1)
        )
    assert points.audit_ledger(db).ok


def test_corrections_reverse_with_a_reason_and_show_in_the_history(db: Database) -> None:
    enroll(db, "acme", "alice")
    recorded = record_activity(db, Caller("alice", "acme"), "key-corr-0001", _metro(WHEN), WHEN, POLICY)
    assert recorded.row.points == 125
    (issuance,) = points.find_transfers(db, org_id=None, activity_id=recorded.row.id)
    correction_id = str(uuid.uuid4())

    def correct(
        amount: int | None, tid: str = correction_id, org: str | None = None
    ) -> points.PostedTransfer:
        return points.correct(
            db, SUBJECT_KEY, transfer_id=tid, reverses_id=issuance.id, reason_code="factor_error",
            amount=amount, note="factor set 2026.1 overstated metro", actor="op-1", actor_org=org, now=NOW,
        )  # fmt: skip

    first = correct(25)
    assert first.created and balance(db, "alice") == 100
    assert not correct(25).created  # replay: the original result
    with pytest.raises(TransferConflict):
        correct(26)
    with pytest.raises(InvalidInput):
        correct(101, tid=str(uuid.uuid4()))  # only 100 remain to reverse
    with pytest.raises(NotFound):  # another company's transfers do not exist for its admin
        correct(None, tid=str(uuid.uuid4()), org="globex")
    rest = correct(None, tid=str(uuid.uuid4()), org="acme")
    assert rest.row.amount == 100 and balance(db, "alice") == 0

    lines, total, bal = points.history(db, "alice", limit=10, offset=0)
    assert total == 3 and bal == 0
    assert [(line.transfer.kind, line.amount, line.balance_after) for line in lines] == [
        ("correction", -100, 0),
        ("correction", -25, 100),
        ("issuance", 125, 125),
    ]
    assert all(line.activity is not None and line.activity.id == recorded.row.id for line in lines)
    assert lines[1].transfer.reason_code == "factor_error" and lines[1].transfer.reverses_id == issuance.id
    with db.read_sessions() as session:
        leaf = session.get(LogLeafRow, lines[1].transfer.leaf_index)
        assert leaf is not None
    logged = json.loads(leaf.leaf)
    assert logged["body"]["reason_code"] == "factor_error" and logged["body"]["debit"] == "employee"
    assert b"alice" not in leaf.leaf and b"overstated" not in leaf.leaf  # no id, no free-text note
    assert points.audit_ledger(db).ok


def test_activity_approved_after_review_is_issued_once(db: Database) -> None:
    # Recorded while the park paid nothing for metro (as good as "issued nothing until approved").
    points_rules.put_document(db, "park", {"types": {"metro": {"points_per_kg": 0}}}, "op-1", NOW)
    recorded = record_activity(db, Caller("alice", "acme"), "key-review-01", _metro(WHEN), WHEN, POLICY)
    assert recorded.row.points == 0 and count(db, PointsTransferRow) == 0
    points_rules.put_document(db, "park", {}, "op-1", NOW)
    with db.write_sessions() as session, session.begin():
        row = session.get(ActivityRow, recorded.row.id)
        assert row is not None
        row.status = "flagged"
        with pytest.raises(Conflict):
            on_activity_accepted(session, row, NOW, POLICY.rules_defaults)
        row.status = "accepted"
        assert on_activity_accepted(session, row, NOW, POLICY.rules_defaults) == 125
        assert on_activity_accepted(session, row, NOW, POLICY.rules_defaults) == 125
    assert balance(db, "alice") == 125 and count(db, PointsTransferRow) == 1


def test_caps_and_cooldown_on_a_working_week(db: Database) -> None:
    enroll(db, "globex", "bob")
    rules = {
        "types": {"metro": {"daily_count_cap": 3, "cooldown_s": 1800}},
        "employee_daily_points_cap": 300,
        "employee_monthly_points_cap": 450,
    }
    points_rules.put_document(db, "park", rules, "op-1", NOW)
    day1 = datetime(2026, 11, 19, 8, 10, tzinfo=UTC) - timedelta(hours=8)  # 08:10 in the park
    trips = [
        (day1, 125),  # full award
        (day1 + timedelta(minutes=10), 0),  # cool-down: the same trip tapped twice
        (day1 + timedelta(minutes=50), 125),
        (day1 + timedelta(hours=10), 50),  # the employee's daily cap of 300 leaves 50
        (day1 + timedelta(hours=11), 0),  # three rewarded metro trips already today
        (day1 + timedelta(days=1), 125),  # a new day; the month has 450 - 300 = 150 left
        (day1 + timedelta(days=1, hours=1), 25),  # the monthly cap leaves 25
        (day1 + timedelta(days=2), 0),  # nothing left this month
    ]
    now = datetime(2026, 11, 25, tzinfo=UTC)
    earned = [
        record_activity(
            db, Caller("alice", "acme"), f"key-cap-{i:04d}", _metro(at), at, POLICY, now=now
        ).row.points
        for i, (at, _) in enumerate(trips)
    ]
    assert earned == [expected for _, expected in trips]
    assert balance(db, "alice") == 450
    # Bob of another company is not affected by Alice's usage; his company tightens the cool-down.
    points_rules.put_document(db, "company:globex", {"default_type": {"cooldown_s": 7200}}, "op-1", NOW)
    bob = Caller("bob", "globex")
    first = record_activity(db, bob, "key-cap-b001", _metro(day1), day1, POLICY, now=now)
    second = record_activity(
        db, bob, "key-cap-b002", _metro(day1 + timedelta(hours=1)), day1, POLICY, now=now
    )
    assert (first.row.points, second.row.points) == (125, 0)
    (issue,) = points.find_transfers(db, org_id="globex", activity_id=first.row.id)
    assert issue.details["rules"] == {"park": 1, "company": 1} and issue.details["base_points"] == 125


def test_expiry_first_in_first_out_and_idempotent(db: Database) -> None:
    points_rules.put_document(db, "park", {"expiry_months": 12}, "op-1", NOW)
    jan, jun = datetime(2025, 1, 10, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)
    fund(db, "alice", 100, now=jan)
    fund(db, "alice", 50, now=jun)
    fund(db, "bob", 80, now=jun)
    reward = add_reward(db, price=30, stock=5, now=jan)
    rewards.redeem(
        db, SUBJECT_KEY, employee("alice"), reward, "redeem-exp-1", datetime(2025, 3, 1, tzinfo=UTC)
    )
    months = points_rules.park_rules(db, POLICY.rules_defaults).expiry_months
    assert months == 12

    first = points.expire_due(db, SUBJECT_KEY, months, datetime(2026, 1, 15, tzinfo=UTC))
    assert (first.accounts, first.points) == (1, 70)  # 100 earned in January, 30 of them spent
    assert balance(db, "alice") == 50 and balance(db, "bob") == 80
    again = points.expire_due(db, SUBJECT_KEY, months, datetime(2026, 1, 15, 18, tzinfo=UTC))
    assert again.points == 0
    later = points.expire_due(db, SUBJECT_KEY, months, datetime(2026, 6, 2, tzinfo=UTC))
    assert (later.accounts, later.points) == (2, 130)
    assert balance(db, "alice") == 0 and balance(db, "bob") == 0
    lines, _, _ = points.history(db, "alice", limit=10, offset=0)
    assert [(line.transfer.kind, line.amount) for line in lines[:2]] == [("expiry", -50), ("expiry", -70)]
    with db.read_sessions() as session:
        totals = points.totals(session)
    assert (totals["issued"], totals["redeemed"], totals["expired"]) == (230, 30, 200)
    assert points.audit_ledger(db).ok


def test_expiry_off_by_default(db: Database) -> None:
    fund(db, "alice", 100, now=datetime(2020, 1, 1, tzinfo=UTC))
    months = points_rules.park_rules(db, POLICY.rules_defaults).expiry_months
    assert points.expire_due(db, SUBJECT_KEY, months, NOW).points == 0


def test_checkpoint_meta_carries_points_totals(db: Database) -> None:
    record_activity(db, Caller("alice", "acme"), "key-meta-0001", _metro(WHEN), WHEN, POLICY)
    reward = add_reward(db, price=100, stock=2)
    rewards.redeem(db, SUBJECT_KEY, employee("alice"), reward, "redeem-meta-1", NOW)
    # Leaves: 0 the activity, 1 its issuance, 2 the redemption.
    with db.read_sessions() as session:
        before_redeem = json.loads(checkpoint_meta(session, 2))
        full = json.loads(checkpoint_meta(session, 3))
    assert before_redeem["points"]["issued"] == 125 and before_redeem["points"]["redeemed"] == 0
    assert full["points"]["issued"] == 125 and full["points"]["redeemed"] == 100
    assert full["points"]["by_kind"]["redemption"] == 100 and full["points"]["expired"] == 0


def test_company_pool_allocation_and_award(db: Database) -> None:
    operator = Principal("operator", "op-1", None)
    admin = Principal("company_admin", "hr-1", "acme")
    enroll(db, "acme", "alice", "bob")

    def grant(kind: TransferKind, amount: int, actor: Principal, employee_id: str | None = None) -> None:
        points.grant(
            db, SUBJECT_KEY, transfer_id=str(uuid.uuid4()), kind=kind, org_id="acme", employee=employee_id,
            amount=amount, note=None, actor=actor, now=NOW,
        )  # fmt: skip

    with pytest.raises(PermissionDenied):
        grant(TransferKind.ALLOCATION, 1000, admin)
    grant(TransferKind.ALLOCATION, 1000, operator)
    grant(TransferKind.AWARD, 300, admin, "alice")
    with pytest.raises(InsufficientPoints):
        grant(TransferKind.AWARD, 701, admin, "bob")
    with pytest.raises(PermissionDenied):
        grant(TransferKind.AWARD, 1, Principal("company_admin", "hr-2", "globex"), "bob")
    assert balance(db, "alice") == 300
    with db.read_sessions() as session:
        assert points.balance_of(session, ledger.company_pool_account("acme")).points == 700
    assert points.audit_ledger(db).ok
