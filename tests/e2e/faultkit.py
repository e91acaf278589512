"""Load and fault helpers for the fault suite: a writer that keeps posting activities and keeps
the client's view (acknowledged, failed) so that losses and duplicates can be counted after."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

LOAD_ENV = {
    # The fault suite measures loss and duplication, not the anti-abuse rules: lift the rate limits.
    "CARBON_EMPLOYEE_ACTIVITIES_PER_HOUR": "10000",
    "CARBON_EMPLOYEE_ACTIVITIES_PER_DAY": "100000",
    "CARBON_ANCHOR_INTERVAL_S": "0.5",
}
TRIP_SPACING = timedelta(minutes=45)
"""Each employee's trips start this far apart, so none is taken for a duplicate of another."""


def metro(seq: int, base: datetime | None = None) -> dict[str, object]:
    base = base or datetime.now(UTC) - timedelta(hours=1)
    return {
        "type": "metro",
        "occurred_at": (base - seq * TRIP_SPACING).isoformat(),
        "distance_km": 3 + seq % 17,
    }


@dataclass
class Attempt:
    key: str
    employee: int
    body: dict[str, object]
    status: int | None = None
    activity_id: str | None = None


@dataclass(eq=False)  # threads must stay hashable
class Writer(threading.Thread):
    """Posts activities for ``employees`` (tokens) until stopped, recording every attempt."""

    url: str
    tokens: list[str]
    prefix: str
    attempts: list[Attempt] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        threading.Thread.__init__(self, daemon=True)
        self.base = datetime.now(UTC) - timedelta(hours=1)

    def run(self) -> None:
        seq = 0
        with httpx.Client(timeout=5) as client:
            while not self.stop_event.is_set():
                employee = seq % len(self.tokens)
                attempt = Attempt(
                    f"{self.prefix}-{seq:06d}", employee, metro(seq // len(self.tokens), self.base)
                )
                self.attempts.append(attempt)
                send(client, self.url, self.tokens[employee], attempt)
                if attempt.status is None:
                    time.sleep(0.05)  # server down: keep trying, like a phone on a flaky network
                seq += 1

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=30)

    @property
    def acknowledged(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status in (200, 201)]


def send(client: httpx.Client, url: str, token: str, attempt: Attempt) -> None:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": attempt.key}
    try:
        response = client.post(f"{url}/mp/v1/activities", json=attempt.body, headers=headers)
    except httpx.HTTPError:
        attempt.status = None
        return
    attempt.status = response.status_code
    if response.status_code in (200, 201):
        attempt.activity_id = response.json()["id"]
