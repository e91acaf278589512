"""verify-log and the sample export against an in-process API and a real Anvil; tampering is named."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update

from backend.adapters.anvil import AnvilProcess
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.orm import ActivityRow, CheckpointRow, LogLeafRow
from backend.bootstrap.runtime import Runtime
from backend.domain.canonical import canonical_json
from backend.domain.log import merkle
from backend.entrypoints.cli import audit as audit_cli
from backend.entrypoints.cli import audit_sample
from backend.entrypoints.cli.audit_client import Target
from backend.entrypoints.worker.scheduler import anchoring_job
from backend.services.recording.corrections import Actor, reverse_activity
from emission_factors.loader import pinned_hashes
from tests.integration import chainkit

pytestmark = pytest.mark.anvil


@dataclass(frozen=True)
class Ledger:
    """40 activities (each with its points transfer) and a reversal, in two checkpoints."""

    runtime: Runtime
    first_size: int
    size: int
    activity_leaves: list[int]
    """Leaf index of every activity, in order."""

    def activity_in_second_checkpoint(self) -> int:
        return next(i for i in self.activity_leaves if i >= self.first_size + 8)


@pytest.fixture
def ledger(
    anvil: AnvilProcess, ledger_artifact: ContractArtifact, tmp_path: Path, migrated_sqlite_url: str
) -> Ledger:
    settings = chainkit.settings_for(tmp_path / "var", migrated_sqlite_url, anvil.rpc_url, points_per_kg=100)
    runtime = chainkit.runtime_for(settings, ledger_artifact)
    ids = chainkit.record(runtime, 20)
    anchoring_job(runtime)
    first_size = chainkit.log_size(runtime)
    ids += chainkit.record(runtime, 20, start=20)
    reverse_activity(
        runtime.db, Actor("operator", "ops-1", None), ids[3], "duplicate", None, runtime.subject_key
    )
    anchoring_job(runtime)
    with runtime.db.read_sessions() as session:
        leaves = list(
            session.execute(
                select(LogLeafRow.idx).where(LogLeafRow.kind == "activity").order_by(LogLeafRow.idx)
            ).scalars()
        )
    assert len(leaves) == 40 and chainkit.log_size(runtime) > 41  # points transfers interleave
    yield Ledger(runtime, first_size, chainkit.log_size(runtime), leaves)
    runtime.db.dispose()


def _target(runtime: Runtime, anvil: AnvilProcess) -> Target:
    return Target(api="http://testserver", rpc=anvil.rpc_url, profile="anvil", token=chainkit.token(runtime))


def _verify_log(runtime: Runtime, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = audit_cli.check_log(_target(runtime, anvil), quiet=True, client=chainkit.client(runtime))
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
    ledger: Ledger, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _verify_log(ledger.runtime, anvil, capsys)
    assert code == 0, out
    assert out.startswith(
        f"valid: {ledger.size} leaves replayed, 2 checkpoints match the chain, "
        f"{ledger.size} stored records compared"  # every leaf here has its stored record
    )


def test_leaf_bytes_edited_in_the_database_are_named(
    ledger: Ledger, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    index = ledger.activity_in_second_checkpoint()
    record_id = _rewrite_leaf(ledger.runtime, index, rehash=False)
    code, out = _verify_log(ledger.runtime, anvil, capsys)
    assert code == 1
    assert f"leaf {index} (activity record {record_id}): its bytes do not hash" in out
    named = f"leaf {index} (activity record {record_id}) is not the record that was anchored"
    assert f"checkpoint 2 (tree size {ledger.size}): {named}" in out
    assert "co2e_avoided_g: logged 99999" in out
    assert "checkpoint 1 " not in out  # the first checkpoint is intact


def test_leaf_and_its_hash_edited_are_localized(
    ledger: Ledger, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    index = ledger.activity_in_second_checkpoint()
    record_id = _rewrite_leaf(ledger.runtime, index, rehash=True)
    code, out = _verify_log(ledger.runtime, anvil, capsys)
    assert code == 1
    assert "do not hash" not in out  # the forger kept the hash consistent
    located = next(line for line in out.splitlines() if "do not verify against the chain's root" in line)
    named = {int(n) for n in re.findall(r"leaf (\d+) \(", located)}
    block = range(index // 16 * 16, index // 16 * 16 + 16)
    assert index in named and named <= set(block)  # the altered leaf, and only its 16-leaf block
    assert f"leaf {index} (activity record {record_id}): stored record differs from the logged one" in out


def test_stored_record_edited_behind_the_log_is_named(
    ledger: Ledger, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    index = ledger.activity_leaves[3 + 1]
    record_id, _ = _activity_at(ledger.runtime, index)
    with ledger.runtime.db.write_sessions() as session, session.begin():
        session.execute(update(ActivityRow).where(ActivityRow.id == record_id).values(co2e_avoided_g=12_345))
    code, out = _verify_log(ledger.runtime, anvil, capsys)
    assert code == 1
    named = f"leaf {index} (activity record {record_id}): stored record differs from the logged one"
    assert f"{named}: co2e_avoided_g: logged" in out
    assert "checkpoints match" not in out and "root" not in out  # the log itself is intact


def test_checkpoint_root_edited_is_named(
    ledger: Ledger, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    with ledger.runtime.db.write_sessions() as session, session.begin():
        session.execute(
            update(CheckpointRow)
            .where(CheckpointRow.tree_size == ledger.first_size)
            .values(root=b"\x01" * 32)
        )
    code, out = _verify_log(ledger.runtime, anvil, capsys)
    assert code == 1
    assert f"checkpoint 1 (tree size {ledger.first_size}): the server's root differs from the chain's" in out
    assert "checkpoints 1→2: consistency proof fails" in out


def test_sample_export(
    ledger: Ledger, anvil: AnvilProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = ledger.runtime
    out = tmp_path / "sample.json"
    target = _target(runtime, anvil)
    assert audit_sample.run(target, 12, out, 2026, chainkit.client(runtime)) == 0, capsys.readouterr().out
    document = json.loads(out.read_text())
    entries = document["records"]
    assert document["seed"] == 2026 and document["anchored_tree_size"] == ledger.size and len(entries) == 12
    assert [e["leaf_index"] for e in entries] == audit_sample.draw(2026, ledger.size, 12)
    assert all(e["receipt_verification"]["valid"] for e in entries)
    activity = next(e for e in entries if e["kind"] == "activity")
    assert activity["factors"]["factors"][0]["source"] and activity["evidence"]["source"] == "self_reported"
    assert activity["stored"]["co2e_avoided_g"] == activity["logged"]["body"]["co2e_avoided_g"]
    assert out.with_suffix(".csv").read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM for spreadsheets
    with out.with_suffix(".csv").open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and all(row["receipt_valid"] == "True" for row in rows)
    assert next(row for row in rows if row["kind"] == "activity")["factors"]

    with runtime.db.write_sessions() as session, session.begin():
        session.execute(
            update(ActivityRow).where(ActivityRow.id == activity["record_id"]).values(co2e_scope3_g=1)
        )
    assert audit_sample.run(target, 12, out, 2026, chainkit.client(runtime)) == 1
    assert f"stored ≠ logged: [{activity['leaf_index']}]" in capsys.readouterr().out


def test_factor_set_hashes_are_checked_against_the_released_pins(
    ledger: Ledger, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 40 activities name their set's hash and each of the 2 checkpoints anchors both built-in sets
    code, out = _verify_log(ledger.runtime, anvil, capsys)
    assert code == 0 and out.rstrip().endswith("44 factor-set hashes checked"), out
    # A server that ships an edited built-in set with its own pins keeps its log and chain
    # consistent; the auditor's copy of the released pins still tells.
    released = dict(pinned_hashes())
    monkeypatch.setattr(audit_cli, "pinned_hashes", lambda: {**released, "park-default-2026.1": "ab" * 32})
    code, out = _verify_log(ledger.runtime, anvil, capsys)
    assert code == 1
    first = ledger.activity_leaves[0]
    assert (
        f"leaf {first} (activity record " in out
        and f"factor set park-default-2026.1 has SHA-256 {released['park-default-2026.1']}, but the "
        f"released built-in set is pinned at {'ab' * 32}"
        in out
    )
    assert f"checkpoint 1 (tree size {ledger.first_size}): factor set park-default-2026.1" in out
    assert "park-default-2027.1" not in out


def test_recompute_reproduces_every_activity_and_names_a_server_s_wrong_figure(
    ledger: Ledger, anvil: AnvilProcess, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _target(ledger.runtime, anvil)
    code = audit_cli.check_log(target, quiet=True, client=chainkit.client(ledger.runtime), recompute=True)
    out = capsys.readouterr().out
    assert code == 0 and out.rstrip().endswith("44 factor-set hashes checked, 40 activities recomputed"), out
    # An auditor whose released set gives other figures than the server logged (here: the auditor's
    # copy of 2026.1 with the metro factor doubled stands for a server that computed wrongly)
    released = audit_cli._released_sets()
    old = released["park-default-2026.1"]
    doubled = dataclasses.replace(
        old.factors["rail.metro.cn-beijing"], value_kg=old.factors["rail.metro.cn-beijing"].value_kg * 2
    )
    wrong = dataclasses.replace(old, factors={**old.factors, "rail.metro.cn-beijing": doubled})
    monkeypatch.setattr(audit_cli, "_released_sets", lambda: {**released, "park-default-2026.1": wrong})
    code = audit_cli.check_log(target, quiet=True, client=chainkit.client(ledger.runtime), recompute=True)
    out = capsys.readouterr().out
    assert code == 1 and "recomputed with park-default-2026.1 (baseline city_mode_mix) it gives" in out
