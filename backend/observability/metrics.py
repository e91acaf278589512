"""Prometheus metrics: the registry, the metric objects, and the helpers the code records with.

Events are counted where they happen (HTTP requests, activities, chain RPC calls, scheduler
jobs, points movements, feed deliveries) in the module-level objects below. Figures the database
already holds (log size, unanchored leaves, anchoring lag, gas spent, outbox backlog) are read at
scrape time by :mod:`backend.observability.collector`, so they are exact and survive restarts.

Counters live in process memory: ``carbon-ledger serve`` is one process (API and scheduler), so
one scrape sees every event. Label values are bounded (:func:`bounded_label`) because every new
value is a new time series in Prometheus.
"""

from __future__ import annotations

import re
import threading
from importlib import metadata

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

# The *_created series double the exposition and no dashboard or alert reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry()
"""The ledger's own registry (not the library's global one), so tests and embedders stay isolated."""
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""From a cached read (~5 ms) to a request that waits on the chain (RPC timeout 10 s)."""
JOB_BUCKETS_S = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""An anchoring tick takes milliseconds when idle and up to its confirmation wait plus RPC timeouts."""

MAX_LABEL_VALUES = 64
"""Distinct values one label may take before further ones are counted as ``other``: a bug or a
hostile caller must not be able to create unbounded time series."""
_LABEL_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:\-]{0,47}$")

HTTP_REQUESTS = Counter(
    "carbon_ledger_http_requests",
    "HTTP requests answered, by method, route template (not the raw path) and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "carbon_ledger_http_request_duration_seconds",
    "Time from receiving an HTTP request to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
ACTIVITIES = Counter(
    "carbon_ledger_activities",
    "Activities submitted for recording, by type, outcome (accepted, flagged, rejected, replayed) "
    "and reason (the rejected field, the flag's reason; empty when accepted).",
    ["type", "outcome", "reason"],
    registry=REGISTRY,
)
POINTS = Counter(
    "carbon_ledger_points",
    "Carbon points moved, by movement: issued, redeemed, expired (points, not transfers).",
    ["movement"],
    registry=REGISTRY,
)
FEED_DELIVERIES = Counter(
    "carbon_ledger_feed_deliveries",
    "Deliveries of outbox events to the park platform, by outcome (delivered, failed).",
    ["outcome"],
    registry=REGISTRY,
)
CHAIN_RPC_REQUESTS = Counter(
    "carbon_ledger_chain_rpc_requests",
    "JSON-RPC requests sent to the chain node, by RPC method.",
    ["method"],
    registry=REGISTRY,
)
CHAIN_RPC_ERRORS = Counter(
    "carbon_ledger_chain_rpc_errors",
    "Chain JSON-RPC requests that failed, by RPC method and kind: transport (node unreachable, "
    "timeout, HTTP error) or rpc (the node answered with an error, e.g. a revert).",
    ["method", "kind"],
    registry=REGISTRY,
)
CHAIN_RPC_LATENCY = Histogram(
    "carbon_ledger_chain_rpc_duration_seconds",
    "Duration of chain JSON-RPC requests (including the client's retries), by RPC method.",
    ["method"],
    buckets=LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "carbon_ledger_job_runs",
    "Scheduler job runs, by job id and outcome (success, failure).",
    ["job_id", "outcome"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "carbon_ledger_job_duration_seconds",
    "Duration of scheduler job runs, by job id.",
    ["job_id"],
    buckets=JOB_BUCKETS_S,
    registry=REGISTRY,
)
JOB_LAST_SUCCESS = Gauge(
    "carbon_ledger_job_last_success_timestamp_seconds",
    "Unix time at which the job last finished without error.",
    ["job_id"],
    registry=REGISTRY,
)
CHAIN_REPAIRS = Counter(
    "carbon_ledger_chain_repairs",
    "Automatic repairs of a chain that lost its latest checkpoints (same contract, lost suffix "
    "re-anchored), by outcome: started, completed.",
    ["outcome"],
    registry=REGISTRY,
)
CHECKPOINTS_REANCHORED = Counter(
    "carbon_ledger_checkpoints_reanchored",
    "Checkpoints anchored again after the chain lost them, by mode (catch_up: on the same contract).",
    ["mode"],
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "carbon_ledger_build_info", "Always 1; the running version in a label.", ["version"], registry=REGISTRY
)


def _version() -> str:
    try:
        return metadata.version("carbon-ledger")
    except metadata.PackageNotFoundError:
        return "unknown"


BUILD_INFO.labels(_version()).set(1)
# Known label values start at zero, so rate() and alerts see a series before the first event.
for _movement in ("issued", "redeemed", "expired"):
    POINTS.labels(_movement)
for _outcome in ("delivered", "failed"):
    FEED_DELIVERIES.labels(_outcome)

_seen_lock = threading.Lock()
_seen: dict[str, set[str]] = {}


def bounded_label(label: str, value: str | None) -> str:
    """``value`` as a label value, or ``invalid`` / ``other`` once the label has too many values."""
    if not value:
        return ""
    if not _LABEL_SHAPE.fullmatch(value):
        return "invalid"
    with _seen_lock:
        seen = _seen.setdefault(label, set())
        if value in seen:
            return value
        if len(seen) >= MAX_LABEL_VALUES:
            return "other"
        seen.add(value)
        return value


def observe_activity(activity_type: str, outcome: str, reason: str | None = None) -> None:
    """Counts one submitted activity (``outcome``: accepted, flagged, rejected or replayed)."""
    ACTIVITIES.labels(bounded_label("type", activity_type), outcome, bounded_label("reason", reason)).inc()


def observe_points(movement: str, points: int) -> None:
    """Counts ``points`` carbon points ``issued``, ``redeemed`` or ``expired`` (zero is a no-op)."""
    if points:
        POINTS.labels(movement).inc(points)
