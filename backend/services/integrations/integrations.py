"""Use cases of data-source integrations (数字化平台集成): trusted sources (transit gates, shared
bikes, EV chargers, recycling stations) deliver signed batches of records over a webhook.

* Authenticity: each source has its own secret; the body is signed with HMAC-SHA256 over
  ``"<timestamp>." + body`` (:func:`signature`). Deliveries older or newer than the tolerance are
  refused, and a signature seen before within the window is a replay (409).
* Idempotency: by the source's own record id. The same record delivered again returns the first
  outcome; the same id with other content is refused for that record.
* Attribution: only through a binding the employee consented to (a transit card, a bike
  account), looked up by keyed hash; a record nobody bound is ``unmatched`` and credits no one.
  Unmatched records are not final: delivered again after the employee binds, they are processed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm_identity import BindingRow, EmployeeRow
from backend.adapters.orm_integrations import IntegrationRecordRow, IntegrationSourceRow, WebhookSignatureRow
from backend.domain.canonical import canonical_json, sha256_hex
from backend.domain.errors import (
    ActivityRejected,
    Conflict,
    InvalidInput,
    NotFound,
    RateLimited,
    ReplayRejected,
    SignatureInvalid,
)
from backend.domain.log.record_kinds import BindingBody, encode
from backend.domain.log.records import subject_commitment
from backend.domain.points.points import derived_id
from backend.domain.states import EmployeeStatus, IntegrationOutcome
from backend.services.identity import binding_codes
from backend.services.identity.enrollment import check_identifier
from backend.services.identity.identity import keyed_hash
from backend.services.log import log_locks
from backend.services.recording.activities import (
    Caller,
    Draft,
    IssuancePolicy,
    Outcome,
    RecordedActivity,
    check_time,
    observe_recorded,
    record_batch,
)

SOURCE_KINDS = {
    "transit_gate": "transit_card",
    "bike_share": "bike_account",
    "ev_charger": "ev_account",
    "recycling_station": "recycling_card",
    "waste_contractor": "waste_contract",
}
COMPANY_DATA_KINDS = frozenset({"waste_contractor"})
"""Sources of the company's own inventory data (its waste contractor's weighings): their records are
office waste of the company (Scope 3 category 5), credited to no one's points."""
"""Kinds of source and the kind of binding that attributes their records to an employee."""
BINDING_KINDS = frozenset(SOURCE_KINDS.values())
CONSENT_VERSION = "2026-11"
"""Version of the consent text an employee accepts when binding an account (docs/integrations.md)."""
MAX_BATCH_RECORDS = 500
"""Records per delivery: a gate system's minute of traffic, well inside one request's time."""
MAX_BODY_BYTES = 2_000_000
SECRET_ROTATION_GRACE = timedelta(hours=24)
"""After a rotation the old secret still verifies this long, so the source can switch over."""
SIGNATURE_SCHEME = "v1"
MAX_IDENTIFIER_LENGTH = 128
RATE_WINDOW = timedelta(minutes=1)
TIMESTAMP = re.compile(r"[0-9]{1,12}")
"""Unix seconds in ASCII digits (``str.isdigit`` also takes '²' and other scripts' digits)."""


@dataclass(frozen=True)
class IncomingRecord:
    """One record of a delivery, parsed by the web layer (or the reason it could not be)."""

    record_id: str
    account: str | None
    payload: dict[str, Any] | None
    occurred_at: datetime | None
    raw: dict[str, Any]
    field: str | None = None
    reason: str | None = None
    straight_km: Decimal | None = None
    """Straight-line distance between the record's start and end, when the source sent them."""


