"""Every status a stored row moves through, one ``StrEnum`` each.

The values are what the database holds and the API shows; a ``StrEnum`` compares equal to its
string, so JSON and SQL see plain strings. The ORM columns are typed with these enums
(``backend/adapters/orm_types.py``), so a row read back carries the enum and a typo is an error.
"""

from __future__ import annotations

from enum import StrEnum


class CheckpointState(StrEnum):
    """A checkpoint's anchoring: ``prepared`` (signed transaction recorded) → ``sent`` (broadcast)
    → ``confirmed`` (mined with enough confirmations); ``failed`` (reverted, or the chain already
    past it); ``lost`` (confirmed once, no longer on the chain, re-anchored by a move)."""

    PREPARED = "prepared"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    LOST = "lost"


IN_FLIGHT: tuple[CheckpointState, ...] = (CheckpointState.PREPARED, CheckpointState.SENT)
"""Checkpoints whose transaction may still land."""
ANCHORED: tuple[CheckpointState, ...] = (CheckpointState.CONFIRMED, CheckpointState.LOST)
"""Checkpoints that were on the chain (history a re-anchoring must carry over)."""


class ChainMoveState(StrEnum):
    """A re-anchoring of the history: ``started`` → ``completed``, or ``abandoned``."""

    STARTED = "started"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


class RedemptionStatus(StrEnum):
    """A voucher: ``issued``, then either ``cancelled`` (points refunded) or ``used`` at a
    merchant's till (once, logged)."""

    ISSUED = "issued"
    CANCELLED = "cancelled"
    USED = "used"


class FeedDeliveryStatus(StrEnum):
    """A snapshot for the park platform: ``pending`` (retried with backoff) → ``delivered``."""

    PENDING = "pending"
    DELIVERED = "delivered"


class ActivityStatus(StrEnum):
    """A recorded activity: ``accepted`` (points issued) or ``flagged`` (waiting for a manager's
    review, then ``accepted`` or ``rejected``); ``reversed`` by a correction. A submission refused
    outright is ``rejected`` and is not stored."""

    ACCEPTED = "accepted"
    FLAGGED = "flagged"
    REJECTED = "rejected"
    REVERSED = "reversed"


class EmployeeStatus(StrEnum):
    """An employee: ``active``, ``disabled`` by the company (sessions end, may be re-enabled), or
    ``erased`` (personal data removed; final)."""

    ACTIVE = "active"
    DISABLED = "disabled"
    ERASED = "erased"


class ChainCheckState(StrEnum):
    """The chain identity check's verdict; a verdict other than ``ok`` is stored as an incident's
    state while it lasts."""

    OK = "ok"
    UNAVAILABLE = "unavailable"
    MISMATCH = "mismatch"
    HISTORY_MISSING = "history_missing"
    MOVING = "moving"
    NOT_CONFIGURED = "not_configured"


class PeriodStatus(StrEnum):
    """A Scope 3 reporting period: ``open`` until it is closed, then ``closed`` (frozen totals,
    restated by revisions)."""

    OPEN = "open"
    CLOSED = "closed"


class IntegrationOutcome(StrEnum):
    """What became of a record a source delivered: recorded as an activity (``accepted`` or
    ``flagged``), or ``duplicate``, ``rejected``, ``unmatched`` (no bound employee yet: retried on
    a later delivery); ``conflict`` and ``deferred`` (rate-limited) are answered, never stored."""

    ACCEPTED = "accepted"
    FLAGGED = "flagged"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    UNMATCHED = "unmatched"
    CONFLICT = "conflict"
    DEFERRED = "deferred"
