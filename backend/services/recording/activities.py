"""Use case: record an employee's low-carbon activity.

One write transaction stores the activity and appends its leaf to the transparency log, so either
both exist or neither does. Integrations deliver many activities at once: :func:`record_batch`
records them all in one transaction with a fixed number of reads and writes per batch, and a
single activity is a batch of one, so both paths apply exactly the same rules. The idempotency
key is the client's: the same key with the same body returns the original result, with another
body it is a conflict; a retry never stores twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import ActivityRow, Base
from backend.adapters.orm_integrations import FootprintRow
from backend.domain import idempotency
from backend.domain.accounting.activities import normalize
from backend.domain.errors import CarbonLedgerError, IdempotencyConflict, InvalidInput, NotFound, RateLimited
from backend.domain.log.commitments import FREE_TEXT_QUANTITIES, committed_quantities
from backend.domain.log.record_kinds import ActivityBody, encode
from backend.domain.log.records import subject_commitment
from backend.domain.points import points as ledger
from backend.domain.points.points import Transfer
from backend.domain.points.points_rules import IssuanceRules
from backend.domain.recording.recognition import MAGNITUDE_FIELDS
from backend.domain.states import ActivityStatus
from backend.observability import metrics
from backend.services.accounting.factor_sets import SetsInForce
from backend.services.log import log_locks, subject_keys
from backend.services.points.issuance import (
    ISSUABLE_STATUS,
    Issuance,
    IssuanceFacts,
    decide_issuance,
    issue_for_activity,
    usage_window,
)
from backend.services.points.points import (
    DEFERRED_ACCOUNTS,
    apply_to_accounts,
    lock_accounts,
    transfer_leaf,
    transfer_row,
)
from backend.services.points.points_rules import RulesInForce, rules_in_force
from backend.services.recording import corrections, recognition

MAX_PAGE_SIZE = 100
LIVE = (ActivityStatus.ACCEPTED, ActivityStatus.FLAGGED)
"""Statuses of an activity a later submission may still supersede."""
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    subject_id: str
    org_id: str | None
    dept_id: str | None = None
    source: str = "self_reported"
    """Where the record came from: ``self_reported`` (the mini-program) or ``integration:<name>``."""
    earns_points: bool = True
    """False for the company's own inventory data (a waste contractor's deliveries): recorded and
    counted, credited to no one."""


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
class ActivityView:
    """A stored activity as its owner sees it: what the routes show, under the public names (the
    routes convert it with pydantic's ``from_attributes``; no ORM row leaves the services)."""

    id: str
    type: str
    status: ActivityStatus
    occurred_at: datetime
    recorded_at: datetime
    quantities: dict[str, Any]
    co2e_avoided_g: int
    co2e_scope3_g: int
    scope3_category: int | None
    points: int
    factor_set: str
    calculation: dict[str, Any]
    leaf_index: int | None
    """None until the sequencer has logged it (``CARBON_SEQUENCING=queued``)."""

    @classmethod
    def of(cls, row: ActivityRow) -> ActivityView:
        same = {f.name: getattr(row, f.name) for f in fields(cls) if f.name != "recorded_at"}
        return cls(**same, recorded_at=row.created_at)

    @property
    def receipt_url(self) -> str:
        return f"/mp/v1/activities/{self.id}/receipt"


@dataclass(frozen=True)
class RecordedActivity:
    row: ActivityRow
    created: bool

    @property
    def view(self) -> ActivityView:
        return ActivityView.of(self.row)


def _timely(occurred_at: datetime, now: datetime, policy: IssuancePolicy) -> bool:
    return now - policy.max_age <= occurred_at <= now + policy.clock_skew


def check_time(occurred_at: datetime, now: datetime, policy: IssuancePolicy) -> None:
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


def _existing_many(session: Session, drafts: Sequence[Draft]) -> dict[tuple[str, str], ActivityRow]:
    subjects = sorted({d.caller.subject_id for d in drafts})
    keys = sorted({d.idempotency_key for d in drafts})
    stmt = select(ActivityRow).where(
        ActivityRow.subject_id.in_(subjects), ActivityRow.idempotency_key.in_(keys)
    )
    return {(row.subject_id, row.idempotency_key): row for row in session.execute(stmt).scalars()}


def _replay(row: ActivityRow, digest: str) -> RecordedActivity:
    idempotency.check_replay(row.request_hash, digest)
    metrics.observe_activity(row.type, "replayed")
    return RecordedActivity(row, created=False)


SCREENED_INPUTS = (*MAGNITUDE_FIELDS, "duration_min")
"""Quantities the recognition screen reads, in the units it reads them (km, minutes, kg, kWh)."""


def _screening_quantities(quantities: dict[str, Any], inputs: dict[str, str]) -> dict[str, Any]:
    """The reported quantities with those the calculation normalized (``distance`` in metres or
    miles → ``distance_km``, ``duration`` in hours → ``duration_min``, …): a trip given in other
    units is screened, and compared for duplicates, exactly like one given in km and minutes."""
    return {**quantities, **{name: inputs[name] for name in SCREENED_INPUTS if name in inputs}}


@dataclass(frozen=True)
class Draft:
    """One activity to record: who reports it, under which idempotency key, and what."""

    caller: Caller
    idempotency_key: str
    payload: dict[str, Any]
    occurred_at: datetime
    straight_km: Decimal | None = None
    """Straight-line distance between the trip's ends, when a source sent them."""


Outcome = RecordedActivity | CarbonLedgerError
"""What recording one draft gave: the activity (new or replayed) or the error that refused it."""


@dataclass
class _Accepted:
    row: ActivityRow
    leaf: bytes
    footprint: FootprintRow | None
    subject: str
    issuance: Issuance | None = None
    earns_points: bool = True
    supersedes: str | None = None
    """A self-report of the same trip this primary record replaces (reversed once this is written)."""

    @property
    def transfer(self) -> Transfer | None:
        """The issuance transfer, when the activity earned points."""
        return self.issuance.transfer if self.issuance else None


class _Batch:
    """Records drafts in order inside one write transaction: reads what every rule needs once for
    the whole batch, decides each draft in memory (each seeing the ones before it, as if they had
    come one by one), then writes every row and leaf in a few statements. A refused draft writes
    nothing; the decisions are made before anything is written."""

    def __init__(self, session: Session, policy: IssuancePolicy, now: datetime) -> None:
        self.session = session
        self.policy = policy
        self.now = now
        self.sets = SetsInForce(session)

    def run(self, drafts: Sequence[Draft]) -> list[Outcome]:
        existing = _existing_many(self.session, drafts)
        screening = None
        # Only times the rules accept frame the window: an absurd one (year 1 or 9999) is refused
        # on its own by _decide, and must not take the others' window out of the calendar.
        timely = [d.occurred_at for d in drafts if _timely(d.occurred_at, self.now, self.policy)]
        if self.policy.screening is not None and timely:
            window = (min(timely), max(timely))
            subjects = [d.caller.subject_id for d in drafts]
            screening = recognition.ScreeningFacts(
                self.session, subjects, window, self.policy.screening, self.now
            )
        outcomes: list[Outcome] = []
        accepted: list[_Accepted] = []
        for draft in drafts:
            key = (draft.caller.subject_id, draft.idempotency_key)
            try:
                earlier = existing.get(key)
                if earlier is not None:
                    outcomes.append(_replay(earlier, idempotency.request_hash(draft.payload)))
                    continue
                item = self._decide(draft, screening)
            except (InvalidInput, RateLimited, IdempotencyConflict) as exc:
                outcomes.append(exc)
                continue
            existing[key] = item.row
            accepted.append(item)
            outcomes.append(RecordedActivity(item.row, created=True))
        if accepted:
            self._issue(accepted)
            self._write(accepted)
        return outcomes

    def _in_leaf(self, subject_id: str, quantities: dict[str, Any]) -> dict[str, Any]:
        """The quantities as the leaf carries them: free text only as its commitment."""
        if not any(isinstance(quantities.get(name), str) for name in FREE_TEXT_QUANTITIES):
            return quantities
        return committed_quantities(subject_keys.key_for(self.session, subject_id, self.now), quantities)

    def _decide(self, draft: Draft, screening: recognition.ScreeningFacts | None) -> _Accepted:
        caller, payload, now, policy = draft.caller, draft.payload, self.now, self.policy
        check_time(draft.occurred_at, now, policy)
        factor_set = self.sets.at(draft.occurred_at)
        activity_type = str(payload["type"])
        calc = normalize(activity_type, payload, factor_set, baseline=policy.baseline)
        quantities = {k: v for k, v in payload.items() if k not in ("type", "occurred_at")}
        screened = None
        if screening is not None:
            screened = screening.screen(
                caller.subject_id,
                caller.source,
                activity_type,
                _screening_quantities(quantities, calc.inputs),
                draft.occurred_at,
                calc.co2e_avoided_g,
                draft.straight_km,
            )
        status = ActivityStatus(screened.status) if screened else ActivityStatus.ACCEPTED
        activity_id = str(uuid.uuid4())
        body = ActivityBody(
            type=activity_type,
            occurred_at=draft.occurred_at.isoformat(),
            recorded_at=now.isoformat(),
            org=caller.org_id,
            dept=caller.dept_id,
            source=caller.source,
            quantities=self._in_leaf(caller.subject_id, quantities),
            status=status,
            co2e_avoided_g=calc.co2e_avoided_g,
            co2e_scope3_g=calc.co2e_scope3_g,
            scope3_category=calc.scope3_category,
            factor_set={"version": factor_set.version, "sha256": "0x" + factor_set.content_hash},
            calculation=calc.public(),
        )
        subject = subject_commitment(policy.subject_key, caller.subject_id)
        row = ActivityRow(
            id=activity_id,
            subject_id=caller.subject_id,
            org_id=caller.org_id,
            department_id=caller.dept_id,
            source=caller.source,
            idempotency_key=draft.idempotency_key,
            request_hash=idempotency.request_hash(payload),
            type=activity_type,
            occurred_at=draft.occurred_at,
            quantities=quantities,
            co2e_avoided_g=calc.co2e_avoided_g,
            co2e_scope3_g=calc.co2e_scope3_g,
            scope3_category=calc.scope3_category,
            points=0,
            factor_set=factor_set.version,
            calculation=calc.public(),
            status=status,
            created_at=now,
            **_gas_columns(calc.scope3_by_gas),
        )
        footprint = screening.remember(row, screened) if screening and screened else None
        return _Accepted(
            row,
            encode(activity_id, subject, body),
            footprint,
            subject,
            earns_points=caller.earns_points,
            supersedes=screened.assessment.supersedes if screened else None,
        )

    def _issue(self, accepted: list[_Accepted]) -> None:
        """Points for the accepted activities, in order, under the rules of each one's company."""
        credited = [a for a in accepted if a.row.status == ISSUABLE_STATUS and a.earns_points]
        if not credited:
            return
        rules: dict[str | None, RulesInForce] = {}
        for item in credited:
            if item.row.org_id not in rules:
                rules[item.row.org_id] = rules_in_force(
                    self.session, item.row.org_id, self.policy.rules_defaults
                )
        windows = [usage_window(a.row, rules[a.row.org_id].rules) for a in credited]
        facts = IssuanceFacts(
            self.session,
            [a.row.subject_id for a in credited],
            (min(w[0] for w in windows), max(w[1] for w in windows)),
        )
        for item in credited:
            in_force = rules[item.row.org_id]
            item.issuance = decide_issuance(item.row, in_force, facts.usage(item.row, in_force.rules))
            item.row.points = item.issuance.points
            facts.add(item.row)

    def _write(self, accepted: list[_Accepted]) -> None:
        """Appends every leaf (each activity's, then its issuance's) and inserts every row.

        With queued sequencing the leaves are queued instead and the rows stored without a leaf
        index; a batch that supersedes a self-report appends inline (its correction names the
        replaced activity's leaf, so the queue is sequenced first)."""
        store = SqlLogStore(self.session)
        queue = store.queued and not any(item.supersedes is not None for item in accepted)
        now = self.now
        pending: list[PendingLeaf] = []
        for item in accepted:
            pending.append(PendingLeaf("activity", item.row.id, item.leaf))
            if item.transfer is not None and item.issuance is not None:
                details = item.issuance.details
                leaf = transfer_leaf(
                    item.transfer, subject=item.subject, now=now, org_id=item.row.org_id, details=details
                )
                pending.append(PendingLeaf("points_transfer", item.transfer.id, leaf))
        indices = iter([None] * len(pending) if queue else store.append(pending, now))
        transfers = []
        for item in accepted:
            item.row.leaf_index = next(indices)
            if item.transfer is not None and item.issuance is not None:
                transfers.append(
                    transfer_row(item.transfer, next(indices), now, details=item.issuance.details)
                )
        _insert(self.session, [item.row for item in accepted])  # before what refers to them
        issued = [item for item in accepted if item.transfer is not None]
        if issued:
            deferred = DEFERRED_ACCOUNTS if queue else frozenset()
            org_of = {ledger.employee_account(item.row.subject_id): item.row.org_id for item in issued}
            wanted = {ledger.PARK_ISSUANCE, *org_of} - deferred
            accounts = lock_accounts(self.session, wanted, now, org_of=org_of)
            for item in issued:
                assert item.transfer is not None
                apply_to_accounts(item.transfer, accounts, deferred)
        _insert(self.session, [item.footprint for item in accepted if item.footprint is not None])
        _insert(self.session, transfers)
        if queue:
            store.enqueue(pending)  # after the rows: whoever sequences it next sets their index
        for item in accepted:
            if item.supersedes is not None:
                replaced = self.session.get(ActivityRow, item.supersedes)
                if replaced is not None and replaced.status in (
                    ActivityStatus.ACCEPTED,
                    ActivityStatus.FLAGGED,
                ):
                    corrections.supersede(
                        self.session, replaced, item.row.id, item.row.source, self.policy.subject_key, now
                    )


def _gas_columns(by_gas: dict[str, Any] | None) -> dict[str, int | None]:
    """The row's per-gas columns from the calculation's ``scope3_by_gas`` (None where not given)."""
    by_gas = by_gas or {}
    return {
        "scope3_co2_g": by_gas.get("CO2"),
        "scope3_ch4_g": by_gas.get("CH4"),
        "scope3_n2o_g": by_gas.get("N2O"),
        "scope3_unsplit_g": by_gas.get("unsplit_g"),
    }


def _insert(session: Session, rows: Sequence[Base]) -> None:
    """Inserts new rows of one model in one executemany; the objects stay as built (not tracked
    by the session), which is all their readers need. The ORM's unit of work cost more per row
    than the database's insert."""
    if rows:
        columns = [column.key for column in rows[0].__table__.columns]
        session.execute(
            insert(type(rows[0])), [{name: getattr(row, name) for name in columns} for row in rows]
        )


def record_batch(
    session: Session, drafts: Sequence[Draft], policy: IssuancePolicy, now: datetime
) -> list[Outcome]:
    """Records drafts in the caller's write transaction, which must hold the log head lock
    (:func:`backend.services.log.log_locks.begin_recording`; with queued sequencing, the employees'
    advisory locks taken here instead).

    Each draft gives its recorded activity (``created`` False for a replay of its idempotency key)
    or the domain error that refused it (invalid input, rejected by the screen, rate-limited, key
    reused with another body); a refused draft stores nothing, the others are stored all the same.
    """
    if not drafts:
        return []
    log_locks.lock_employees(session, [draft.caller.subject_id for draft in drafts])
    return _Batch(session, policy, now).run(drafts)


def record_many(
    db: Database, drafts: Sequence[Draft], policy: IssuancePolicy, now: datetime | None = None
) -> list[Outcome]:
    """Records drafts (a group of requests, an import, a demo park) in one transaction and counts
    what was recorded once it has committed; an outcome per draft."""
    if not drafts:
        return []
    with db.write_sessions() as session, session.begin():
        log_locks.begin_recording(session)
        outcomes = record_batch(session, drafts, policy, now or datetime.now(UTC))
    for outcome in outcomes:
        if isinstance(outcome, RecordedActivity):
            observe_recorded(outcome)
    return outcomes


def observe_recorded(result: RecordedActivity) -> None:
    """Logs and counts a recorded activity once its transaction has committed."""
    row = result.row
    if not result.created:
        return
    if row.leaf_index is None:
        logger.info("recorded activity %s (%s), queued for the log", row.id, row.type)
    else:
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
    """Validates, computes, stores and logs one activity; replays return the stored result.

    Concurrent calls share write transactions (:mod:`backend.services.recording.group_commit`); ``now``
    fixes the recording time (default: the commit's)."""
    from backend.services.recording.group_commit import (
        committer_for,  # imported here: it builds on this module
    )

    digest = idempotency.request_hash(payload)
    activity_type = str(payload["type"])
    draft = Draft(caller, idempotency_key, payload, occurred_at, straight_km)
    try:
        result = committer_for(db).record(draft, policy, now)  # counted by record_many
        if isinstance(result, CarbonLedgerError):
            raise result
        return result
    except InvalidInput as exc:
        metrics.observe_activity(activity_type, "rejected", exc.field)
        raise
    except IntegrityError:
        # A concurrent request with the same key (in another process) won the race: answer with
        # its result.
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
