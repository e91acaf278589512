"""Helpers for the chain-identity, re-anchoring and fault tests: a runtime on a real Anvil."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.adapters.anvil import AnvilProcess
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.log_store import SqlLogStore
from backend.api.app import create_app
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import Settings
from backend.bootstrap.startup import build_runtime
from backend.services.identity.tokens import issue_token
from backend.services.recording.activities import Caller, record_activity

with warnings.catch_warnings():
    # Starlette asks for its httpx fork; the pinned httpx works the same for in-process calls.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

WHEN = datetime(2026, 11, 20, 8, 10, tzinfo=UTC)
STATE_INTERVAL_S = 1
"""Anvil dumps its state every second in these tests, so a kill after 2 s loses nothing."""


def settings_for(data_dir: Path, database_url: str, rpc_url: str, points_per_kg: int = 0) -> Settings:
    """Settings of a test ledger; no points by default, so each activity is exactly one leaf."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        chain_rpc_url=rpc_url,
        anchor_batch_leaves=1,
        anchor_max_wait_s=0,
        scheduler_enabled=False,
        subject_key="ab" * 32,
        points_per_kg_avoided=points_per_kg,
    )


def runtime_for(settings: Settings, artifact: ContractArtifact) -> Runtime:
    return build_runtime(settings, artifact=artifact)


def node(port: int, state: Path | None, workdir: Path) -> AnvilProcess:
    anvil = AnvilProcess(
        port, state, log_path=workdir / f"anvil-{port}.log", state_interval_s=STATE_INTERVAL_S
    )
    anvil.start()
    return anvil


def record(runtime: Runtime, count: int, start: int = 0, org: str = "acme") -> list[str]:
    """Records ``count`` metro trips by distinct employees; returns the activity ids."""
    ids = []
    for i in range(start, start + count):
        result = record_activity(
            runtime.db,
            Caller(f"emp-{i:04d}", org),
            f"key-{i:010d}",
            {"type": "metro", "occurred_at": WHEN.isoformat(), "distance_km": f"{5 + i % 7}"},
            WHEN,
            runtime.issuance,
            now=datetime(2026, 11, 21, tzinfo=UTC),
        )
        ids.append(result.row.id)
    return ids


def log_size(runtime: Runtime) -> int:
    with runtime.db.read_sessions() as session:
        return SqlLogStore(session).size()


def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime), raise_server_exceptions=False)


def token(runtime: Runtime, role: str = "auditor", subject: str = "auditor-1", org: str | None = None) -> str:
    return issue_token(runtime.settings.token_secret, role, subject, org, 3600, kind="dev")


def auth(
    runtime: Runtime, role: str = "auditor", subject: str = "auditor-1", org: str | None = None
) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token(runtime, role, subject, org)}"}
