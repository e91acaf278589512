"""The one disclosure rule on the aggregates route: windows snapped to whole days, so windows a
microsecond apart give the same figures and cannot isolate a record by difference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from backend.adapters.database import Database
from backend.services.recording.activities import Caller, record_activity
from tests.integration.api_harness import Api

PARK = ZoneInfo("Asia/Shanghai")
MICROSECOND = timedelta(microseconds=1)


def test_windows_a_microsecond_apart_give_the_same_figures(db: Database, tmp_path: Path) -> None:
    api = Api(db, tmp_path)
    now = datetime.now(UTC)
    day = (now - timedelta(days=3)).astimezone(PARK).replace(hour=9, minute=0, second=0, microsecond=0)
    for i in range(6):
        payload = {"type": "metro", "occurred_at": day.isoformat(), "distance_km": "8"}
        record_activity(db, Caller(f"emp-{i}", "acme", "eng"), f"k-{i}", payload, day, api.runtime.issuance)
    lone = day.replace(hour=15, minute=30, second=7, microsecond=123456)  # one trip, mid-afternoon
    payload = {"type": "metro", "occurred_at": lone.isoformat(), "distance_km": "11"}
    record_activity(db, Caller("emp-0", "acme", "eng"), "k-lone", payload, lone, api.runtime.issuance)
    manager = api.auth("park_manager", "pm-1")

    def figures(since: datetime, until: datetime) -> dict[str, object]:
        params = {"since": since.isoformat(), "until": until.isoformat()}
        response = api.client.get("/api/v1/aggregates", params=params, headers=manager)
        assert response.status_code == 200, response.text
        return dict(response.json())

    start = day - timedelta(hours=2)
    before = figures(start, lone)  # up to the lone trip, excluded
    after = figures(start, lone + MICROSECOND)  # up to just after it
    assert before == after and before["groups"][0]["activities"] == 7
    assert figures(start + MICROSECOND, lone) == before  # the start moved too
    # the window used is stated: whole days of the park
    assert datetime.fromisoformat(str(before["since"])) == day.replace(hour=0, minute=0)
    assert datetime.fromisoformat(str(before["until"])) == day.replace(hour=0, minute=0) + timedelta(days=1)
    bad = api.client.get(
        "/api/v1/aggregates", params={"since": lone.isoformat(), "until": start.isoformat()}, headers=manager
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "until"
