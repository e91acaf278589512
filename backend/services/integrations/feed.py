"""Use case: push Scope 3 totals to the park platform through an outbox.

Every push is first a row in ``feed_outbox`` (written in the same transaction as what caused it,
e.g. a period close), then delivered by a scheduler job: oldest first, retried with exponential
backoff while the platform is down, for as long as it takes; nothing is dropped. The body bytes
and the delivery id never change between retries, so the platform can drop duplicates by
``X-Carbon-Ledger-Delivery``; it authenticates a push by recomputing the HMAC-SHA256 signature
``sha256=hex(HMAC(secret, "<timestamp>." + body))`` sent in ``X-Carbon-Ledger-Signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.adapters import park_platform
from backend.adapters.database import Database
from backend.adapters.orm_scope3 import FeedDeliveryRow
from backend.domain.accounting.scope3 import Period
from backend.domain.canonical import canonical_json
from backend.domain.errors import ConfigurationError
from backend.domain.states import FeedDeliveryStatus
from backend.services.accounting import scope3

DELIVERY_NAMESPACE = uuid.UUID("5b0c1a8e-7d0e-4c59-9a57-0f3c8f1e2d07")
"""uuid5 namespace of delivery ids: the same close or snapshot always gets the same id."""
DEV_FEED_SECRET = "carbon-ledger-local-feed-secret"  # noqa: S105 (public on purpose, local only)
SIGNATURE_HEADER = "X-Carbon-Ledger-Signature"
TIMESTAMP_HEADER = "X-Carbon-Ledger-Timestamp"
DELIVERY_HEADER = "X-Carbon-Ledger-Delivery"
EVENT_HEADER = "X-Carbon-Ledger-Event"
MAX_BATCH = 20
"""Deliveries one tick attempts: bounds a tick's length when many are due (tick × timeout)."""
LEASE_S = 300
"""A claimed delivery is hidden from other workers this long, in case this one dies mid-send."""
FEED_VERSION = 1


@dataclass(frozen=True)
class FeedConfig:
    url: str
    secret: bytes
    timeout_s: float
    backoff_base_s: float
    backoff_max_s: float


@dataclass(frozen=True)
class TickReport:
    delivered: int = 0
    failed: int = 0


def feed_config(
    url: str | None,
    secret: str | None,
    is_local: bool,
    timeout_s: float,
    backoff_base_s: float,
    backoff_max_s: float,
) -> FeedConfig | None:
    """None when no platform URL is set (pushes wait in the outbox until one is)."""
    if not url:
        return None
    if not secret:
        if not is_local:
            raise ConfigurationError(
                "CARBON_PARK_PLATFORM_SECRET must be set when CARBON_PARK_PLATFORM_URL is"
            )
        secret = DEV_FEED_SECRET
    return FeedConfig(url, secret.encode(), timeout_s, backoff_base_s, backoff_max_s)


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What the platform does on receipt (here for its developers and for our tests)."""
    return timestamp.isdigit() and hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Wait after the ``attempts``-th failure: base, 2·base, 4·base, ... capped at max."""
    return float(min(max_s, base_s * 2 ** min(attempts - 1, 60)))


def enqueue(
    session: Session, delivery_id: str, event: str, period: str, document: dict[str, Any], now: datetime
) -> bool:
    """Adds a delivery in the caller's transaction; an id already queued is left as it is."""
    if session.get(FeedDeliveryRow, delivery_id) is not None:
        return False
    body = canonical_json(
        {
            "v": FEED_VERSION,
            "delivery_id": delivery_id,
            "event": event,
            "period": period,
            "created_at": now.isoformat(),
            "data": document,
        }
    )
    session.add(
        FeedDeliveryRow(
            delivery_id=delivery_id,
            event=event,
            period=period,
            body=body,
            status=FeedDeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return True


def enqueue_snapshot(
    db: Database, period: Period, config: scope3.Scope3Config, now: datetime | None = None
) -> str:
    """Queues the provisional totals of a period; an unchanged log gives the same delivery id."""
    now = now or datetime.now(UTC)
    doc = scope3.summary(db, period, config, now=now)
    delivery_id = str(uuid.uuid5(DELIVERY_NAMESPACE, f"snapshot/{period.label}/{doc['as_of_tree_size']}"))
    with db.write_sessions() as session, session.begin():
        enqueue(
            session, delivery_id, "snapshot", period.label, {"status": doc["status"], "summary": doc}, now
        )
    return delivery_id


def _claim(db: Database, now: datetime) -> list[FeedDeliveryRow]:
    with db.write_sessions() as session, session.begin():
        stmt = (
            select(FeedDeliveryRow)
            .where(
                FeedDeliveryRow.status == FeedDeliveryStatus.PENDING, FeedDeliveryRow.next_attempt_at <= now
            )
            .order_by(FeedDeliveryRow.created_at, FeedDeliveryRow.delivery_id)
            .limit(MAX_BATCH)
        )
        rows = list(session.execute(stmt).scalars())
        for row in rows:
            row.next_attempt_at = now + timedelta(seconds=LEASE_S)
        return rows


def deliver_due(db: Database, config: FeedConfig, now: datetime | None = None) -> TickReport:
    """Sends every due delivery once; failures are rescheduled with backoff."""
    now = now or datetime.now(UTC)
    delivered = failed = 0
    for row in _claim(db, now):
        timestamp = int(datetime.now(UTC).timestamp())
        headers = {
            SIGNATURE_HEADER: sign(config.secret, timestamp, row.body),
            TIMESTAMP_HEADER: str(timestamp),
            DELIVERY_HEADER: row.delivery_id,
            EVENT_HEADER: row.event,
        }
        result = park_platform.post(config.url, row.body, headers, config.timeout_s)
        finished = datetime.now(UTC)
        with db.write_sessions() as session, session.begin():
            current = session.get(FeedDeliveryRow, row.delivery_id)
            assert current is not None
            current.attempts += 1
            current.last_attempt_at = finished
            current.last_status_code = result.status_code
            if result.error is None:
                current.status, current.delivered_at, current.last_error = (
                    FeedDeliveryStatus.DELIVERED,
                    finished,
                    None,
                )
                delivered += 1
            else:
                wait = backoff_s(current.attempts, config.backoff_base_s, config.backoff_max_s)
                current.next_attempt_at = finished + timedelta(seconds=wait)
                current.last_error = result.error
                failed += 1
    return TickReport(delivered, failed)


def delivery_public(row: FeedDeliveryRow) -> dict[str, Any]:
    return {
        "delivery_id": row.delivery_id,
        "event": row.event,
        "period": row.period,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat()
        if row.status == FeedDeliveryStatus.PENDING
        else None,
        "last_attempt_at": row.last_attempt_at.isoformat() if row.last_attempt_at else None,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
    }


def outbox_status(db: Database, configured: bool, limit: int = 20) -> dict[str, Any]:
    with db.read_sessions() as session:
        rows = session.execute(select(FeedDeliveryRow.status, func.count()).group_by(FeedDeliveryRow.status))
        counts: dict[str, int] = {str(status): int(n) for status, n in rows}
        stmt = select(FeedDeliveryRow).order_by(FeedDeliveryRow.created_at.desc()).limit(limit)
        recent = [delivery_public(r) for r in session.execute(stmt).scalars()]
    return {
        "platform_configured": configured,
        "pending": int(counts.get("pending", 0)),
        "delivered": int(counts.get("delivered", 0)),
        "recent": recent,
    }