@dataclass(frozen=True)
class RecordOutcome:
    record_id: str
    outcome: IntegrationOutcome
    activity_id: str | None = None
    field: str | None = None
    reason: str | None = None
    replayed: bool = False
    retry_after_s: int | None = None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> tuple[str, str]:
    """What a source sends: (``X-Carbon-Timestamp``, ``X-Carbon-Signature``) values."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return stamp, f"{SIGNATURE_SCHEME}={signature(secret, stamp, body)}"


def binding_hash(subject_key: bytes, kind: str, identifier: str) -> str:
    return keyed_hash(subject_key, f"binding/{kind}", identifier.strip())


# --- sources (operators) ---


def register_source(
    db: Database,
    source_id: str,
    name: str,
    kind: str,
    activity_types: Sequence[str],
    max_records_per_min: int,
    now: datetime,
) -> tuple[IntegrationSourceRow, str]:
    check_identifier("id", source_id)
    if kind not in SOURCE_KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(SOURCE_KINDS)}")
    if not activity_types:
        raise InvalidInput("activity_types", "name at least one activity type the source reports")
    secret = secrets.token_urlsafe(32)
    row = IntegrationSourceRow(
        id=source_id,
        name=name,
        kind=kind,
        binding_kind=SOURCE_KINDS[kind],
        activity_types=sorted(set(activity_types)),
        secret=secret,
        previous_secret=None,
        previous_valid_until=None,
        max_records_per_min=max_records_per_min,
        created_at=now,
        disabled_at=None,
    )
    try:
        with db.write_sessions() as session, session.begin():
            if session.get(IntegrationSourceRow, source_id) is not None:
                raise Conflict(f"source {source_id} already exists")
            session.add(row)
    except IntegrityError:
        raise Conflict(f"source {source_id} already exists") from None
    return row, secret


def list_sources(db: Database) -> list[IntegrationSourceRow]:
    with db.read_sessions() as session:
        return list(session.execute(select(IntegrationSourceRow).order_by(IntegrationSourceRow.id)).scalars())


def rotate_secret(db: Database, source_id: str, now: datetime) -> tuple[IntegrationSourceRow, str]:
    with db.write_sessions() as session, session.begin():
        row = session.get(IntegrationSourceRow, source_id)
        if row is None:
            raise NotFound(f"source {source_id} not found")
        secret = secrets.token_urlsafe(32)
        row.previous_secret, row.previous_valid_until = row.secret, now + SECRET_ROTATION_GRACE
        row.secret = secret
    return row, secret


def set_source_enabled(db: Database, source_id: str, enabled: bool, now: datetime) -> IntegrationSourceRow:
    with db.write_sessions() as session, session.begin():
        row = session.get(IntegrationSourceRow, source_id)
        if row is None:
            raise NotFound(f"source {source_id} not found")
        row.disabled_at = None if enabled else (row.disabled_at or now)
    return row


# --- bindings (employees) ---


def add_binding(
    db: Database,
    employee_id: str,
    kind: str,
    identifier: str,
    label: str | None,
    subject_key: bytes,
    now: datetime,
    code: str | None = None,
) -> tuple[BindingRow, bool]:
    """Binds an account the employee consented to link and proved to hold with a one-time code
    its source issued (:mod:`backend.services.identity.binding_codes`); (row, created). An account bound to
    someone else is a conflict whatever the code."""
    try:
        return _add_binding(db, employee_id, kind, identifier, label, subject_key, now, code)
    except InvalidInput as error:
        binding_codes.count_wrong(db, error)
        raise


def _add_binding(
    db: Database,
    employee_id: str,
    kind: str,
    identifier: str,
    label: str | None,
    subject_key: bytes,
    now: datetime,
    code: str | None,
) -> tuple[BindingRow, bool]:
    if kind not in BINDING_KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(sorted(BINDING_KINDS))}")
    identifier = identifier.strip()
    if not 1 <= len(identifier) <= MAX_IDENTIFIER_LENGTH:
        raise InvalidInput("identifier", f"must be 1 to {MAX_IDENTIFIER_LENGTH} characters")
    digest = binding_hash(subject_key, kind, identifier)
    with db.write_sessions() as session, session.begin():
        if session.get(EmployeeRow, employee_id) is None:
            raise NotFound("bindings need an enrolled employee: sign in through the mini-program")
        active = session.execute(
            select(BindingRow).where(BindingRow.kind == kind, BindingRow.active_hash == digest)
        ).scalar_one_or_none()
        if active is not None:
            if active.employee_id == employee_id:
                return active, False
            raise Conflict("this account is already bound to someone else; contact your administrator")
        binding_codes.redeem_code(session, kind, digest, code, now)
        binding_id = secrets.token_hex(16)
        leaf_index = _log_binding(session, subject_key, employee_id, binding_id, "bind", kind, now)
        row = BindingRow(
            id=binding_id,
            employee_id=employee_id,
            kind=kind,
            identifier_hash=digest,
            active_hash=digest,
            label=label,
            consent_version=CONSENT_VERSION,
            consented_at=now,
            revoked_at=None,
            leaf_index=leaf_index,
        )
        session.add(row)
    return row, True


def _log_binding(
    session: Session,
    subject_key: bytes,
    employee_id: str,
    binding_id: str,
    action: str,
    kind: str,
    now: datetime,
) -> int:
    """Appends the ``binding`` record of a consent given or withdrawn (no account number in it)."""
    log = SqlLogStore(session)
    log.lock_head()
    record_id = binding_id if action == "bind" else derived_id("binding-revoke", binding_id)
    body = BindingBody(
        binding=binding_id, action=action, kind=kind, consent_version=CONSENT_VERSION, at=now.isoformat()
    )
    leaf = encode(record_id, subject_commitment(subject_key, employee_id), body)
    (leaf_index,) = log.append([PendingLeaf("binding", record_id, leaf)], now)
    return int(leaf_index)


def list_bindings(db: Database, employee_id: str) -> list[BindingRow]:
    with db.read_sessions() as session:
        stmt = (
            select(BindingRow).where(BindingRow.employee_id == employee_id).order_by(BindingRow.consented_at)
        )
        return list(session.execute(stmt).scalars())


def revoke_binding(
    db: Database, employee_id: str, binding_id: str, now: datetime, subject_key: bytes
) -> BindingRow:
    """Withdraws consent: records delivered from now on are no longer attributed. The withdrawal is
    a logged ``binding`` record; revoking again changes nothing."""
    with db.write_sessions() as session, session.begin():
        row = session.get(BindingRow, binding_id)
        if row is None or row.employee_id != employee_id:
            raise NotFound(f"binding {binding_id} not found")
        if row.revoked_at is None:
            row.revoked_leaf_index = _log_binding(
                session, subject_key, employee_id, row.id, "revoke", row.kind, now
            )
        row.revoked_at, row.active_hash = row.revoked_at or now, None
    return row


def issue_binding_code(
    db: Database,
    source: IntegrationSourceRow,
    match: str,
    account: str,
    subject_key: bytes,
    tolerance_s: int,
    now: datetime,
) -> binding_codes.IssuedCode:
    """A one-time code for one of the verified source's accounts (``match``: the request's
    signature), for its holder to bind it; a replayed request is refused, each counts as a record
    against the source's rate."""
    account = account.strip()
    if not 1 <= len(account) <= MAX_IDENTIFIER_LENGTH:
        raise InvalidInput("account", f"must be 1 to {MAX_IDENTIFIER_LENGTH} characters")
    _admit(db, source, match, 1, tolerance_s, now)
    return binding_codes.issue_code(db, source, binding_hash(subject_key, source.binding_kind, account), now)


