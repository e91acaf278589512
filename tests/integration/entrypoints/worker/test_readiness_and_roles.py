"""/healthz (liveness), /readyz (readiness) with the reason for each failure; anchoring-key rotation."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import text

from backend.adapters.anvil import ANVIL_DEFAULT_KEY_0, AnvilProcess, free_port, rpc_call
from backend.adapters.chain import LedgerChain
from backend.adapters.chain_admin import ANCHORER_ROLE, LedgerRoles
from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.database import Database, create_database
from backend.api.app import create_app
from backend.bootstrap.runtime import Runtime
from backend.domain.errors import ChainError
from backend.domain.log.checkpoints import AnchorTarget
from backend.entrypoints.cli.main import main
from backend.observability import checks
from backend.services.anchoring import anchoring
from backend.services.recording.activities import Caller, record_activity
from tests.integration.ops_support import deployed_runtime, serving

pytestmark = pytest.mark.anvil

NOW = anchoring.AnchorPolicy(batch_leaves=1, max_wait_s=0)


@pytest.fixture
def runtime(
    db: Database, database_url: str, anvil: AnvilProcess, ledger_artifact: ContractArtifact, tmp_path: Path
) -> Runtime:
    return deployed_runtime(db, database_url, anvil, ledger_artifact, tmp_path / "var")


def _readyz(runtime: Runtime) -> tuple[int, dict[str, dict[str, object]]]:
    with serving(create_app(runtime)) as client:
        response = client.get("/readyz")
    body = response.json()
    assert body["status"] == ("ready" if response.status_code == 200 else "not ready")
    return response.status_code, body["checks"]


def test_ready_then_each_failure_names_its_reason(runtime: Runtime, anvil: AnvilProcess) -> None:
    status, ready = _readyz(runtime)
    assert status == 200, ready
    assert ready["migrations"]["revision"] == ready["migrations"]["expected"]
    assert ready["chain"]["chain_id"] == anvil.chain_id

    with runtime.db.write_sessions() as session, session.begin():
        session.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    status, stale = _readyz(runtime)
    assert status == 503 and not stale["migrations"]["ok"]
    assert "schema is at revision 0000" in str(stale["migrations"]["reason"])
    with runtime.db.write_sessions() as session, session.begin():
        session.execute(
            text("UPDATE alembic_version SET version_num = :v"), {"v": ready["migrations"]["expected"]}
        )

    assert runtime.target is not None
    other = dataclasses.replace(runtime, target=AnchorTarget(4242, runtime.target.contract))
    status, wrong = _readyz(other)
    assert status == 503 and "the ledger anchors on chain 4242" in str(wrong["chain"]["reason"])

    runtime.settings.manifest_path.write_text(
        runtime.settings.manifest_path.read_text().replace('"genesis_hash": "0x', '"genesis_hash": "0x00', 1)
    )
    status, reset = _readyz(runtime)
    assert status == 503 and "genesis" in str(reset["chain"]["reason"])


def test_chain_down_is_reported_quickly_by_readyz_and_not_by_healthz(
    runtime: Runtime, anvil: AnvilProcess
) -> None:
    anvil.stop()
    with serving(create_app(runtime)) as client:
        started = time.monotonic()
        health = client.get("/healthz")
        ready = client.get("/readyz")
        elapsed = time.monotonic() - started
    # Liveness: the process and its database are up; restarting it would not bring the chain back.
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert set(health.json()["checks"]) == {"database"}
    assert ready.status_code == 503 and "not reachable" in ready.json()["checks"]["chain"]["reason"]
    assert ready.json()["checks"]["database"]["ok"]
    assert elapsed < 2 * checks.PROBE_TIMEOUT_S


def test_healthz_fails_only_without_the_database(runtime: Runtime) -> None:
    missing = create_database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone")
    with serving(create_app(dataclasses.replace(runtime, db=missing))) as client:
        health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert "database not reachable" in str(health.json()["checks"]["database"]["reason"])


def _chain_command(runtime: Runtime, *argv: str) -> int:
    return main(["chain", *argv], settings=runtime.settings)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_anchoring_key_rotation(
    runtime: Runtime, anvil: AnvilProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert runtime.chain is not None and runtime.target is not None
    key_file = tmp_path / "new-anchoring.key"
    assert _chain_command(runtime, "new-key", str(key_file)) == 0
    assert key_file.stat().st_mode & 0o777 == 0o600
    new_key = key_file.read_text().strip()
    new = Account.from_key(new_key).address
    old = Account.from_key(ANVIL_DEFAULT_KEY_0).address
    rpc_call(anvil.rpc_url, "anvil_setBalance", [new, hex(10**18)])
    roles = LedgerRoles(runtime.chain.w3, runtime.chain.profile, runtime.chain.address)
    manifest_block = 0

    assert _chain_command(runtime, "grant-anchorer", new) == 0
    assert roles.has_role(ANCHORER_ROLE, new)
    assert set(roles.holders(ANCHORER_ROLE, manifest_block)) == {old, new}
    assert _chain_command(runtime, "revoke-anchorer", old) == 2  # a one-line refusal, no traceback
    assert "anchoring key this ledger is configured with" in capsys.readouterr().err

    # The ledger switches to the new key (CARBON_ANCHORING_KEY_FILE), then the old one is revoked.
    runtime.settings.anchoring_key_file = key_file
    switched = LedgerChain.from_key(
        runtime.chain.w3, runtime.chain.profile, runtime.chain.address, runtime.chain.contract.abi, new_key
    )
    admin_file = tmp_path / "admin.key"  # the admin is still the deploying (old) key
    admin_file.write_text(ANVIL_DEFAULT_KEY_0)
    admin_file.chmod(0o600)
    runtime.settings.admin_key_file = admin_file
    assert _chain_command(runtime, "revoke-anchorer", old) == 0
    assert not roles.has_role(ANCHORER_ROLE, old)
    assert roles.holders(ANCHORER_ROLE, manifest_block) == [new]
    assert _chain_command(runtime, "revoke-anchorer", new, "--force") == 2
    assert "only anchorer" in capsys.readouterr().err

    when = datetime.now(UTC)
    metro = {"type": "metro", "occurred_at": when.isoformat(), "distance_km": "3"}
    record_activity(runtime.db, Caller("rot-1", "acme"), "rotation-key-1", metro, when, runtime.issuance)
    with pytest.raises(ChainError):
        anchoring.anchor_tick(runtime.db, runtime.chain, runtime.target, NOW)  # the old key is refused
    # the activity and its points transfer: a checkpoint of two leaves
    assert anchoring.anchor_tick(runtime.db, switched, runtime.target, NOW).confirmed == (2,)

    status, revoked = _readyz(runtime)  # runtime.chain still signs with the old key
    assert status == 503 and "does not hold ANCHORER_ROLE" in str(revoked["chain"]["reason"])
    assert _readyz(dataclasses.replace(runtime, chain=switched))[0] == 200
