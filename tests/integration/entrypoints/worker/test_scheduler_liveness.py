"""The scheduler's liveness in /readyz: each job judged by its own schedule, on a controlled clock.

The jobs are the ones ``carbon-ledger serve`` schedules (anchoring every 2 s, feed delivery every
minute, points expiry hourly), built by :func:`build_scheduler` and run here by a small simulation of
the scheduler on a fake clock, so hours pass without sleeping.
"""

from __future__ import annotations

import heapq
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from backend.adapters.database import Database
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import Settings
from backend.entrypoints.worker.scheduler import build_scheduler
from backend.observability import checks
from backend.observability.jobs import JobMonitor

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1_000.0

    def __call__(self) -> float:
        return self.now_s


def _scheduler(db: Database, tmp_path: Path, clock: FakeClock) -> tuple[BackgroundScheduler, JobMonitor]:
    settings = Settings(data_dir=tmp_path, park_platform_url="http://127.0.0.1:9/in", feed_poll_interval_s=60)
    runtime = Runtime(settings, db=db, chain=None, target=None, subject_key=b"k" * 32)
    monitor = JobMonitor(clock)
    scheduler = build_scheduler(runtime, monitor)
    scheduler.start(paused=True)  # running, but only the simulation below runs jobs
    return scheduler, monitor


class SimulatedScheduler:
    """Runs each job of ``scheduler`` every period of its own trigger, in time order, on ``clock``."""

    def __init__(self, scheduler: BackgroundScheduler, clock: FakeClock) -> None:
        self.clock = clock
        self.jobs = {job.id: job for job in scheduler.get_jobs()}
        self.queue: list[tuple[float, str, float]] = []
        for job in self.jobs.values():
            period = checks.job_period_s(job.trigger)
            assert period is not None
            heapq.heappush(self.queue, (clock.now_s + period, job.id, period))
        self.last_run: dict[str, float] = {}

    def run_until(self, until_s: float, skip: frozenset[str] = frozenset()) -> None:
        while self.queue and self.queue[0][0] <= until_s:
            due, job_id, period = heapq.heappop(self.queue)
            self.clock.now_s = due
            if job_id not in skip:
                job = self.jobs[job_id]
                job.func(*job.args)
                self.last_run[job_id] = due
            heapq.heappush(self.queue, (due + period, job_id, period))
        self.clock.now_s = until_s


@SQLITE
def test_every_job_is_judged_by_its_own_schedule(db: Database, tmp_path: Path) -> None:
    clock = FakeClock()
    scheduler, monitor = _scheduler(db, tmp_path, clock)
    start = clock.now_s
    try:
        assert {job.id for job in scheduler.get_jobs()} == {"anchor", "feed-deliver", "points-expiry"}
        periods = {job.id: checks.job_period_s(job.trigger) for job in scheduler.get_jobs()}
        assert periods == {"anchor": 2.0, "feed-deliver": 60.0, "points-expiry": 3600.0}

        simulated = SimulatedScheduler(scheduler, clock)
        # 95 s after start the hourly job has not run yet, and should not have.
        simulated.run_until(start + 95)
        check = checks.check_scheduler(scheduler, enabled=True, monitor=monitor)
        assert check.ok, check.reason
        assert check.details["jobs"]["anchor"]["last_run_ok"] is True
        assert check.details["jobs"]["points-expiry"]["last_run_ok"] is None

        # Past the longest interval (and its grace), every job runs on time: still ready.
        for hours in (1.05, 2.2, 3.5):
            simulated.run_until(start + hours * 3600)
            check = checks.check_scheduler(scheduler, enabled=True, monitor=monitor)
            assert check.ok, check.reason
        assert check.details["jobs"]["points-expiry"]["last_run_ok"] is True

        # The hourly job stops running: not ready once it missed two runs, and only it is named.
        last_expiry = simulated.last_run["points-expiry"]
        assert last_expiry == start + 3 * 3600
        simulated.run_until(last_expiry + 2 * 3600 + 59, skip=frozenset({"points-expiry"}))
        assert checks.check_scheduler(scheduler, enabled=True, monitor=monitor).ok
        simulated.run_until(last_expiry + 2 * 3600 + 61, skip=frozenset({"points-expiry"}))
        check = checks.check_scheduler(scheduler, enabled=True, monitor=monitor)
        assert not check.ok
        assert check.reason == "job points-expiry has not run for 7261 s (it runs every 3600 s)"

        # The 2 s anchoring job that stops is noticed within about a minute, not an hour.
        simulated.run_until(clock.now_s + 3600)
        assert checks.check_scheduler(scheduler, enabled=True, monitor=monitor).ok
        simulated.run_until(clock.now_s + 70, skip=frozenset({"anchor"}))
        check = checks.check_scheduler(scheduler, enabled=True, monitor=monitor)
        assert check.reason is not None and check.reason.startswith("job anchor has not run for")
        assert "points-expiry" not in check.reason
    finally:
        scheduler.shutdown(wait=False)


@SQLITE
def test_stuck_run_and_paused_job_are_named(db: Database, tmp_path: Path) -> None:
    clock = FakeClock()
    scheduler, monitor = _scheduler(db, tmp_path, clock)
    try:
        scheduler.pause_job("feed-deliver")
        paused = checks.check_scheduler(scheduler, enabled=True, monitor=monitor)
        assert paused.reason == "job feed-deliver is paused"
        scheduler.resume_job("feed-deliver")
        seen: list[checks.Check] = []

        def hang() -> None:  # /readyz asks while a run of the anchoring job hangs
            clock.now_s += checks.JOB_STUCK_S + 1
            seen.append(checks.check_scheduler(scheduler, enabled=True, monitor=monitor))

        monitor.instrumented("anchor", hang)()
        assert seen[0].reason is not None  # (feed delivery, not run meanwhile, is named after it)
        assert seen[0].reason.startswith("job anchor has been running for 301 s")
    finally:
        scheduler.shutdown(wait=False)
    assert not checks.check_scheduler(scheduler, enabled=True, monitor=monitor).ok
    assert checks.check_scheduler(None, enabled=False).ok


def test_cron_job_period_is_its_longest_gap() -> None:
    weekdays = CronTrigger.from_crontab("0 9 * * 1-5", timezone="UTC")
    assert checks.job_period_s(weekdays, datetime(2026, 12, 2, tzinfo=UTC)) == 3 * 86_400
    monthly = CronTrigger.from_crontab("0 2 1 * *", timezone="UTC")
    assert checks.job_period_s(monthly, datetime(2026, 12, 2, tzinfo=UTC)) == 31 * 86_400
