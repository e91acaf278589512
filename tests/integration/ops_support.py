"""A deployed runtime for the operations tests: real database, real Anvil, contract deployed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from backend.adapters.anvil import ANVIL_DEFAULT_KEY_0, AnvilProcess, free_port
from backend.adapters.chain import PROFILES, LedgerChain, connect
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.database import Database
from backend.adapters.deployment import ensure_deployed
from backend.bootstrap.runtime import Runtime, load_subject_key
from backend.bootstrap.settings import Settings
from backend.domain.log.checkpoints import AnchorTarget
from tests.waiting import wait_for


def deployed_runtime(
    db: Database,
    database_url: str,
    anvil: AnvilProcess,
    artifact: ContractArtifact,
    data_dir: Path,
    **overrides: Any,
) -> Runtime:
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        anvil_port=anvil.port,
        scheduler_enabled=False,
        baseline="petrol_car_solo",  # the workload's points are computed against the solo petrol car
        **overrides,
    )
    profile = PROFILES["anvil"]
    w3 = connect(anvil.rpc_url, profile)
    manifest, _ = ensure_deployed(w3, ANVIL_DEFAULT_KEY_0, artifact, settings.manifest_path)
    chain = LedgerChain.from_key(w3, profile, manifest.contract_address, artifact.abi, ANVIL_DEFAULT_KEY_0)
    return Runtime(
        settings=settings,
        db=db,
        chain=chain,
        target=AnchorTarget(manifest.chain_id, chain.address),
        subject_key=load_subject_key(settings),
    )


START_TIMEOUT_S = 20

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_metrics(text: str) -> Samples:
    """Every sample of a Prometheus exposition, keyed by (name, sorted labels)."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@contextmanager
def serving(app: FastAPI) -> Iterator[httpx.Client]:
    """``app`` served by uvicorn on a free port in a thread of this process (metrics are shared)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def started() -> bool:
        assert thread.is_alive(), "uvicorn exited"
        return bool(server.started)

    wait_for("uvicorn to start", started, START_TIMEOUT_S, 0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)
