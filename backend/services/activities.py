"""Use case: record an employee's low-carbon activity.

One write transaction stores the activity and appends its leaf to the transparency log, so either
both exist or neither does. The idempotency key is the client's: the same key with the same body
returns the original result, with another body it is a conflict; a retry never stores twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import ActivityRow
from backend.domain.activities import normalize
from backend.domain.errors import IdempotencyConflict, InvalidInput, NotFound
from backend.domain.points_rules import IssuanceRules
from backend.domain.recognition import MAGNITUDE_FIELDS
from backend.domain.records import canonical_json, leaf_bytes, new_salt, sha256_hex, subject_commitment
from backend.observability import metrics
from backend.services import recognition
from backend.services.factor_sets import set_in_force
from backend.services.issuance import issue_for_activity

MAX_PAGE_SIZE = 100
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    subject_id: str
    org_id: str | None
    dept_id: str | None = None
    source: str = "self_reported"
    """Where the record came from: ``self_reported`` (the mini-program) or ``integration:<name>``."""


@dataclass(frozen=True)
class IssuancePolicy:
    points_per_kg: int
    subject_key: bytes
    max_age: timedelta
    clock_skew: timedelta
    points_rules: IssuanceRules | None = None
    """Settings-level issuance rules under the park's document; ``points_per_kg`` alone when unset."""
    baseline: str | None = None
    """The park's avoided-emission baseline (``CARBON_BASELINE``); None: the factor set's default."""
    screening: recognition.Screening | None = None
    """Recognition rules and rate limits; None records without screening (trusted imports, tests)."""

    @property
    def rules_defaults(self) -> IssuanceRules:
        return self.points_rules or IssuanceRules(points_per_kg=self.points_per_kg)


@dataclass(frozen=True)
class RecordedActivity:
    row: ActivityRow
    created: bool


def request_hash(payload: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(payload))


def _check_time(occurred_at: datetime, now: datetime, policy: IssuancePolicy) -> None:
    if occurred_at > now + policy.clock_skew:
        raise InvalidInput("occurred_at", "is in the future")
    if occurred_at < now - policy.max_age:
        raise InvalidInput("occurred_at", f"is older than {policy.max_age.days} days")


def _existing(session: Any, caller: Caller, key: str) -> ActivityRow | None:
    stmt = select(ActivityRow).where(
        ActivityRow.subject_id == caller.subject_id, ActivityRow.idempotency_key == key
    )
    row: ActivityRow | None = session.execute(stmt).scalar_one_or_none()
    return row


def _replay(row: ActivityRow, digest: str) -> RecordedActivity:
    if row.request_hash != digest:
        raise IdempotencyConflict("this Idempotency-Key was already used with a different request body")
    metrics.observe_activity(row.type, "replayed")
    return RecordedActivity(row, created=False)


SCREENED_INPUTS = (*MAGNITUDE_FIELDS, "duration_min")
"""Quantities the recognition screen reads, in the units it reads them (km, minutes, kg, kWh)."""


def _screening_quantities(quantities: dict[str, Any], inputs: dict[str, str]) -> dict[str, Any]:
    """The reported quantities with those the calculation normalized (``distance`` in metres or
    miles → ``distance_km``, ``duration`` in hours → ``duration_min``, …): a trip given in other
    units is screened, and compared for duplicates, exactly like one given in km and minutes."""
    return {**quantities, **{name: inputs[name] for name in SCREENED_INPUTS if name in inputs}}


def _screen(
    session: Any,
    caller: Caller,
    activity_type: str,
    quantities: dict[str, Any],
    occurred_at: datetime,
    co2e_avoided_g: int,
    policy: IssuancePolicy,
    now: datetime,
    straight_km: Decimal | None,
) -> recognition.Screened | None:
    """Decides accepted / flagged (needs review), or raises for rejected (nothing is stored)."""
    if policy.screening is None:
        return None
    return recognition.screen(
        session,
        caller.subject_id,
        caller.source,
        activity_type,
        quantities,
        occurred_at,
        co2e_avoided_g,
        policy.screening,
        now,
        straight_km,
    )


