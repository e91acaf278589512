"""Shared helpers: timing, percentiles, peak memory, result rows, a managed Anvil with the contract."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backend.adapters.anvil import ANVIL_DEFAULT_KEY_0, AnvilProcess, free_port
from backend.adapters.chain import PROFILES, LedgerChain, connect
from backend.adapters.contract_compiler import compile_ledger
from backend.adapters.deployment import ensure_deployed


@dataclass
class Row:
    bench: str
    metric: str
    value: float
    unit: str
    naive: float | None = None
    target: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    k = (len(ordered) - 1) * q
    lower = int(k)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (k - lower)


def mean(samples: list[float]) -> float:
    return statistics.fmean(samples) if samples else float("nan")


def peak_rss_mib(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


@contextmanager
def ledger_on_anvil(workdir: Path) -> Iterator[LedgerChain]:
    """A fresh Anvil with the ledger contract deployed, as the app's chain adapter sees it."""
    workdir.mkdir(parents=True, exist_ok=True)
    node = AnvilProcess(port=free_port(), state_path=None, log_path=workdir / "anvil.log")
    node.start()
    try:
        profile = PROFILES["anvil"]
        artifact = compile_ledger(workdir / "build")
        w3 = connect(node.rpc_url, profile)
        manifest, _ = ensure_deployed(w3, ANVIL_DEFAULT_KEY_0, artifact, workdir / "deployment.json")
        yield LedgerChain.from_key(w3, profile, manifest.contract_address, artifact.abi, ANVIL_DEFAULT_KEY_0)
    finally:
        node.stop()
