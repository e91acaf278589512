"""Scrape-time metrics: what the database and the chain say now, read when Prometheus asks.

Log size, unanchored leaves, anchoring lag, checkpoints by state and gas spent come from the
database at each scrape (a handful of indexed single-row queries), so they are exact whatever
happened in other processes or before a restart. Chain health comes from a probe cached for
:data:`~backend.observability.checks.CHAIN_PROBE_TTL_S`. Tables that other parts of the ledger
add (the park-platform feed's outbox) are read through :data:`OPTIONAL_TABLE_GAUGES`, which skip a
table that does not exist (yet).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from backend.adapters import migrations
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import CheckpointRow, LogLeafRow
from backend.bootstrap.runtime import Runtime
from backend.domain.states import CheckpointState
from backend.observability.checks import CachedChainProbe

logger = logging.getLogger(__name__)

CHECKPOINT_STATES = (
    CheckpointState.PREPARED,
    CheckpointState.SENT,
    CheckpointState.CONFIRMED,
    CheckpointState.FAILED,
)


@dataclass(frozen=True)
class TableGauge:
    """A gauge read with ``sql`` (one number) from ``table``; absent while the table does not exist."""

    name: str
    documentation: str
    table: str
    sql: str


FEED_OUTBOX_TABLE = "feed_outbox"
"""The park-platform feed's outbox (issue 7); the query below is adjusted to its schema at merge."""
OPTIONAL_TABLE_GAUGES: list[TableGauge] = [
    TableGauge(
        "carbon_ledger_feed_outbox_backlog",
        "Events in the park-platform feed's outbox not yet delivered.",
        FEED_OUTBOX_TABLE,
        f"SELECT COUNT(*) FROM {FEED_OUTBOX_TABLE} WHERE delivered_at IS NULL",  # noqa: S608 (constant)
    ),
    TableGauge(
        "carbon_ledger_log_queue_leaves",
        "Leaves accepted but not yet appended by the sequencer (CARBON_SEQUENCING=queued; 0 inline).",
        "log_queue",
        "SELECT COUNT(*) FROM log_queue",
    ),
]


def _gauge(name: str, documentation: str, value: float | None) -> Iterator[Metric]:
    if value is not None:
        yield GaugeMetricFamily(name, documentation, value=value)


