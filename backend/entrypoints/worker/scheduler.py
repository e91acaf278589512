"""Background jobs (APScheduler): anchoring checkpoints of the log on the chain; points expiry.

Every process that runs a scheduler (``carbon-ledger serve`` with the scheduler enabled, each of
its ``--workers``, ``carbon-ledger worker``) schedules every job, but a job runs only in the
process holding its role's lease (:mod:`backend.entrypoints.worker.elector`): one anchorer — the
only sender of chain transactions —, one feed, one expiry and (queued sequencing) one sequencer
per deployment. Each job runs at most once at a time
and missed runs coalesce.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session

from backend.adapters.deployment import load_manifest
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.startup import watch_chain
from backend.domain.errors import CarbonLedgerError
from backend.entrypoints.worker import feed_jobs
from backend.entrypoints.worker.elector import Elector
from backend.observability import metrics
from backend.observability.jobs import MONITOR, JobMonitor
from backend.services.anchoring import chain_repair
from backend.services.anchoring.anchoring import anchor_tick
from backend.services.anchoring.chain_identity import ChainCheck
from backend.services.log import witnessing
from backend.services.points.points import expire_due
from backend.services.points.points_rules import park_rules
from backend.services.recording import sequencing

logger = logging.getLogger(__name__)


def anchoring_job(runtime: Runtime, fence: Callable[[Session], bool] | None = None) -> None:
    """One anchoring tick; a failure raises, and :func:`instrumented` logs and counts it.

    A chain that is not the anchored one gets nothing, except one that only lost its latest
    checkpoints: those are re-anchored on the same contract first (:mod:`chain_repair`).
    ``fence`` (the elected anchorer's lease) is checked in the transaction that adds a checkpoint.
    """
    if runtime.chain is None or runtime.target is None:
        return
    check = watch_chain(runtime, full=False)
    if check is not None and not check.ok:
        if not _repair(runtime, check):
            return
        check = watch_chain(runtime)
        if check is not None and not check.ok:
            return
    result = anchor_tick(runtime.db, runtime.chain, runtime.target, runtime.anchor_policy, fence)
    if result.confirmed or result.prepared is not None:
        runtime.chain_guard.saw(runtime.chain.latest_checkpoint())
    if result.confirmed:
        logger.info("anchored checkpoints up to tree size %d", max(result.confirmed))


def _repair(runtime: Runtime, check: ChainCheck) -> bool:
    """Advances the repair of a lost suffix; True once it is complete (anchoring may go on)."""
    assert runtime.chain is not None and runtime.target is not None
    manifest, _ = load_manifest(runtime.settings.manifest_path)
    if manifest is None:
        return False
    progress = chain_repair.repair_step(
        runtime.db, runtime.chain, runtime.target, check, json.loads(manifest.to_json())
    )
    return progress is not None and progress.complete


def witness_job(runtime: Runtime, http: httpx.Client) -> None:
    """Sends the latest anchored checkpoint to the witnesses that have not cosigned it."""
    if runtime.target is None:
        return
    witnessing.submit_latest(
        runtime.db,
        runtime.target,
        runtime.log_keys,
        witnessing.endpoints(runtime.settings.witnesses),
        http,
        datetime.now(UTC),
    )


SEQUENCER_RUN_S = 1.0
"""How long one run of the sequencer job keeps sequencing (it polls the queue every few ms) before
the scheduler runs it again, renewing the role's lease."""


def sequencer_job(runtime: Runtime) -> None:
    """Appends the queued leaves to the log, batch after batch (``CARBON_SEQUENCING=queued``)."""
    sequencing.run_for(runtime.db, SEQUENCER_RUN_S)


def points_expiry_job(runtime: Runtime) -> None:
    try:
        months = park_rules(runtime.db, runtime.issuance.rules_defaults).expiry_months
        run = expire_due(runtime.db, runtime.subject_key, months, datetime.now(UTC))
    except CarbonLedgerError as exc:
        logger.warning("points expiry failed: %s", exc.detail)
        return
    metrics.observe_points("expired", run.points)
    if run.points:
        logger.info("expired %d points in %d accounts", run.points, run.accounts)


def build_scheduler(
    runtime: Runtime, monitor: JobMonitor = MONITOR, elector: Elector | None = None
) -> BackgroundScheduler:
    """Every job of a deployment, each on its own schedule, observed by ``monitor`` and, with an
    ``elector``, run only while this process holds the job's role; not started."""

    def role(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn if elector is None else elector.guarded(name, fn)

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        monitor.instrumented("anchor", role("anchor", anchoring_job)),
        "interval",
        args=[runtime],
        kwargs={"fence": elector.fence("anchor")} if elector is not None else {},
        seconds=runtime.settings.anchor_interval_s,
        id="anchor",
        max_instances=1,
        coalesce=True,
    )
    feed_jobs.register(scheduler, runtime, monitor, lambda fn: role("feed", fn))
    if runtime.settings.witnesses:
        witnessing.endpoints(runtime.settings.witnesses)  # a bad vkey fails at start, not in the job
        scheduler.add_job(
            monitor.instrumented("witness", role("anchor", witness_job)),
            "interval",
            args=[runtime, httpx.Client(timeout=runtime.settings.witness_timeout_s)],
            seconds=runtime.settings.anchor_interval_s,
            id="witness",
            max_instances=1,
            coalesce=True,
        )
    if sequencing.queued(runtime.db):
        scheduler.add_job(
            monitor.instrumented("sequencer", role("sequencer", sequencer_job)),
            "interval",
            args=[runtime],
            seconds=0.05,
            id="sequencer",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
    scheduler.add_job(
        monitor.instrumented("points-expiry", role("expiry", points_expiry_job)),
        "interval",
        args=[runtime],
        seconds=runtime.settings.points_expiry_interval_s,
        id="points-expiry",
        max_instances=1,
        coalesce=True,
    )
    return scheduler


def start_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """The scheduler, started, with its roles elected; shutting it down releases the roles."""
    elector = Elector(runtime.db, runtime.settings.role_lease_s)
    scheduler = build_scheduler(runtime, elector=elector)
    scheduler.add_listener(lambda _event: elector.stop(), EVENT_SCHEDULER_SHUTDOWN)
    elector.start()
    scheduler.start()
    return scheduler
