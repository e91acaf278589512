"""Scheduler jobs of the park-platform feed: deliver the outbox, and push scheduled snapshots."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from backend.bootstrap.runtime import Runtime
from backend.domain.accounting.scope3 import period_containing
from backend.domain.errors import CarbonLedgerError, ConfigurationError
from backend.observability import metrics
from backend.observability.jobs import MONITOR, JobMonitor
from backend.services.accounting import scope3
from backend.services.integrations import feed

logger = logging.getLogger(__name__)


def _config(runtime: Runtime) -> feed.FeedConfig | None:
    s = runtime.settings
    return feed.feed_config(
        s.park_platform_url,
        s.park_platform_secret,
        s.is_local,
        s.feed_timeout_s,
        s.feed_backoff_base_s,
        s.feed_backoff_max_s,
    )


def _scope3_config(runtime: Runtime) -> scope3.Scope3Config:
    return scope3.Scope3Config(
        runtime.settings.scope3_timezone, runtime.settings.min_group_size, runtime.settings.baseline
    )


def deliver_job(runtime: Runtime, config: feed.FeedConfig) -> None:
    try:
        report = feed.deliver_due(runtime.db, config)
    except CarbonLedgerError as exc:
        logger.warning("feed delivery tick failed: %s", exc.detail)
        return
    metrics.FEED_DELIVERIES.labels("delivered").inc(report.delivered)
    metrics.FEED_DELIVERIES.labels("failed").inc(report.failed)
    if report.delivered or report.failed:
        logger.info("park platform feed: %d delivered, %d to retry", report.delivered, report.failed)


def snapshot_job(runtime: Runtime) -> None:
    config = _scope3_config(runtime)
    period = period_containing(datetime.now(UTC).astimezone(config.tz), runtime.settings.feed_snapshot_period)
    try:
        delivery_id = feed.enqueue_snapshot(runtime.db, period, config)
    except CarbonLedgerError as exc:
        logger.warning("scheduled snapshot of %s failed: %s", period.label, exc.detail)
        return
    logger.info("queued snapshot %s of %s for the park platform", delivery_id, period.label)


def register(
    scheduler: Any,
    runtime: Runtime,
    monitor: JobMonitor = MONITOR,
    guard: Callable[[Callable[..., Any]], Callable[..., Any]] = lambda fn: fn,
) -> None:
    """Adds the feed's jobs, each wrapped by ``guard`` (the feed role's election); without a
    platform URL pushes wait in the outbox."""
    config = _config(runtime)
    if config is not None:
        scheduler.add_job(
            monitor.instrumented("feed-deliver", guard(deliver_job)),
            "interval",
            args=[runtime, config],
            seconds=runtime.settings.feed_poll_interval_s,
            id="feed-deliver",
            max_instances=1,
            coalesce=True,
        )
    cron = runtime.settings.feed_schedule_cron.strip()
    if cron:
        try:
            trigger = CronTrigger.from_crontab(cron, timezone=_scope3_config(runtime).tz)
        except ValueError as exc:
            raise ConfigurationError(f"CARBON_FEED_SCHEDULE_CRON {cron!r}: {exc}") from None
        scheduler.add_job(
            monitor.instrumented("feed-snapshot", guard(snapshot_job)),
            trigger,
            args=[runtime],
            id="feed-snapshot",
            max_instances=1,
            coalesce=True,
        )
