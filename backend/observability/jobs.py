"""Scheduler jobs, observed: every run gets a request id, a duration, an outcome and a heartbeat.

:meth:`JobMonitor.instrumented` wraps a job function for APScheduler. A run that raises is a
failure: a :class:`~backend.domain.errors.CarbonLedgerError` (the chain is down, a transaction
reverted) is logged as a warning with its detail, anything else with its traceback; neither is
re-raised, the next run simply tries again. The heartbeats let ``/readyz`` tell a live scheduler
from a stuck one. The monitor reads one clock (monotonic by default, so wall-clock jumps do not
matter); tests give it a controlled one.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.domain.errors import CarbonLedgerError
from backend.observability import metrics
from backend.observability.context import bound_request_id, new_request_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Heartbeat:
    """What the last run of a job did, in the monitor's clock."""

    started_s: float
    finished_s: float | None
    ok: bool | None
    error: str | None


class JobMonitor:
    """Heartbeats of the jobs it wrapped, thread-safe; one per process unless a test wants its own."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._heartbeats: dict[str, Heartbeat] = {}
        self._registered: dict[str, float] = {}

    def registered_at(self, job: str) -> float | None:
        """When ``job`` was wrapped (scheduled), or None for a job this monitor does not observe."""
        with self._lock:
            return self._registered.get(job)

    def heartbeat(self, job: str) -> Heartbeat | None:
        with self._lock:
            return self._heartbeats.get(job)

    def _beat(self, job: str, beat: Heartbeat) -> None:
        with self._lock:
            self._heartbeats[job] = beat

    def instrumented(self, job: str, fn: Callable[..., Any]) -> Callable[..., None]:
        """``fn`` as an observed scheduler job named ``job`` (use the APScheduler job id)."""
        with self._lock:
            self._registered[job] = self.clock()

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            started = self.clock()
            self._beat(job, Heartbeat(started, None, None, None))
            error: str | None = None
            with bound_request_id(new_request_id(f"job-{job}-")):
                try:
                    fn(*args, **kwargs)
                except CarbonLedgerError as exc:
                    error = exc.detail
                    logger.warning("job %s failed: %s", job, exc.detail, extra={"job_id": job})
                except Exception as exc:
                    error = f"{exc.__class__.__name__}: {exc}"
                    logger.exception("job %s failed unexpectedly", job, extra={"job_id": job})
            finished = self.clock()
            metrics.JOB_DURATION.labels(job).observe(max(0.0, finished - started))
            metrics.JOB_RUNS.labels(job, "failure" if error else "success").inc()
            if error is None:
                metrics.JOB_LAST_SUCCESS.labels(job).set_to_current_time()
            self._beat(job, Heartbeat(started, finished, error is None, error))

        return run


MONITOR = JobMonitor()
"""The process's monitor: what ``carbon-ledger serve`` schedules and ``/readyz`` reads."""

instrumented = MONITOR.instrumented
registered_at = MONITOR.registered_at
heartbeat = MONITOR.heartbeat