# --- deliveries (sources) ---


def _secrets_of(source: IntegrationSourceRow, now: datetime) -> list[str]:
    keys = [source.secret]
    if source.previous_secret and source.previous_valid_until and source.previous_valid_until > now:
        keys.append(source.previous_secret)
    return keys


def verify_delivery(
    db: Database,
    source_id: str,
    timestamp: str | None,
    signature_value: str | None,
    body: bytes,
    tolerance_s: int,
    now: datetime,
    *,
    max_bytes: int,
) -> tuple[IntegrationSourceRow, str]:
    """Checks the body's size (``max_bytes``: each signed route has its own bound), the signature
    and the timestamp; returns the source and the matching signature."""
    if len(body) > max_bytes:
        raise InvalidInput("body", f"at most {max_bytes} bytes")
    with db.read_sessions() as session:
        source = session.get(IntegrationSourceRow, source_id)
    if source is None or source.disabled_at is not None:
        raise SignatureInvalid(f"unknown or disabled source {source_id}")
    if not timestamp or not TIMESTAMP.fullmatch(timestamp):
        raise SignatureInvalid("header X-Carbon-Timestamp (Unix seconds, 1 to 12 ASCII digits) is required")
    if abs(now.timestamp() - int(timestamp)) > tolerance_s:
        raise SignatureInvalid(f"the timestamp is more than {tolerance_s} s from the server's clock")
    offered = [p.strip().removeprefix(f"{SIGNATURE_SCHEME}=") for p in (signature_value or "").split(",")]
    offered = [s for s in offered if s]
    if not offered:
        raise SignatureInvalid(
            f"header X-Carbon-Signature ({SIGNATURE_SCHEME}=<hex HMAC-SHA256>) is required"
        )
    expected = [signature(key, timestamp, body) for key in _secrets_of(source, now)]
    match = next((s for s in offered for e in expected if hmac.compare_digest(s, e)), None)
    if match is None:
        raise SignatureInvalid("the signature does not match the body and timestamp")
    return source, match


