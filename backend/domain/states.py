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
