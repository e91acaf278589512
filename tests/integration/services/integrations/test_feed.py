"""The park-platform feed against a real local HTTP server that is down, then fails, then recovers."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from backend.adapters.anvil import free_port
from backend.adapters.database import Database
from backend.adapters.orm_scope3 import FeedDeliveryRow
from backend.domain.accounting.scope3 import parse_period
from backend.domain.errors import ConfigurationError
from backend.services.accounting import scope3
from backend.services.integrations import feed
from backend.services.recording.activities import Caller, IssuancePolicy, record_activity
from backend.services.reporting import scope3_close
from tests.waiting import wait_for

SECRET = b"platform-shared-secret"
POLICY = IssuancePolicy(100, b"k" * 32, timedelta(days=366), timedelta(minutes=5))
CONFIG = scope3.Scope3Config("Asia/Shanghai", 5)
NOW = datetime(2026, 11, 24, 8, tzinfo=UTC)


class Platform:
    """A park platform that answers 503 to its first ``failures`` pushes, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                platform.received.append((dict(self.headers.items()), body))
                ok = len(platform.received) > platform.failures
                self.send_response(200 if ok else 503)
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"maintenance")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/footprint/inbox"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Platform:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def closed_october(db: Database) -> Database:
    when = datetime(2026, 10, 15, 0, 30, tzinfo=UTC)
    payload = {"type": "metro", "occurred_at": when.isoformat(), "distance_km": "10"}
    for i in range(5):  # the minimum group: the platform receives no figures of fewer people
        record_activity(
            db, Caller(f"e-{i}", "acme", "eng"), f"key-feed-{i:04d}", payload, when, POLICY, now=NOW
        )
    scope3_close.close_period(db, parse_period("2026-10"), CONFIG, "park_manager", "pm", b"s" * 32, now=NOW)
    return db


def _config(url: str, base_s: float = 0.05) -> feed.FeedConfig:
    config = feed.feed_config(url, SECRET.decode(), False, 2.0, base_s, 1.0)
    assert config is not None
    return config


def _rows(db: Database) -> list[FeedDeliveryRow]:
    with db.read_sessions() as session:
        return list(session.execute(select(FeedDeliveryRow)).scalars())


def test_push_survives_platform_down_then_failing_then_recovering(closed_october: Database) -> None:
    db = closed_october
    # Down: nothing listens on the port yet.
    down = feed.deliver_due(db, _config(f"http://127.0.0.1:{free_port()}/inbox"))
    assert (down.delivered, down.failed) == (0, 1)
    (row,) = _rows(db)
    assert row.status == "pending" and row.attempts == 1 and row.last_status_code is None
    assert row.last_error and "Connect" in row.last_error
    first_retry = row.next_attempt_at

    with Platform(failures=2) as platform:

        def delivered() -> bool:
            feed.deliver_due(db, _config(platform.url))
            return bool(_rows(db)[0].status == "delivered")

        wait_for("the snapshot to be delivered", delivered, 20, 0.05)
        (row,) = _rows(db)
        assert row.status == "delivered" and row.attempts == 4 and row.last_status_code == 200
        assert row.next_attempt_at > first_retry  # backoff grew between failures
        assert len(platform.received) == 3  # 503, 503, 200: no push after the success
        ids = {h["X-Carbon-Ledger-Delivery"] for h, _ in platform.received}
        bodies = {b for _, b in platform.received}
        assert ids == {row.delivery_id} and bodies == {row.body}  # idempotent: same id and bytes
        for headers, body in platform.received:
            timestamp, signature = headers["X-Carbon-Ledger-Timestamp"], headers["X-Carbon-Ledger-Signature"]
            assert feed.verify(SECRET, timestamp, body, signature)
            assert not feed.verify(b"wrong", timestamp, body, signature)
            assert not feed.verify(SECRET, timestamp, body + b" ", signature)
        document = json.loads(row.body)
        assert document["event"] == "period_close" and document["period"] == "2026-10"
        assert document["data"]["summary"]["park"]["inventory"]["total"]["co2e_g"] == 5 * 614
        # Nothing more is due: a further tick sends nothing.
        assert feed.deliver_due(db, _config(platform.url)) == feed.TickReport(0, 0)
        assert len(platform.received) == 3


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [feed.backoff_s(n, 2, 30) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
    assert feed.backoff_s(10_000, 2, 3600) == 3600


def test_snapshots_are_idempotent_per_log_state(closed_october: Database) -> None:
    db = closed_october
    november = parse_period("2026-11")
    first = feed.enqueue_snapshot(db, november, CONFIG)
    assert feed.enqueue_snapshot(db, november, CONFIG) == first
    assert len(_rows(db)) == 2  # the close and one snapshot
    status = feed.outbox_status(db, configured=False)
    assert (status["pending"], status["delivered"]) == (2, 0)


def test_a_secret_is_required_outside_local_mode() -> None:
    with pytest.raises(ConfigurationError):
        feed.feed_config("http://127.0.0.1:9/x", None, False, 1, 1, 1)
    assert feed.feed_config("http://127.0.0.1:9/x", None, True, 1, 1, 1) is not None
    assert feed.feed_config(None, "s", False, 1, 1, 1) is None
