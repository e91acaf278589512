"""Feed jobs are registered from settings: delivery only with a platform URL, snapshots by cron."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import Settings
from backend.domain.errors import ConfigurationError
from backend.entrypoints.worker import feed_jobs


class Recorder:
    def __init__(self) -> None:
        self.jobs: dict[str, Any] = {}

    def add_job(self, func: Any, trigger: Any, **kwargs: Any) -> None:
        self.jobs[kwargs["id"]] = trigger


def _runtime(tmp_path: Path, **settings: Any) -> Runtime:
    return Runtime(Settings(data_dir=tmp_path, **settings), db=None, chain=None, target=None, subject_key=b"")  # type: ignore[arg-type]


def test_no_url_no_cron_no_jobs(tmp_path: Path) -> None:
    scheduler = Recorder()
    feed_jobs.register(scheduler, _runtime(tmp_path))
    assert scheduler.jobs == {}


def test_url_and_cron_add_both_jobs(tmp_path: Path) -> None:
    scheduler = Recorder()
    runtime = _runtime(tmp_path, park_platform_url="http://127.0.0.1:9/in", feed_schedule_cron="0 2 * * *")
    feed_jobs.register(scheduler, runtime)
    assert set(scheduler.jobs) == {"feed-deliver", "feed-snapshot"}
    assert "hour='2'" in str(scheduler.jobs["feed-snapshot"])


def test_bad_cron_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        feed_jobs.register(Recorder(), _runtime(tmp_path, feed_schedule_cron="every day"))


def test_url_without_secret_is_refused_outside_local(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, env="production", park_platform_url="http://127.0.0.1:9/in")
    with pytest.raises(ConfigurationError):
        feed_jobs.register(Recorder(), runtime)