def _admit(
    db: Database, source: IntegrationSourceRow, match: str, count: int, tolerance_s: int, now: datetime
) -> None:
    """Refuses a replay or a delivery over the source's rate; otherwise remembers it."""
    try:
        with db.write_sessions() as session, session.begin():
            horizon = now - max(timedelta(seconds=2 * tolerance_s), RATE_WINDOW)
            session.execute(delete(WebhookSignatureRow).where(WebhookSignatureRow.received_at < horizon))
            if session.get(WebhookSignatureRow, (source.id, match)) is not None:
                raise ReplayRejected("this signed delivery was already received")
            recent = session.execute(
                select(func.coalesce(func.sum(WebhookSignatureRow.records), 0)).where(
                    WebhookSignatureRow.source_id == source.id,
                    WebhookSignatureRow.received_at > now - RATE_WINDOW,
                )
            ).scalar_one()
            if int(recent) + count > source.max_records_per_min:
                raise RateLimited(
                    f"source {source.id} may deliver at most {source.max_records_per_min} records per minute",
                    int(RATE_WINDOW.total_seconds()),
                )
            session.add(
                WebhookSignatureRow(source_id=source.id, signature=match, records=count, received_at=now)
            )
    except IntegrityError:
        raise ReplayRejected("this signed delivery was already received") from None


def deliver(
    db: Database,
    source: IntegrationSourceRow,
    match: str,
    records: Sequence[IncomingRecord],
    policy: IssuancePolicy,
    tolerance_s: int,
    now: datetime,
) -> list[RecordOutcome]:
    """Admits a verified batch, then records it in one transaction: one outcome per record."""
    if len(records) > MAX_BATCH_RECORDS:
        raise InvalidInput("records", f"at most {MAX_BATCH_RECORDS} records per delivery")
    ids = [r.record_id for r in records]
    if len(set(ids)) != len(ids):
        raise InvalidInput("records", "a record_id appears twice in the delivery")
    _admit(db, source, match, len(records), tolerance_s, now)
    # One transaction for the whole delivery, with a fixed number of statements: every record is
    # decided before anything is written, so a refused record leaves nothing behind.
    with db.write_sessions() as session, session.begin():
        log_locks.begin_recording(session, [f"integration-source:{source.id}"])
        processed = _Delivery(session, source, policy, now).process(records)
    for _outcome, recorded in processed:
        if recorded is not None:
            observe_recorded(recorded)
    return [outcome for outcome, _ in processed]


Processed = tuple[RecordOutcome, RecordedActivity | None]


def _company_waste(record: IncomingRecord) -> RecordOutcome | None:
    """A waste contractor's record is the company's office waste: recycling, scope office."""
    assert record.payload is not None
    if record.payload.get("type") != "recycling":
        return RecordOutcome(
            record.record_id,
            IntegrationOutcome.REJECTED,
            field="type",
            reason="a waste contractor reports recycling",
        )
    if record.payload.get("scope", "office") != "office":
        return RecordOutcome(
            record.record_id,
            IntegrationOutcome.REJECTED,
            field="scope",
            reason="a waste contractor's records are office waste",
        )
    record.payload["scope"] = "office"
    return None


