"""Role leases (backend/services/roles.py, backend/entrypoints/worker/elector.py) on SQLite and PostgreSQL."""

from __future__ import annotations

from backend.adapters.database import Database
from backend.entrypoints.worker.elector import Elector
from backend.services import roles
from tests.waiting import wait_for


def test_one_holder_at_a_time_and_takeover_after_expiry_with_a_new_epoch(db: Database) -> None:
    first = roles.acquire(db, "anchor", "a", lease_s=1.0)
    assert first is not None and first.epoch == 1
    assert roles.acquire(db, "anchor", "b", lease_s=1.0) is None  # a's lease runs
    renewed = roles.acquire(db, "anchor", "a", lease_s=1.0)
    assert renewed is not None and renewed.epoch == 1  # a renewal keeps the epoch
    assert roles.still_holds(db, renewed)
    # b gets the role as soon as a's unrenewed lease has run out, not before
    taken = wait_for(
        "a's lease to run out", lambda: roles.acquire(db, "anchor", "b", lease_s=30.0), timeout_s=10
    )
    assert taken.epoch == 2
    assert not roles.still_holds(db, renewed)  # a is fenced off: its epoch is over
    assert roles.acquire(db, "anchor", "a", lease_s=30.0) is None
    assert [(row.role, row.holder, row.epoch) for row in roles.holders(db)] == [("anchor", "b", 2)]


def test_roles_are_independent_and_a_release_hands_over_at_once(db: Database) -> None:
    lease = roles.acquire(db, "anchor", "a", lease_s=60.0)
    assert lease is not None
    assert roles.acquire(db, "feed", "b", lease_s=60.0) is not None
    roles.release(db, lease)
    taken = roles.acquire(db, "anchor", "b", lease_s=60.0)
    assert taken is not None and taken.epoch == 2


def test_an_elector_runs_a_guarded_job_only_while_it_holds_the_role(db: Database) -> None:
    ran: list[str] = []
    first, second = Elector(db, lease_s=60.0, holder="first"), Elector(db, lease_s=60.0, holder="second")
    job_first = first.guarded("expiry", lambda: ran.append("first"))
    job_second = second.guarded("expiry", lambda: ran.append("second"))
    job_first()
    job_second()
    job_first()
    assert ran == ["first", "first"]
    assert set(first.held()) == {"expiry"} and second.held() == {}
    first.stop()  # a clean stop releases the role: the other takes it on its next run
    job_second()
    assert ran == ["first", "first", "second"]
    second.stop()
