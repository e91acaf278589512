"""Scheduler jobs, observed: every run gets a request id, a duration, an outcome and a heartbeat.

:func:`instrumented` wraps a job function for APScheduler. A run that raises is a failure: a
:class:`~backend.domain.errors.CarbonLedgerError` (the chain is down, a transaction reverted) is
logged as a warning with its detail, anything else with its traceback; neither is re-raised, the
next run simply tries again. The heartbeats let ``/readyz`` tell a live scheduler from a stuck one.
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
    """What the last run of a job did: monotonic times, so wall-clock jumps do not matter."""

    started_s: float
    finished_s: float | None
    ok: bool | None
    error: str | None


_lock = threading.Lock()
_heartbeats: dict[str, Heartbeat] = {}
_registered: dict[str, float] = {}


def registered_at(job: str) -> float | None:
    """Monotonic time at which ``job`` was wrapped (scheduled), or None for an unobserved job."""
    with _lock:
        return _registered.get(job)


def heartbeat(job: str) -> Heartbeat | None:
    with _lock:
        return _heartbeats.get(job)


def _beat(job: str, beat: Heartbeat) -> None:
    with _lock:
        _heartbeats[job] = beat


def instrumented(job: str, fn: Callable[..., Any]) -> Callable[..., None]:
    """``fn`` as an observed scheduler job named ``job`` (use the APScheduler job id)."""
    with _lock:
        _registered[job] = time.monotonic()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        started = time.monotonic()
        _beat(job, Heartbeat(started, None, None, None))
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
        finished = time.monotonic()
        metrics.JOB_DURATION.labels(job).observe(finished - started)
        metrics.JOB_RUNS.labels(job, "failure" if error else "success").inc()
        if error is None:
            metrics.JOB_LAST_SUCCESS.labels(job).set_to_current_time()
        _beat(job, Heartbeat(started, finished, error is None, error))

    return run