class LedgerCollector(Collector):
    def __init__(self, runtime: Runtime, chain_probe: CachedChainProbe | None = None) -> None:
        self.runtime = runtime
        self.chain_probe = chain_probe or CachedChainProbe(runtime)
        self.optional_gauges = OPTIONAL_TABLE_GAUGES
        self._head_revision = migrations.head_revision()

    def collect(self) -> Iterable[Metric]:
        try:
            metrics = list(self._database_metrics())
            up = 1.0
        except Exception as exc:
            logger.warning("metrics: database figures unavailable: %s", exc.__class__.__name__)
            metrics, up = [], 0.0
        yield GaugeMetricFamily(
            "carbon_ledger_database_up", "1 if the database answered the last scrape's queries.", value=up
        )
        yield from metrics
        yield from self._chain_metrics()

    def _database_metrics(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        current = migrations.current_revision(self.runtime.db.engine)
        yield GaugeMetricFamily(
            "carbon_ledger_schema_current",
            "1 if the database schema is at the revision this version expects.",
            value=1.0 if current == self._head_revision else 0.0,
        )
        with self.runtime.db.read_sessions() as session:
            size = SqlLogStore(session).size()
            yield GaugeMetricFamily(
                "carbon_ledger_log_size_leaves", "Leaves in the transparency log.", value=size
            )
            yield from self._anchoring_metrics(session, size, now)
            yield from self._optional_metrics(session)

    def _anchoring_metrics(self, session: Session, size: int, now: datetime) -> Iterator[Metric]:
        target = self.runtime.target
        if target is None:
            return
        mine = (CheckpointRow.chain_id == target.chain_id, CheckpointRow.contract == target.contract)
        states = GaugeMetricFamily(
            "carbon_ledger_checkpoints", "Checkpoints of the current contract, by state.", labels=["state"]
        )
        by_state = select(CheckpointRow.state, func.count()).where(*mine).group_by(CheckpointRow.state)
        counts: dict[str, int] = {str(state): int(n) for state, n in session.execute(by_state).all()}
        for state in sorted(set(CHECKPOINT_STATES) | set(counts)):
            states.add_metric([state], int(counts.get(state, 0)))
        yield states
        gas_sum = select(func.coalesce(func.sum(CheckpointRow.gas_used), 0)).where(*mine)
        gas = session.execute(gas_sum).scalar()
        yield CounterMetricFamily(
            "carbon_ledger_anchor_gas_used",
            "Gas used by anchoring transactions of the current contract (mined, confirmed or reverted).",
            value=int(gas or 0),
        )
        last = session.execute(
            select(CheckpointRow.tree_size, CheckpointRow.confirmed_at)
            .where(*mine, CheckpointRow.state == CheckpointState.CONFIRMED)
            .order_by(CheckpointRow.tree_size.desc())
            .limit(1)
        ).first()
        anchored = int(last[0]) if last else 0
        yield GaugeMetricFamily(
            "carbon_ledger_anchored_tree_size", "Tree size of the last confirmed checkpoint.", value=anchored
        )
        yield GaugeMetricFamily(
            "carbon_ledger_unanchored_leaves",
            "Leaves not yet covered by a confirmed checkpoint.",
            value=max(0, size - anchored),
        )
        oldest = None
        if size > anchored:
            first_waiting = select(LogLeafRow.created_at).where(LogLeafRow.idx == anchored)
            created = session.execute(first_waiting).scalar()
            oldest = max(0.0, (now - created).total_seconds()) if created else None
        yield GaugeMetricFamily(
            "carbon_ledger_oldest_unanchored_leaf_age_seconds",
            "Age of the oldest leaf not yet covered by a confirmed checkpoint (0 when all are): "
            "the anchoring lag a record experiences.",
            value=oldest or 0.0,
        )
        if last is not None and last[1] is not None:
            confirmed_at: datetime = last[1]
            yield GaugeMetricFamily(
                "carbon_ledger_last_checkpoint_confirmed_timestamp_seconds",
                "Unix time at which the last checkpoint was confirmed.",
                value=confirmed_at.timestamp(),
            )
            yield GaugeMetricFamily(
                "carbon_ledger_seconds_since_last_checkpoint",
                "Seconds since the last checkpoint was confirmed (grows while the log is idle too).",
                value=max(0.0, (now - confirmed_at).total_seconds()),
            )

    def _optional_metrics(self, session: Session) -> Iterator[Metric]:
        connection = session.connection()
        present = set(inspect(connection).get_table_names())
        for gauge in self.optional_gauges:
            if gauge.table in present:
                value = session.execute(text(gauge.sql)).scalar()
                yield GaugeMetricFamily(gauge.name, gauge.documentation, value=float(value or 0))

    def _chain_metrics(self) -> Iterator[Metric]:
        if self.runtime.chain is None:
            return
        verdict = self.runtime.chain_guard.last  # the anchoring job's own check, refreshed every run
        if verdict is not None:
            identity = GaugeMetricFamily(
                "carbon_ledger_chain_identity",
                "1 for the anchoring guard's current verdict on the chain (ok, unavailable, mismatch, "
                "history_missing, moving): anything but ok stops anchoring.",
                labels=["state"],
            )
            identity.add_metric([verdict.state], 1.0)
            yield identity
        probe = self.chain_probe.get()
        yield GaugeMetricFamily(
            "carbon_ledger_chain_up", "1 if the chain node answered the last probe.", value=probe.reachable
        )
        yield GaugeMetricFamily(
            "carbon_ledger_chain_expected",
            "1 if the node serves the chain and contract of the deployment manifest (id, genesis, code).",
            value=probe.expected,
        )
        yield GaugeMetricFamily(
            "carbon_ledger_chain_ready",
            "1 if the chain passes every readiness check (reachable, expected, role, not paused, in step).",
            value=not probe.problems,
        )
        yield from _gauge("carbon_ledger_chain_block_number", "Latest block number.", probe.block_number)
        yield from _gauge(
            "carbon_ledger_anchorer_has_role",
            "1 if the anchoring key holds ANCHORER_ROLE on the ledger contract.",
            None if probe.anchorer_has_role is None else float(probe.anchorer_has_role),
        )
        yield from _gauge(
            "carbon_ledger_anchorer_balance_wei",
            "Balance of the anchoring account.",
            probe.anchorer_balance_wei,
        )
        yield from _gauge(
            "carbon_ledger_contract_paused",
            "1 if the ledger contract is paused.",
            None if probe.paused is None else float(probe.paused),
        )


class _Both(Collector):
    def __init__(self, *collectors: Collector) -> None:
        self.collectors = collectors

    def collect(self) -> Iterable[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def combined(*collectors: Collector) -> Collector:
    """One collector yielding every metric of ``collectors`` (for one exposition)."""
    return _Both(*collectors)
