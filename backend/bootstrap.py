"""Start-up wiring: database (migrated), compiled contract, deployment on the chain, runtime."""

from __future__ import annotations

import logging

from deploy.anvil import ANVIL_DEFAULT_KEY_0
from deploy.compile import compile_ledger
from deploy.deploy import ensure_deployed

from backend.adapters import migrations
from backend.adapters.chain import PROFILES, LedgerChain, connect
from backend.adapters.database import create_database
from backend.domain.errors import ConfigurationError
from backend.runtime import Runtime, load_subject_key
from backend.services.anchoring import AnchorTarget
from backend.settings import Settings

logger = logging.getLogger(__name__)


def anchoring_key(settings: Settings) -> str:
    if settings.anchoring_key:
        return settings.anchoring_key
    if settings.anchoring_key_file:
        return settings.anchoring_key_file.read_text().strip()
    if settings.is_local and settings.chain_profile == "anvil":
        return ANVIL_DEFAULT_KEY_0
    raise ConfigurationError("set CARBON_ANCHORING_KEY or CARBON_ANCHORING_KEY_FILE")


def build_runtime(settings: Settings, *, with_chain: bool = True) -> Runtime:
    """Migrates the database and, with a chain, deploys the contract if this chain lacks it."""
    settings.check_production_safety()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = create_database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
    migrations.upgrade(db.engine)
    runtime = Runtime(
        settings=settings, db=db, chain=None, target=None, subject_key=load_subject_key(settings)
    )
    if not with_chain:
        return runtime
    profile = PROFILES[settings.chain_profile]
    artifact = compile_ledger(settings.data_dir / "build")
    w3 = connect(settings.resolved_rpc_url, profile)
    key = anchoring_key(settings)
    manifest, deployed = ensure_deployed(
        w3, key, artifact, settings.manifest_path, gas_price_wei=0 if profile.zero_gas_price else None
    )
    if deployed:
        logger.info(
            "deployed the ledger contract at %s on chain %d", manifest.contract_address, manifest.chain_id
        )
    runtime.chain = LedgerChain.from_key(
        w3, profile, manifest.contract_address, artifact.abi, key, settings.chain_confirmations
    )
    runtime.target = AnchorTarget(manifest.chain_id, runtime.chain.address)
    return runtime