class _Delivery:
    """One delivery's records inside its transaction: idempotency entries and bindings read once,
    the attributable records recorded together (:func:`record_batch`), every outcome kept."""

    def __init__(self, session: Session, source: IntegrationSourceRow, policy: IssuancePolicy, now: datetime):
        self.session, self.source, self.policy, self.now = session, source, policy, now
        self.saved: list[IntegrationRecordRow] = []

    def process(self, records: Sequence[IncomingRecord]) -> list[Processed]:
        keyed = [r for r in records if r.field != "record_id"]
        stored = self._stored([r.record_id for r in keyed])
        callers = self._callers([r for r in keyed if r.account is not None])
        results: dict[str, Processed] = {}
        drafts: list[tuple[IncomingRecord, str, Draft]] = []
        for record in records:
            if record.field == "record_id":  # nothing to be idempotent by: answered, not stored
                outcome = RecordOutcome(
                    record.record_id, IntegrationOutcome.REJECTED, field=record.field, reason=record.reason
                )
                results[record.record_id] = (outcome, None)
                continue
            digest = sha256_hex(canonical_json(record.raw))
            record = self._timely(record)
            early = self._before_recording(record, digest, stored.get(record.record_id), callers)
            if early is not None:
                results[record.record_id] = early
                continue
            assert (
                record.payload is not None and record.occurred_at is not None and record.account is not None
            )
            caller = callers[record.record_id]
            assert caller is not None
            if self.source.kind in COMPANY_DATA_KINDS:
                refusal = _company_waste(record)
                if refusal is not None:
                    results[record.record_id] = (refusal, None)
                    continue
                caller = replace(caller, earns_points=False)
            key = "int:" + hashlib.sha256(f"{self.source.id}\x00{record.record_id}".encode()).hexdigest()[:60]
            draft = Draft(caller, key, record.payload, record.occurred_at, record.straight_km)
            drafts.append((record, digest, draft))
        outcomes = record_batch(self.session, [d for _, _, d in drafts], self.policy, self.now)
        for (record, digest, _), result in zip(drafts, outcomes, strict=True):
            results[record.record_id] = self._recorded(record, digest, result, stored.get(record.record_id))
        self.session.add_all(self.saved)
        return [results[r.record_id] for r in records]

    def _timely(self, record: IncomingRecord) -> IncomingRecord:
        """A record whose time the rules refuse (in the future, too old, year 1 or 9999) is
        refused on its own, before matching: it names ``occurred_at`` whoever holds the account."""
        if record.occurred_at is None or record.payload is None:
            return record
        try:
            check_time(record.occurred_at, self.now, self.policy)
        except InvalidInput as refused:
            return replace(record, payload=None, field=refused.field, reason=refused.reason)
        return record

    def _stored(self, record_ids: list[str]) -> dict[str, IntegrationRecordRow]:
        stmt = select(IntegrationRecordRow).where(
            IntegrationRecordRow.source_id == self.source.id, IntegrationRecordRow.record_id.in_(record_ids)
        )
        return {row.record_id: row for row in self.session.execute(stmt).scalars()}

    def _callers(self, records: list[IncomingRecord]) -> dict[str, Caller | None]:
        """Who each record is credited to (by record id): the employee of an active binding of its
        account, consented to before the record's time; None when nobody."""
        kind, key = self.source.binding_kind, self.policy.subject_key
        digests = {r.record_id: binding_hash(key, kind, r.account) for r in records if r.account is not None}
        stmt = select(BindingRow).where(
            BindingRow.kind == kind, BindingRow.active_hash.in_(set(digests.values()))
        )
        bindings = {b.active_hash: b for b in self.session.execute(stmt).scalars()}
        employee_ids = {b.employee_id for b in bindings.values()}
        stmt_employees = select(EmployeeRow).where(EmployeeRow.id.in_(employee_ids))
        employees = {e.id: e for e in self.session.execute(stmt_employees).scalars()}
        callers: dict[str, Caller | None] = {}
        for record in records:
            binding = bindings.get(digests.get(record.record_id))
            employee = employees.get(binding.employee_id) if binding else None
            if (
                binding is None
                or employee is None
                or employee.status != EmployeeStatus.ACTIVE
                or record.occurred_at is None
                or binding.consented_at > record.occurred_at
            ):
                callers[record.record_id] = None
                continue
            source = f"integration:{self.source.id}"
            callers[record.record_id] = Caller(
                employee.id, employee.company_id, employee.department_id, source=source
            )
        return callers

    def _before_recording(
        self,
        record: IncomingRecord,
        digest: str,
        stored: IntegrationRecordRow | None,
        callers: dict[str, Caller | None],
    ) -> Processed | None:
        """The outcome of a record that is not recorded (a replay, a conflict, invalid, not
        attributable); None when it goes on to be recorded."""
        if stored is not None and stored.outcome != IntegrationOutcome.UNMATCHED:
            if stored.request_hash != digest:
                reason = "this record_id was delivered before with other content"
                return RecordOutcome(
                    record.record_id, IntegrationOutcome.CONFLICT, field="record_id", reason=reason
                ), None
            replayed = RecordOutcome(
                record.record_id,
                stored.outcome,
                stored.activity_id,
                stored.field,
                stored.reason,
                replayed=True,
            )
            return replayed, None
        if record.payload is None or record.occurred_at is None or record.account is None:
            outcome = RecordOutcome(
                record.record_id, IntegrationOutcome.REJECTED, field=record.field, reason=record.reason
            )
            return self._save(stored, digest, outcome)
        if record.payload["type"] not in self.source.activity_types:
            reason = f"source {self.source.id} may report only {', '.join(self.source.activity_types)}"
            return self._save(
                stored,
                digest,
                RecordOutcome(record.record_id, IntegrationOutcome.REJECTED, field="type", reason=reason),
            )
        if callers.get(record.record_id) is None:
            reason = "no employee has bound this account (with consent before the record's time)"
            outcome = RecordOutcome(
                record.record_id, IntegrationOutcome.UNMATCHED, field="account", reason=reason
            )
            return self._save(stored, digest, outcome)
        return None

    def _recorded(
        self, record: IncomingRecord, digest: str, result: Outcome, stored: IntegrationRecordRow | None
    ) -> Processed:
        if isinstance(result, RecordedActivity):
            row = result.row
            return self._save(
                stored,
                digest,
                RecordOutcome(record.record_id, IntegrationOutcome(row.status), row.id),
                result,
            )
        if isinstance(result, ActivityRejected):
            outcome = (
                IntegrationOutcome.DUPLICATE if result.rule == "duplicate" else IntegrationOutcome.REJECTED
            )
            return self._save(
                stored,
                digest,
                RecordOutcome(record.record_id, outcome, field=result.field, reason=result.reason),
            )
        if isinstance(result, InvalidInput):
            return self._save(
                stored,
                digest,
                RecordOutcome(
                    record.record_id, IntegrationOutcome.REJECTED, field=result.field, reason=result.reason
                ),
            )
        if isinstance(result, RateLimited):
            # Not stored: the source delivers it again later and it is processed then.
            deferred = RecordOutcome(
                record.record_id,
                IntegrationOutcome.DEFERRED,
                reason=result.detail,
                retry_after_s=result.retry_after_s,
            )
            return deferred, None
        return RecordOutcome(
            record.record_id, IntegrationOutcome.CONFLICT, field="record_id", reason=result.detail
        ), None

    def _save(
        self,
        stored: IntegrationRecordRow | None,
        digest: str,
        outcome: RecordOutcome,
        recorded: RecordedActivity | None = None,
    ) -> Processed:
        """Keeps a record's outcome (its idempotency entry), written with the delivery."""
        row = stored
        if row is None:
            row = IntegrationRecordRow(
                source_id=self.source.id, record_id=outcome.record_id, request_hash=digest
            )
            self.saved.append(row)
        row.outcome, row.activity_id = outcome.outcome, outcome.activity_id
        row.field, row.reason = outcome.field, (outcome.reason or "")[:500] or None
        row.received_at = self.now
        return outcome, recorded