def record_in_session(
    session: Session,
    caller: Caller,
    idempotency_key: str,
    payload: dict[str, Any],
    occurred_at: datetime,
    policy: IssuancePolicy,
    now: datetime,
    straight_km: Decimal | None = None,
) -> RecordedActivity:
    """Records one activity in the caller's write transaction, which must hold the log head lock.

    Several records share one transaction on the bulk path (an integration's delivery), each in
    its own savepoint so that a rejected record leaves nothing behind.
    """
    digest = request_hash(payload)
    activity_type = str(payload["type"])
    log = SqlLogStore(session)
    existing = _existing(session, caller, idempotency_key)
    if existing is not None:
        return _replay(existing, digest)
    _check_time(occurred_at, now, policy)
    factor_set = set_in_force(occurred_at, session)
    calc = normalize(activity_type, payload, factor_set, baseline=policy.baseline)
    quantities = {k: v for k, v in payload.items() if k not in ("type", "occurred_at")}
    screened = _screen(
        session,
        caller,
        activity_type,
        _screening_quantities(quantities, calc.inputs),
        occurred_at,
        calc.co2e_avoided_g,
        policy,
        now,
        straight_km,
    )
    status = screened.status if screened else "accepted"
    activity_id = str(uuid.uuid4())
    body = {
        "type": activity_type,
        "occurred_at": occurred_at.isoformat(),
        "recorded_at": now.isoformat(),
        "org": caller.org_id,
        "dept": caller.dept_id,
        "source": caller.source,
        "quantities": quantities,
        "status": status,
        "co2e_avoided_g": calc.co2e_avoided_g,
        "co2e_scope3_g": calc.co2e_scope3_g,
        "scope3_category": calc.scope3_category,
        "factor_set": {"version": factor_set.version, "sha256": "0x" + factor_set.content_hash},
        "calculation": calc.public(),
    }
    subject = subject_commitment(policy.subject_key, caller.subject_id)
    leaf = leaf_bytes("activity", activity_id, new_salt(), subject, body)
    (leaf_index,) = log.append([PendingLeaf("activity", activity_id, leaf)], now)
    row = ActivityRow(
        id=activity_id,
        subject_id=caller.subject_id,
        org_id=caller.org_id,
        department_id=caller.dept_id,
        source=caller.source,
        idempotency_key=idempotency_key,
        request_hash=digest,
        type=activity_type,
        occurred_at=occurred_at,
        quantities=quantities,
        co2e_avoided_g=calc.co2e_avoided_g,
        co2e_scope3_g=calc.co2e_scope3_g,
        scope3_category=calc.scope3_category,
        points=0,
        factor_set=factor_set.version,
        calculation=calc.public(),
        status=status,
        leaf_index=leaf_index,
        created_at=now,
    )
    session.add(row)
    if screened is not None:
        session.flush()
        recognition.remember(session, row, screened, now)
    if row.status == "accepted":
        on_activity_accepted(session, row, now, policy.rules_defaults)
    return RecordedActivity(row, created=True)


def observe_recorded(result: RecordedActivity) -> None:
    """Logs and counts a recorded activity once its transaction has committed."""
    row = result.row
    if not result.created:
        return
    logger.info("recorded activity %s (%s) as leaf %d", row.id, row.type, row.leaf_index)
    metrics.observe_activity(row.type, row.status)
    metrics.observe_points("issued", row.points)


def record_activity(
    db: Database,
    caller: Caller,
    idempotency_key: str,
    payload: dict[str, Any],
    occurred_at: datetime,
    policy: IssuancePolicy,
    now: datetime | None = None,
    straight_km: Decimal | None = None,
) -> RecordedActivity:
    """Validates, computes, stores and logs one activity; replays return the stored result."""
    now = now or datetime.now(UTC)
    digest = request_hash(payload)
    activity_type = str(payload["type"])
    try:
        with db.write_sessions() as session, session.begin():
            SqlLogStore(session).lock_head()
            result = record_in_session(
                session, caller, idempotency_key, payload, occurred_at, policy, now, straight_km
            )
        observe_recorded(result)
        return result
    except InvalidInput as exc:
        metrics.observe_activity(activity_type, "rejected", exc.field)
        raise
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its result.
        with db.read_sessions() as session:
            existing = _existing(session, caller, idempotency_key)
            if existing is None:
                raise
            return _replay(existing, digest)


def on_activity_accepted(
    session: Session, row: ActivityRow, now: datetime, rules_defaults: IssuanceRules | None = None
) -> int:
    """Issues the carbon points an accepted activity earns, in the caller's write transaction.

    Applies the issuance rules in force for the employee's company (rate per kg avoided per type,
    daily count and points caps per type, daily and monthly caps per employee, cool-down between
    identical actions), posts the issuance transfer (park issuance → employee) with its
    ``points_transfer`` leaf, sets ``row.points`` and returns the points issued. Calling it again
    for the same activity returns what was issued the first time. For an activity approved after
    review, set its status to ``accepted`` first; ``rules_defaults`` should be the runtime's
    ``issuance.rules_defaults`` (the built-in defaults otherwise).
    """
    return issue_for_activity(session, row, now, rules_defaults or IssuanceRules())


def get_activity(db: Database, caller: Caller, activity_id: str) -> ActivityRow:
    with db.read_sessions() as session:
        row = session.get(ActivityRow, activity_id)
        if row is None or row.subject_id != caller.subject_id:
            raise NotFound(f"activity {activity_id} not found")
        return row


def list_activities(db: Database, caller: Caller, limit: int, offset: int) -> tuple[list[ActivityRow], int]:
    with db.read_sessions() as session:
        where = ActivityRow.subject_id == caller.subject_id
        total = int(session.execute(select(func.count()).select_from(ActivityRow).where(where)).scalar_one())
        stmt = (
            select(ActivityRow)
            .where(where)
            .order_by(ActivityRow.occurred_at.desc(), ActivityRow.id)
            .limit(min(limit, MAX_PAGE_SIZE))
            .offset(offset)
        )
        return list(session.execute(stmt).scalars()), total
