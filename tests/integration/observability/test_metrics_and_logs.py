"""/metrics after a workload: every counter moved by exactly the workload; the logs give nothing away."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from web3 import Web3

from backend.adapters.anvil import AnvilProcess, free_port
from backend.adapters.chain import LedgerChain
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import CheckpointRow
from backend.adapters.orm_scope3 import FeedDeliveryRow
from backend.api.app import create_app
from backend.bootstrap.runtime import Runtime
from backend.entrypoints.cli import ops as cli_ops
from backend.entrypoints.worker.scheduler import anchoring_job
from backend.observability.jobs import instrumented
from backend.observability.logging import build_handler
from backend.observability.rpc import InstrumentedHTTPProvider
from backend.services.identity.tokens import issue_token
from backend.services.integrations import feed
from tests.integration.ops_support import Samples, deployed_runtime, parse_metrics, serving, value
from tests.log_scan import leaks
from tests.unit.deploy.monitoring.test_monitoring_config import referenced_metrics

pytestmark = pytest.mark.anvil

METRO = {"type": "metro", "occurred_at": "2026-11-20T08:10:00+08:00", "distance_km": 12.4}
EVENING = {**METRO, "occurred_at": "2026-11-20T18:40:00+08:00"}
"""Another trip of the same employee (the same one twice is refused as a duplicate)."""
METRO_POINTS = 125
"""12.4 km of metro against the solo petrol car (ops_support.deployed_runtime's baseline): 125 points."""
SUBJECTS = ("ops-subject-7f3a", "ops-subject-91bc")
ACTIVITIES = "/mp/v1/activities"


@pytest.fixture
def runtime(
    db: Database, database_url: str, anvil: AnvilProcess, ledger_artifact: ContractArtifact, tmp_path: Path
) -> Runtime:
    return deployed_runtime(db, database_url, anvil, ledger_artifact, tmp_path / "var")


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG and above, through the production handler (JSON, redacting)."""
    stream = io.StringIO()
    handler = build_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return parse_metrics(response.text)


def _delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def _total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of ``name`` over every series carrying ``labels`` (whatever its other labels)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= set(have))


def _dead_chain(runtime: Runtime) -> Runtime:
    """The same ledger, but its node is gone (and the client does not retry)."""
    assert runtime.chain is not None
    dead = Web3(
        InstrumentedHTTPProvider(f"http://127.0.0.1:{free_port()}", exception_retry_configuration=None)
    )
    chain = LedgerChain(dead, runtime.chain.profile, runtime.chain.address, account=runtime.chain.account)
    return dataclasses.replace(runtime, chain=chain)


def test_metrics_move_by_exactly_the_workload_and_logs_leak_nothing(
    runtime: Runtime, captured_logs: io.StringIO
) -> None:
    cli_ops.register_runtime_secrets(runtime)  # as `serve` does
    secret = runtime.settings.token_secret
    tokens = [issue_token(secret, "employee", s, "acme", 3600, kind="dev") for s in SUBJECTS]
    with serving(create_app(runtime)) as client:
        _workload(runtime, client, tokens)
    secrets = [*tokens, secret, runtime.subject_key.hex()]
    assert leaks(captured_logs.getvalue(), secrets, SUBJECTS) == []
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    recorded = [line for line in lines if line["message"].startswith("recorded activity")]
    assert len(recorded) == 4 and recorded[0]["request_id"] == "ops-request-0001"
    failed = [line for line in lines if line["message"].startswith("job anchor failed")]
    assert len(failed) == 1 and failed[0]["request_id"].startswith("job-anchor-")


def _workload(runtime: Runtime, client: httpx.Client, tokens: list[str]) -> None:
    alice, bob = ({"Authorization": f"Bearer {t}"} for t in tokens)
    before = _scrape(client)

    points = 0
    first_key = str(uuid.uuid4())
    for headers, key, trip in (
        (alice, first_key, METRO),
        (alice, str(uuid.uuid4()), EVENING),
        (bob, str(uuid.uuid4()), METRO),
    ):
        response = client.post(
            ACTIVITIES,
            json=trip,
            headers={**headers, "Idempotency-Key": key, "X-Request-ID": "ops-request-0001"},
        )
        assert response.status_code == 201 and response.headers["x-request-id"] == "ops-request-0001"
        points += response.json()["points"]
    assert (
        client.post(ACTIVITIES, json=METRO, headers={**alice, "Idempotency-Key": first_key}).status_code
        == 200
    )
    future = {**METRO, "occurred_at": "2099-01-01T00:00:00+08:00"}
    for _ in range(2):
        rejected = client.post(ACTIVITIES, json=future, headers={**bob, "Idempotency-Key": str(uuid.uuid4())})
        assert rejected.status_code == 422 and rejected.json()["errors"][0]["field"] == "occurred_at"
    negative = {**METRO, "distance_km": -1}
    assert (
        client.post(
            ACTIVITIES, json=negative, headers={**bob, "Idempotency-Key": "k-negative-01"}
        ).status_code
        == 422
    )
    assert client.get(ACTIVITIES, headers=alice).status_code == 200
    assert client.get(f"{ACTIVITIES}/{uuid.uuid4()}", headers=alice).status_code == 404
    assert client.get("/no/such/path").status_code == 404

    waiting = _scrape(client)
    # three accepted activities, each with its points transfer: six leaves
    assert value(waiting, "carbon_ledger_log_size_leaves") == 6
    assert value(waiting, "carbon_ledger_unanchored_leaves") == 6
    assert value(waiting, "carbon_ledger_oldest_unanchored_leaf_age_seconds") > 0

    instrumented("anchor", anchoring_job)(runtime)
    late = client.post(ACTIVITIES, json=EVENING, headers={**bob, "Idempotency-Key": str(uuid.uuid4())})
    assert late.status_code == 201
    points += late.json()["points"]
    instrumented("anchor", anchoring_job)(_dead_chain(runtime))
    after = _scrape(client)

    activities = "carbon_ledger_activities_total"
    assert _delta(after, before, activities, type="metro", outcome="accepted", reason="") == 4
    assert _delta(after, before, activities, type="metro", outcome="replayed", reason="") == 1
    assert _delta(after, before, activities, type="metro", outcome="rejected", reason="occurred_at") == 2
    assert (
        _delta(after, before, "carbon_ledger_points_total", movement="issued") == points == 4 * METRO_POINTS
    )

    requests = "carbon_ledger_http_requests_total"
    post = {"method": "POST", "route": ACTIVITIES}
    assert _delta(after, before, requests, **post, status="201") == 4
    assert _delta(after, before, requests, **post, status="200") == 1
    assert _delta(after, before, requests, **post, status="422") == 3
    assert _delta(after, before, requests, method="GET", route=ACTIVITIES, status="200") == 1
    assert (
        _delta(after, before, requests, method="GET", route=f"{ACTIVITIES}/{{activity_id}}", status="404")
        == 1
    )
    assert _delta(after, before, requests, method="GET", route="<unmatched>", status="404") == 1
    assert _delta(after, before, requests, method="GET", route="/metrics", status="200") == 2
    assert _delta(after, before, "carbon_ledger_http_request_duration_seconds_count", **post) == 8

    jobs = "carbon_ledger_job_runs_total"
    assert _delta(after, before, jobs, job_id="anchor", outcome="success") == 1
    assert _delta(after, before, jobs, job_id="anchor", outcome="failure") == 1
    errors = "carbon_ledger_chain_rpc_errors_total"
    # One refused connection, whichever RPC web3 sends first (it checks the chain id before eth_call).
    assert _total(after, errors, kind="transport") - _total(before, errors, kind="transport") == 1

    with runtime.db.read_sessions() as session:
        gas = session.execute(select(func.sum(CheckpointRow.gas_used))).scalar_one()
    assert gas > 0 and value(after, "carbon_ledger_anchor_gas_used_total") == gas
    # four accepted activities with their points transfers; the checkpoint covered the first three
    assert value(after, "carbon_ledger_log_size_leaves") == 8
    assert value(after, "carbon_ledger_anchored_tree_size") == 6
    assert value(after, "carbon_ledger_unanchored_leaves") == 2
    assert value(after, "carbon_ledger_checkpoints", state="confirmed") == 1
    assert value(after, "carbon_ledger_oldest_unanchored_leaf_age_seconds") > 0
    for gauge in (
        "database_up",
        "schema_current",
        "chain_up",
        "chain_expected",
        "chain_ready",
        "anchorer_has_role",
    ):
        assert value(after, f"carbon_ledger_{gauge}") == 1, gauge
    assert value(after, "carbon_ledger_contract_paused") == 0
    exposed = {name for name, _labels in after}
    missing = referenced_metrics() - exposed
    assert not missing, f"the alerts or the dashboard query metrics nobody exposes: {missing}"


def test_metrics_token_when_set(runtime: Runtime) -> None:
    runtime.settings.metrics_token = "metrics-scrape-token-0123456789"
    with serving(create_app(runtime)) as client:
        _check_token(client)


def _check_token(client: httpx.Client) -> None:
    denied = client.get("/metrics")
    assert denied.status_code == 401 and denied.headers["content-type"].startswith("application/problem+json")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-value"}).status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": "Bearer metrics-scrape-token-0123456789"})
    assert allowed.status_code == 200 and "carbon_ledger_log_size_leaves" in allowed.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_outbox_backlog_counts_undelivered_pushes(runtime: Runtime) -> None:
    with serving(create_app(runtime)) as client:
        assert value(_scrape(client), "carbon_ledger_feed_outbox_backlog") == 0
        now = datetime.now(UTC)
        with runtime.db.write_sessions() as session, session.begin():
            for n in range(3):
                feed.enqueue(session, f"delivery-{n}", "snapshot", "2026-11", {"n": n}, now)
        with runtime.db.write_sessions() as session, session.begin():
            delivered = session.get(FeedDeliveryRow, "delivery-2")
            assert delivered is not None
            delivered.status, delivered.delivered_at = "delivered", now
        assert value(_scrape(client), "carbon_ledger_feed_outbox_backlog") == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_log_queue_gauge_counts_leaves_waiting_for_the_sequencer(runtime: Runtime) -> None:
    with serving(create_app(runtime)) as client:
        assert value(_scrape(client), "carbon_ledger_log_queue_leaves") == 0
        with runtime.db.write_sessions() as session, session.begin():
            SqlLogStore(session).enqueue([PendingLeaf("activity", f"a-{n}", b"{}") for n in range(2)])
        assert value(_scrape(client), "carbon_ledger_log_queue_leaves") == 2
