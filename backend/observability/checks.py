"""Readiness checks: database, schema, chain and scheduler, each with the reason when it fails.

``/readyz`` runs them all on every call; the metrics collector runs the chain probe at most every
:data:`CHAIN_PROBE_TTL_S`. The chain probe uses its own short-timeout client without retries, so
a dead node makes a check fail within :data:`PROBE_TIMEOUT_S` instead of stalling the caller.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text
from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware

from backend.adapters import migrations
from backend.adapters.chain import AUDIT_ABI
from backend.adapters.chain_admin import ANCHORER_ROLE, LedgerRoles
from backend.adapters.database import Database
from backend.adapters.deployment import DeploymentManifest, check_manifest
from backend.adapters.log_store import SqlLogStore
from backend.bootstrap.runtime import Runtime
from backend.observability import jobs
from backend.observability.rpc import InstrumentedHTTPProvider

PROBE_TIMEOUT_S = 3.0
"""Per-request timeout of health probes: well inside a load balancer's or Prometheus' timeout."""
CHAIN_PROBE_TTL_S = 15.0
"""How long the metrics collector reuses a chain probe: one scrape interval."""
JOB_STUCK_S = 300.0
"""A job run still going after this long is stuck (a tick is seconds; RPC calls time out in 10 s)."""
JOB_IDLE_PERIODS = 2
"""A job that has missed this many of its own runs in a row is idle: the scheduler is not alive."""
JOB_IDLE_GRACE_S = 60.0
"""Added to every job's idle limit: a busy machine may start a run late, a few runs of a 2 s job in
a row must not flip readiness."""
CRON_PERIOD_SAMPLES = 8
"""A cron job's period is the longest gap among its next few fire times (``0 9 * * 1-5`` → 3 days)."""
REASON_MAX_CHARS = 300


@dataclass(frozen=True)
class Check:
    ok: bool
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, **self.details}
        if self.reason:
            body["reason"] = self.reason[:REASON_MAX_CHARS]
        return body


def check_database(db: Database) -> Check:
    try:
        with db.read_sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable"
        return Check(False, f"database not reachable: {exc.__class__.__name__}: {exc}")
    return Check(True, details={"dialect": db.engine.dialect.name})


def check_migrations(db: Database) -> Check:
    try:
        current = migrations.current_revision(db.engine)
    except Exception as exc:
        return Check(False, f"cannot read the schema revision: {exc.__class__.__name__}")
    head = migrations.head_revision()
    details = {"revision": current, "expected": head}
    if current != head:
        return Check(False, f"database schema is at revision {current}, this version needs {head}", details)
    return Check(True, details=details)


@dataclass(frozen=True)
class ChainProbe:
    reachable: bool
    expected: bool
    problems: tuple[str, ...]
    chain_id: int | None = None
    block_number: int | None = None
    anchorer: str | None = None
    anchorer_has_role: bool | None = None
    anchorer_balance_wei: int | None = None
    paused: bool | None = None
    at_s: float = 0.0

    def check(self) -> Check:
        details: dict[str, Any] = {"chain_id": self.chain_id, "block_number": self.block_number}
        if self.anchorer:
            details["anchorer"] = self.anchorer
        return Check(not self.problems, "; ".join(self.problems) or None, details)


def _probe_w3(runtime: Runtime) -> Web3:
    assert runtime.chain is not None
    provider = runtime.chain.w3.provider
    url = str(getattr(provider, "endpoint_uri", ""))
    w3 = Web3(
        InstrumentedHTTPProvider(
            url, request_kwargs={"timeout": PROBE_TIMEOUT_S}, exception_retry_configuration=None
        )
    )
    if runtime.chain.profile.poa:
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def probe_chain(runtime: Runtime) -> ChainProbe:
    """Reachable; the manifest's chain (id, genesis, code); anchorer role; not paused; log not behind."""
    chain = runtime.chain
    if chain is None or runtime.target is None:
        return ChainProbe(False, False, ("no chain configured",), at_s=time.monotonic())
    w3 = _probe_w3(runtime)
    try:
        chain_id = int(w3.eth.chain_id)
        block = int(w3.eth.block_number)
    except Exception as exc:
        reason = f"chain node not reachable: {exc.__class__.__name__}: {exc}"
        return ChainProbe(False, False, (reason,), at_s=time.monotonic())
    problems: list[str] = []
    try:
        problems += _identity_problems(runtime, w3, chain_id)
        expected = not problems
        roles = LedgerRoles(w3, chain.profile, chain.address)
        anchorer = chain.account.address if chain.account else None
        has_role = roles.has_role(ANCHORER_ROLE, anchorer) if anchorer and expected else None
        if has_role is False:
            problems.append(f"the anchoring key {anchorer} does not hold ANCHORER_ROLE")
        paused = roles.paused() if expected else None
        if paused:
            problems.append("the ledger contract is paused: anchoring is suspended")
        balance = int(w3.eth.get_balance(anchorer)) if anchorer else None
        if expected:
            problems += _behind_problems(runtime.db, w3, chain.address)
    except Exception as exc:
        problems.append(f"chain probe failed: {exc.__class__.__name__}: {exc}")
        return ChainProbe(True, False, tuple(problems), chain_id, block, at_s=time.monotonic())
    return ChainProbe(
        True,
        expected,
        tuple(problems),
        chain_id,
        block,
        anchorer,
        has_role,
        balance,
        paused,
        time.monotonic(),
    )


