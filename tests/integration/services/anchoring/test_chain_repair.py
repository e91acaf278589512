"""Chain loss that heals itself: a node killed inside its state-dump interval loses nothing confirmed,
and a contract that lost only its latest checkpoints gets them back on the same contract."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.adapters.anvil import AnvilProcess, free_port
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.node_state import AnvilStateFile
from backend.adapters.orm import CheckpointRow, LogLeafRow
from backend.adapters.orm_chain import ChainMoveRow
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import Settings
from backend.bootstrap.startup import watch_chain
from backend.entrypoints.worker.scheduler import anchoring_job
from backend.observability import metrics
from backend.services.anchoring.chain_identity import HISTORY_MISSING, OK
from backend.services.audit.verification import verify_receipt
from backend.services.log import receipts
from tests.integration import chainkit

pytestmark = pytest.mark.anvil

NO_PERIODIC_DUMP_S = 3600
"""Anvil's own state dumps never come during a test: whatever survives a kill, we persisted."""


class Node:
    """An Anvil on a fixed port and state file that a test kills and starts again."""

    def __init__(self, port: int, state: Path, workdir: Path) -> None:
        self.port, self.state, self.workdir = port, state, workdir
        self.process = self._start()

    def _start(self) -> AnvilProcess:
        process = AnvilProcess(
            self.port,
            self.state,
            log_path=self.workdir / "anvil.log",
            state_interval_s=NO_PERIODIC_DUMP_S,
        )
        process.start()
        return process

    def kill_and_restart(self) -> None:
        self.process.kill()  # SIGKILL: no dump on exit
        self.process = self._start()


@pytest.fixture
def managed(
    tmp_path: Path, ledger_artifact: ContractArtifact, migrated_sqlite_url: str
) -> Iterator[tuple[Node, Runtime]]:
    """A runtime on the ``anvil`` profile's managed node (no RPC URL): its state file is persisted."""
    port = free_port()
    data_dir = tmp_path / "var"
    node = Node(port, data_dir / "anvil-state.json", tmp_path)
    settings = Settings(
        data_dir=data_dir,
        database_url=migrated_sqlite_url,
        anvil_port=port,
        anchor_batch_leaves=1,
        anchor_max_wait_s=0,
        scheduler_enabled=False,
        subject_key="ab" * 32,
        points_per_kg_avoided=0,
    )
    runtime = chainkit.runtime_for(settings, ledger_artifact)
    try:
        yield node, runtime
    finally:
        runtime.db.dispose()
        node.process.kill()


@pytest.fixture
def unmanaged(
    tmp_path: Path, ledger_artifact: ContractArtifact, migrated_sqlite_url: str
) -> Iterator[tuple[Node, Runtime]]:
    """A runtime on an Anvil reached by RPC URL: the ledger does not persist the node's state."""
    node = Node(free_port(), tmp_path / "state.json", tmp_path)
    runtime = chainkit.runtime_for(
        chainkit.settings_for(tmp_path / "var", migrated_sqlite_url, node.process.rpc_url), ledger_artifact
    )
    try:
        yield node, runtime
    finally:
        runtime.db.dispose()
        node.process.kill()


def _checkpoints(runtime: Runtime) -> list[tuple[int, int, str]]:
    with runtime.db.read_sessions() as session:
        rows = session.execute(
            select(CheckpointRow.tree_size, CheckpointRow.seq, CheckpointRow.state).order_by(CheckpointRow.id)
        )
        return [(int(size), int(seq), str(state)) for size, seq, state in rows]


def _verify(runtime: Runtime, leaf_index: int) -> None:
    assert runtime.target is not None and runtime.chain is not None
    receipt = receipts.receipt_for_leaf(runtime.db, runtime.target, leaf_index)
    assert isinstance(receipt, dict)
    verify_receipt(json.loads(json.dumps(receipt)), lambda _address: runtime.chain)  # type: ignore[arg-type, return-value]


def test_confirmed_checkpoints_survive_a_kill_inside_the_dump_interval(
    managed: tuple[Node, Runtime],
) -> None:
    node, runtime = managed
    assert runtime.chain is not None and runtime.chain.node_state is not None
    contract = runtime.chain.address
    for start in (0, 2, 4):
        chainkit.record(runtime, 2, start=start)
        anchoring_job(runtime)
    assert [(size, state) for size, _, state in _checkpoints(runtime)] == [
        (2, "confirmed"),
        (4, "confirmed"),
        (6, "confirmed"),
    ]

    node.kill_and_restart()  # Anvil would have dumped in an hour; the ledger dumped on each anchor

    check = watch_chain(runtime)
    assert check is not None and check.state == OK, check.summary()
    assert runtime.chain.address == contract and runtime.chain.latest_checkpoint()[:2] == (3, 6)
    chainkit.record(runtime, 1, start=6)
    anchoring_job(runtime)
    assert runtime.chain.latest_checkpoint()[:2] == (4, 7)
    _verify(runtime, 5)


