"""verify-log and the sample export against an in-process API and a real Anvil; tampering is named."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import update

from backend import audit_cli, audit_sample
from backend.adapters.orm import ActivityRow, CheckpointRow, LogLeafRow
from backend.domain import merkle
from backend.domain.records import canonical_json
from backend.runtime import Runtime
from backend.scheduler import anchoring_job
from backend.services.corrections import Actor, reverse_activity
from deploy.anvil import AnvilProcess
from deploy.compile import ContractArtifact
from tests.integration import chainkit

pytestmark = pytest.mark.anvil


@pytest.fixture
def ledger(anvil: AnvilProcess, ledger_artifact: ContractArtifact, tmp_path: Path) -> Runtime:
    """40 activities and a reversal, anchored in two checkpoints (tree sizes 20 and 41)."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    runtime = chainkit.runtime_for(
        chainkit.settings_for(tmp_path / "var", url, anvil.rpc_url), ledger_artifact
    )
    ids = chainkit.record(runtime, 20)
    anchoring_job(runtime)
    ids += chainkit.record(runtime, 20, start=20)
    reverse_activity(
        runtime.db, Actor("operator", "ops-1", None), ids[3], "duplicate", None, runtime.subject_key
    )
    anchoring_job(runtime)
    yield runtime
    runtime.db.dispose()


def _args(runtime: Runtime, anvil: AnvilProcess, **extra: object) -> argparse.Namespace:
    return argparse.Namespace(
        api="http://testserver",
        rpc=anvil.rpc_url,
        profile="anvil",
        token=chainkit.token(runtime),
        no_records=False,
        quiet=True,
        **extra,
    )


def _verify_log(runtime: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = audit_cli.run_verify_log(_args(runtime, anvil), chainkit.client(runtime))
    return code, capsys.readouterr().out


def _activity_at(runtime: Runtime, index: int) -> tuple[str, dict[str, object]]:
    with runtime.db.read_sessions() as session:
        leaf = session.get(LogLeafRow, index)
    assert leaf is not None
    return leaf.record_id, json.loads(leaf.leaf)


def _rewrite_leaf(runtime: Runtime, index: int, *, rehash: bool) -> str:
    """Changes the logged CO2e of leaf ``index`` as someone with database access would."""
    record_id, record = _activity_at(runtime, index)
    record["body"]["co2e_avoided_g"] = 99_999  # type: ignore[index]
    forged = canonical_json(record)
    values: dict[str, object] = {"leaf": forged}
    if rehash:
        values["leaf_hash"] = merkle.leaf_hash(forged)
    with runtime.db.write_sessions() as session, session.begin():
        session.execute(update(LogLeafRow).where(LogLeafRow.idx == index).values(**values))
    return record_id


def test_untouched_log_is_valid(
    ledger: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _verify_log(ledger, anvil, capsys)
    assert code == 0, out
    assert out.startswith(
        "valid: 41 leaves replayed, 2 checkpoints match the chain, 41 stored records compared"
    )


def test_leaf_bytes_edited_in_the_database_are_named(
    ledger: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    record_id = _rewrite_leaf(ledger, 25, rehash=False)
    code, out = _verify_log(ledger, anvil, capsys)
    assert code == 1
    assert f"leaf 25 (activity record {record_id}): its bytes do not hash" in out
    named = f"leaf 25 (activity record {record_id}) is not the record that was anchored"
    assert f"checkpoint 2 (tree size 41): {named}" in out
    assert "co2e_avoided_g: logged 99999" in out
    assert "checkpoint 1 " not in out  # the first checkpoint is intact


def test_leaf_and_its_hash_edited_are_localized(
    ledger: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    record_id = _rewrite_leaf(ledger, 25, rehash=True)
    code, out = _verify_log(ledger, anvil, capsys)
    assert code == 1
    assert "do not hash" not in out  # the forger kept the hash consistent
    located = next(line for line in out.splitlines() if "do not verify against the chain's root" in line)
    assert f"leaf 25 (activity record {record_id})" in located
    assert "leaf 35" not in located and "leaf 19" not in located  # only its 16-leaf block
    assert (
        f"leaf 25 (activity record {record_id}): stored record differs from the logged one: co2e_avoided_g"
        in out
    )


def test_stored_record_edited_behind_the_log_is_named(
    ledger: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    record_id, _ = _activity_at(ledger, 7)
    with ledger.db.write_sessions() as session, session.begin():
        session.execute(update(ActivityRow).where(ActivityRow.id == record_id).values(points=12_345))
    code, out = _verify_log(ledger, anvil, capsys)
    assert code == 1
    assert f"leaf 7 (activity record {record_id}): stored record differs from the logged one: points" in out
    assert "checkpoints match" not in out and "root" not in out  # the log itself is intact


def test_checkpoint_root_edited_is_named(
    ledger: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    with ledger.db.write_sessions() as session, session.begin():
        session.execute(update(CheckpointRow).where(CheckpointRow.tree_size == 20).values(root=b"\x01" * 32))
    code, out = _verify_log(ledger, anvil, capsys)
    assert code == 1
    assert "checkpoint 1 (tree size 20): the server's root differs from the chain's" in out
    assert "checkpoints 1→2: consistency proof fails" in out


def test_sample_export(
    ledger: Runtime, anvil: AnvilProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sample.json"
    args = _args(ledger, anvil, n=12, out=out, seed=2026)
    assert audit_sample.run(args, chainkit.client(ledger)) == 0, capsys.readouterr().out
    document = json.loads(out.read_text())
    entries = document["records"]
    assert document["seed"] == 2026 and document["anchored_tree_size"] == 41 and len(entries) == 12
    assert [e["leaf_index"] for e in entries] == audit_sample.draw(2026, 41, 12)
    assert all(e["receipt_verification"]["valid"] for e in entries)
    activity = next(e for e in entries if e["kind"] == "activity")
    assert activity["factors"]["factors"][0]["source"] and activity["evidence"]["source"] == "self_reported"
    assert activity["stored"]["co2e_avoided_g"] == activity["logged"]["body"]["co2e_avoided_g"]
    with out.with_suffix(".csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and rows[0]["receipt_valid"] == "True" and rows[0]["factors"]

    victim = entries[0]
    with ledger.db.write_sessions() as session, session.begin():
        session.execute(
            update(ActivityRow).where(ActivityRow.id == victim["record_id"]).values(co2e_scope3_g=1)
        )
    assert audit_sample.run(args, chainkit.client(ledger)) == 1
    assert f"stored ≠ logged: [{victim['leaf_index']}]" in capsys.readouterr().out
