"""Group commit for single activities: concurrent requests share one write transaction.

Every recording transaction holds the log's head lock (with ``CARBON_SEQUENCING=queued``, the
employees' advisory locks instead: :mod:`backend.services.recording.sequencing`) and pays a fixed price —
about sixteen
statements (the facts the rules read, the head, the log's frontier, the inserts) and a commit that
waits for the disk — so requests recorded one at a time spend most of their time on that price.
Here a request queues its draft; whichever request thread
gets the writer's turn takes every draft waiting at that moment (up to :data:`MAX_GROUP`) and
records them with :func:`backend.services.recording.activities.record_many` in one transaction — one set
of reads, one log append, one commit — then hands each request its own outcome. Requests that
arrived while it worked form the next group. Nothing is acknowledged before its commit.

A group that fails as a whole (a database error) is retried one draft at a time, so one bad draft
fails only its own request.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from backend.adapters.database import Database
from backend.services.recording.activities import Draft, IssuancePolicy, Outcome, record_many

MAX_GROUP = 256
"""Drafts per transaction: bounds the transaction's time (a few hundred ms at most) and memory."""


@dataclass
class _Job:
    draft: Draft
    policy: IssuancePolicy
    now: datetime | None
    """The recording time the caller fixed (tests, imports); None: the group's commit time."""
    future: Future[Outcome] = field(default_factory=Future)


class GroupCommitter:
    """Records drafts of one process in shared transactions (see the module docstring)."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.clock = clock or (lambda: datetime.now(UTC))
        self._pending: list[_Job] = []
        self._changed = threading.Condition()
        self._writing = False
        """Whether a thread holds the writer's turn; guarded by ``_changed``."""

    def record(self, draft: Draft, policy: IssuancePolicy, now: datetime | None = None) -> Outcome:
        """The draft's outcome once committed; raises what the database raised for it alone."""
        job = _Job(draft, policy, now)
        with self._changed:
            self._pending.append(job)
            while not job.future.done():
                if self._writing:
                    self._changed.wait()  # woken when a group is done: ours, or the turn is free
                    continue
                self._writing = True
                group = self._take()
                self._changed.release()
                try:
                    self._commit(group)
                finally:
                    self._changed.acquire()
                    self._writing = False
                    self._changed.notify_all()
        return job.future.result()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Holds the writer's turn: drafts queue until it is released (tests, maintenance)."""
        with self._changed:
            while self._writing:
                self._changed.wait()
            self._writing = True
        try:
            yield
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()

    def waiting(self) -> int:
        with self._changed:
            return len(self._pending)

    def _take(self) -> list[_Job]:
        """The waiting jobs that share the first one's policy and time, in arrival order (the
        caller holds ``_changed``; its own job is waiting, so there is a first)."""
        first = self._pending[0]
        group = [job for job in self._pending if job.now == first.now and job.policy == first.policy]
        group = group[:MAX_GROUP]
        taken = {id(job) for job in group}
        self._pending = [job for job in self._pending if id(job) not in taken]
        return group

    def _commit(self, group: list[_Job]) -> None:
        try:
            drafts = [job.draft for job in group]
            outcomes = record_many(self.db, drafts, group[0].policy, group[0].now or self.clock())
        except Exception as exc:
            if len(group) == 1:
                group[0].future.set_exception(exc)
                return
            for job in group:
                self._commit([job])
            return
        except BaseException as exc:  # the process is stopping: no request waits forever
            for job in group:
                if not job.future.done():
                    job.future.set_exception(exc)
            raise
        for job, outcome in zip(group, outcomes, strict=True):
            job.future.set_result(outcome)


_COMMITTERS: weakref.WeakKeyDictionary[Database, GroupCommitter] = weakref.WeakKeyDictionary()
_COMMITTERS_LOCK = threading.Lock()


def committer_for(db: Database) -> GroupCommitter:
    """The process's group committer of ``db`` (one per database, so groups span all requests)."""
    with _COMMITTERS_LOCK:
        committer = _COMMITTERS.get(db)
        if committer is None:
            committer = _COMMITTERS[db] = GroupCommitter(db)
        return committer