def _identity_problems(runtime: Runtime, w3: Web3, chain_id: int) -> list[str]:
    assert runtime.target is not None
    if chain_id != runtime.target.chain_id:
        return [f"the node serves chain {chain_id}, the ledger anchors on chain {runtime.target.chain_id}"]
    path = runtime.settings.manifest_path
    try:
        manifest = DeploymentManifest.load(path)
    except (OSError, ValueError, TypeError) as exc:
        return [f"cannot read the deployment manifest {path}: {exc}"]
    if Web3.to_checksum_address(manifest.contract_address) != runtime.target.contract:
        named, used = manifest.contract_address, runtime.target.contract
        return [f"the manifest names contract {named}, the ledger uses {used}"]
    return check_manifest(w3, manifest)


def _behind_problems(db: Database, w3: Web3, address: str) -> list[str]:
    """The chain holding a checkpoint beyond the log means the database lost leaves (old backup?)."""
    contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=AUDIT_ABI)
    _seq, chain_size, _root = contract.functions.latestCheckpoint().call()
    with db.read_sessions() as session:
        size = SqlLogStore(session).size()
    if int(chain_size) > size:
        return [
            f"the chain has anchored tree size {chain_size} but the log holds only {size} leaves: "
            "the database is older than the chain (restored from a backup?); see docs/operations.md"
        ]
    return []


class CachedChainProbe:
    """:func:`probe_chain`, at most once per ``ttl_s``; concurrent callers share one probe."""

    def __init__(self, runtime: Runtime, ttl_s: float = CHAIN_PROBE_TTL_S) -> None:
        self.runtime = runtime
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._last: ChainProbe | None = None

    def get(self) -> ChainProbe:
        with self._lock:
            if self._last is None or time.monotonic() - self._last.at_s >= self.ttl_s:
                self._last = probe_chain(self.runtime)
            return self._last


def job_period_s(trigger: BaseTrigger, now: datetime | None = None) -> float | None:
    """The longest time a job waits between two runs by its own schedule; None for a one-off job."""
    if isinstance(trigger, IntervalTrigger):
        return float(trigger.interval.total_seconds())
    fire = trigger.get_next_fire_time(None, now or datetime.now(UTC))
    times: list[datetime] = []
    while fire is not None and len(times) < CRON_PERIOD_SAMPLES:
        times.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    return max(gaps) if gaps else None


def job_idle_limit_s(period_s: float) -> float:
    """How long a job may go without a run before the scheduler counts as stuck."""
    return JOB_IDLE_PERIODS * period_s + JOB_IDLE_GRACE_S


def check_scheduler(
    scheduler: BaseScheduler | None, enabled: bool, monitor: jobs.JobMonitor = jobs.MONITOR
) -> Check:
    """Running; no observed job paused, stuck in one run, or idle for longer than its own schedule allows.

    Each job is judged by its own trigger: the 2 s anchoring job by seconds, the hourly points
    expiry by hours, a monthly cron snapshot by a month.
    """
    if not enabled:
        return Check(True, details={"enabled": False})
    if scheduler is None or not scheduler.running:
        return Check(False, "the scheduler is not running")
    now = monitor.clock()
    job_details: dict[str, Any] = {}
    problems = []
    for job in scheduler.get_jobs():
        registered = monitor.registered_at(job.id)
        if registered is None:
            job_details[job.id] = {"observed": False}
            continue
        if job.next_run_time is None:
            problems.append(f"job {job.id} is paused")
        beat = monitor.heartbeat(job.id)
        if beat is not None and beat.finished_s is None and now - beat.started_s > JOB_STUCK_S:
            problems.append(f"job {job.id} has been running for {now - beat.started_s:.0f} s")
        period = job_period_s(job.trigger)
        last_activity = max(registered, beat.finished_s or beat.started_s) if beat else registered
        idle_s = now - last_activity
        between_runs = beat is None or beat.finished_s is not None
        if period is not None and between_runs and idle_s > job_idle_limit_s(period):
            problems.append(f"job {job.id} has not run for {idle_s:.0f} s (it runs every {period:.0f} s)")
        job_details[job.id] = {
            "period_s": period,
            "last_run_ok": beat.ok if beat else None,
            "last_error": (beat.error or "")[:REASON_MAX_CHARS] if beat and beat.error else None,
        }
    return Check(not problems, "; ".join(problems) or None, {"jobs": job_details})