def test_lost_suffix_is_reanchored_on_the_same_contract_by_the_anchoring_job(
    unmanaged: tuple[Node, Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    node, runtime = unmanaged
    assert runtime.chain is not None and runtime.target is not None
    contract, manifest = runtime.chain.address, runtime.settings.manifest_path.read_text()
    chainkit.record(runtime, 2)
    anchoring_job(runtime)
    AnvilStateFile(node.state).persist(runtime.chain.w3)  # the node's last dump before the kill
    for start in (2, 4):
        chainkit.record(runtime, 2, start=start)
        anchoring_job(runtime)
    lost_roots = {size: runtime.chain.root_at(size) for size in (4, 6)}
    node.kill_and_restart()  # back with checkpoint 1 only: 2 and 3 were confirmed, then lost

    check = watch_chain(runtime)
    assert check is not None and check.state == HISTORY_MISSING, check.summary()
    started = metrics.REGISTRY.get_sample_value("carbon_ledger_chain_repairs_total", {"outcome": "started"})
    reanchored = metrics.REGISTRY.get_sample_value(
        "carbon_ledger_checkpoints_reanchored_total", {"mode": "catch_up"}
    )
    with caplog.at_level(logging.WARNING, logger="backend.services.anchoring.chain_repair"):
        anchoring_job(runtime)  # no operator: the job repairs, then anchors on

    assert runtime.chain.address == contract and runtime.settings.manifest_path.read_text() == manifest
    assert not list(runtime.settings.data_dir.glob("deployment.replaced-*.json"))
    assert {size: runtime.chain.root_at(size) for size in (4, 6)} == lost_roots
    # The lost checkpoints got their sequence numbers back; the repair record is leaf 6.
    assert _checkpoints(runtime) == [
        (2, 1, "confirmed"),
        (4, 2, "lost"),
        (6, 3, "lost"),
        (4, 2, "confirmed"),
        (6, 3, "confirmed"),
        (7, 4, "confirmed"),
    ]
    assert runtime.chain.latest_checkpoint()[:2] == (4, 7)
    with runtime.db.read_sessions() as session:
        move = session.execute(select(ChainMoveRow)).scalar_one()
        leaf = session.get(LogLeafRow, 6)
    assert move.mode == "catch_up" and move.state == "completed" and move.to_contract == contract
    assert leaf is not None and leaf.kind == "chain_move"
    body = json.loads(leaf.leaf)["body"]
    assert body["mode"] == "catch_up" and body["from"]["contract"] == body["to"]["contract"] == contract
    messages = [r.getMessage() for r in caplog.records]
    assert any("lost the latest 2 checkpoint(s)" in m and "on the same contract" in m for m in messages)
    assert any("re-anchored 2 lost checkpoint(s)" in m for m in messages)
    after_started = metrics.REGISTRY.get_sample_value(
        "carbon_ledger_chain_repairs_total", {"outcome": "started"}
    )
    assert (after_started or 0) - (started or 0) == 1
    after = metrics.REGISTRY.get_sample_value(
        "carbon_ledger_checkpoints_reanchored_total", {"mode": "catch_up"}
    )
    assert (after or 0) - (reanchored or 0) == 2

    check = watch_chain(runtime)
    assert check is not None and check.state == OK, check.summary()
    for index in (1, 3, 5, 6):
        _verify(runtime, index)


def test_a_chain_that_holds_other_roots_is_left_to_the_operator(unmanaged: tuple[Node, Runtime]) -> None:
    node, runtime = unmanaged
    assert runtime.chain is not None
    chainkit.record(runtime, 2)
    anchoring_job(runtime)
    AnvilStateFile(node.state).persist(runtime.chain.w3)
    chainkit.record(runtime, 2, start=2)
    anchoring_job(runtime)
    node.kill_and_restart()
    with runtime.db.write_sessions() as session, session.begin():  # the ledger's own record of
        row = session.execute(select(CheckpointRow).where(CheckpointRow.tree_size == 2)).scalar_one()
        row.root = bytes(31) + b"\x01"  # checkpoint 1 no longer matches what the chain holds
    anchoring_job(runtime)
    with runtime.db.read_sessions() as session:
        assert session.execute(select(ChainMoveRow)).first() is None
    assert runtime.chain.latest_checkpoint()[:2] == (1, 2)
