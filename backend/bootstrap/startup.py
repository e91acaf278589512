"""Start-up wiring: database (migrated), compiled contract, deployment on the chain, runtime.

Deployment policy: a ledger with nothing anchored yet deploys the contract whenever the recorded
deployment is missing or unusable (a brand-new data directory, a chain reset before anything was
anchored). A ledger *with* anchored checkpoints never redeploys by itself: the checkpoints would
silently vanish from the chain. It starts on the recorded deployment, the chain guard reports
what is wrong (``/readyz`` answers 503, anchoring stops), and the operator restores the chain or
runs ``carbon-ledger chain reanchor``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select
from web3 import Web3

from backend.adapters import migrations
from backend.adapters.anvil import ANVIL_DEFAULT_KEY_0
from backend.adapters.chain import PROFILES, LedgerChain, connect
from backend.adapters.contract_compiler import ContractArtifact, compile_ledger
from backend.adapters.database import Database, create_database
from backend.adapters.deployment import DeploymentManifest, load_manifest, manifest_problems, redeploy
from backend.adapters.node_state import ANVIL_STATE_FILE, AnvilStateFile
from backend.adapters.orm import CheckpointRow
from backend.bootstrap.runtime import Runtime, load_subject_key
from backend.bootstrap.settings import Settings
from backend.domain.errors import ConfigurationError
from backend.services.anchoring.chain_identity import (
    ANCHORED_STATES,
    REANCHOR_HINT,
    ChainCheck,
    attach_deployment,
    expected_chain,
)
from backend.services.recording import sequencing

logger = logging.getLogger(__name__)


def anchoring_key(settings: Settings) -> str:
    if settings.anchoring_key:
        return settings.anchoring_key
    if settings.anchoring_key_file:
        return settings.anchoring_key_file.read_text().strip()
    if settings.is_local and settings.chain_profile == "anvil":
        return ANVIL_DEFAULT_KEY_0
    raise ConfigurationError("set CARBON_ANCHORING_KEY or CARBON_ANCHORING_KEY_FILE")


def managed_node_state(settings: Settings) -> AnvilStateFile | None:
    """The managed Anvil's state file (``anvil`` profile without an RPC URL), persisted on anchoring."""
    if settings.chain_profile != "anvil" or settings.chain_rpc_url:
        return None
    return AnvilStateFile(settings.data_dir / ANVIL_STATE_FILE)


def ledger_has_history(db: Database) -> bool:
    """Whether any checkpoint was ever confirmed on a chain (so a redeploy would lose it)."""
    with db.read_sessions() as session:
        stmt = select(CheckpointRow.id).where(CheckpointRow.state.in_(ANCHORED_STATES)).limit(1)
        return session.execute(stmt).first() is not None


def _holds_checkpoints(w3: Web3, manifest: DeploymentManifest, abi: list[dict[str, Any]]) -> bool:
    chain = LedgerChain(w3, PROFILES["external"], manifest.contract_address, abi)
    return chain.latest_checkpoint()[0] > 0


def resolve_deployment(
    db: Database,
    w3: Web3,
    key: str,
    artifact: ContractArtifact,
    manifest_path: Path,
    gas_price_wei: int | None,
) -> tuple[DeploymentManifest, bool]:
    """The deployment to run on, and whether it was deployed just now (see the module docstring)."""
    history = ledger_has_history(db)
    manifest, problems = load_manifest(manifest_path)
    if manifest is None and history:
        raise ConfigurationError(
            f"{problems[0]}, but the database holds anchored checkpoints: restore the manifest, or "
            f"move the ledger to a new contract with `{REANCHOR_HINT}`"
        )
    if manifest is not None:
        problems = manifest_problems(w3, manifest, artifact)
        if history:
            return manifest, False  # usable or not: the chain guard reports, the operator decides
        if not problems:
            if not _holds_checkpoints(w3, manifest, artifact.abi):
                return manifest, False
            problems = ["the contract holds checkpoints that this new database does not know"]
    return redeploy(w3, key, artifact, manifest_path, problems, gas_price_wei), True


def adopt_current_deployment(runtime: Runtime) -> bool:
    """Switches to the manifest on disk if another process (a reanchor) replaced it; True if so."""
    if runtime.chain is None or runtime.expected is None:
        return False
    manifest, _ = load_manifest(runtime.settings.manifest_path)
    if manifest is None or expected_chain(manifest) == runtime.expected:
        return False
    logger.warning(
        "the deployment manifest now names contract %s on chain %d; switching to it",
        manifest.contract_address,
        manifest.chain_id,
    )
    attach_deployment(runtime, runtime.chain, manifest)
    return True


def watch_chain(runtime: Runtime, *, full: bool = True) -> ChainCheck | None:
    """The anchoring job's gate: a fresh verdict on the chain, logged when it changes.

    ``full=False`` (each anchoring tick) reuses a recent passed verdict while one read of the
    chain's latest checkpoint shows nothing changed (:meth:`ChainGuard.still_ok`).

    When the chain fails the check, a deployment written meanwhile by ``carbon-ledger chain
    reanchor`` (in another process) is adopted and checked instead.
    """
    if runtime.chain is None or runtime.expected is None:
        return None
    previous = runtime.chain_guard.last
    if not full:
        unchanged = runtime.chain_guard.still_ok(runtime.db, runtime.chain)
        if unchanged is not None:
            return unchanged
    if previous is not None and not previous.ok and adopt_current_deployment(runtime):
        check = runtime.chain_guard.last or previous
    else:
        check = runtime.chain_guard.refresh(runtime.db, runtime.chain, runtime.expected)
        if not check.ok and adopt_current_deployment(runtime):
            check = runtime.chain_guard.last or check
    if previous is None or (previous.state, previous.reasons) != (check.state, check.reasons):
        if check.ok:
            logger.info("chain check passed: anchoring runs")
        else:
            logger.warning("anchoring stopped: %s", check.summary())
    return check


def build_runtime(
    settings: Settings, *, with_chain: bool = True, artifact: ContractArtifact | None = None
) -> Runtime:
    """Migrates the database and, with a chain, resolves the deployment and checks the chain."""
    settings.check_production_safety()
    settings.check_sequencing()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = create_database(
        settings.resolved_database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        sequencing=settings.sequencing,
    )
    migrations.upgrade(db.engine)
    if settings.sequencing == "queued":
        sequencing.install()
    runtime = Runtime(
        settings=settings, db=db, chain=None, target=None, subject_key=load_subject_key(settings)
    )
    if not with_chain:
        return runtime
    profile = PROFILES[settings.chain_profile]
    artifact = artifact or compile_ledger(settings.data_dir / "build")
    w3 = connect(settings.resolved_rpc_url, profile)
    key = anchoring_key(settings)
    manifest, deployed = resolve_deployment(
        db, w3, key, artifact, settings.manifest_path, 0 if profile.zero_gas_price else None
    )
    if deployed:
        logger.info(
            "deployed the ledger contract at %s on chain %d", manifest.contract_address, manifest.chain_id
        )
    node_state = managed_node_state(settings)
    chain = LedgerChain.from_key(
        w3, profile, manifest.contract_address, artifact.abi, key, settings.chain_confirmations, node_state
    )
    if deployed and node_state is not None:
        node_state.persist(w3)  # a node killed now must not come back without the contract
    attach_deployment(runtime, chain, manifest)
    check = runtime.chain_guard.last
    if check is not None and not check.ok:
        logger.warning("%s", check.summary())
    return runtime
