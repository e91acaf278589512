"""``carbon-ledger chain …``: the ledger contract's anchorer role, for rotating the anchoring key.

Rotation (docs/operations.md): ``chain new-key FILE`` → fund the address if gas is not free →
``chain grant-anchorer NEW`` → point ``CARBON_ANCHORING_KEY_FILE`` at FILE and restart → once
``/readyz`` is ready and no checkpoint is in flight, ``chain revoke-anchorer OLD``.
"""

from __future__ import annotations

import argparse

from eth_account import Account
from web3 import Web3

from backend import key_safety
from backend.adapters.chain import PROFILES, connect
from backend.adapters.chain_admin import ANCHORER_ROLE, LedgerRoles
from backend.bootstrap import anchoring_key
from backend.domain.errors import ChainMismatch, ConfigurationError, Conflict, InvalidInput
from backend.entrypoints.cli import reanchor
from backend.entrypoints.cli.ops import private_file
from backend.settings import Settings
from deploy.deploy import DeploymentManifest, check_manifest


def _address(text: str) -> str:
    if not Web3.is_address(text):
        raise InvalidInput("ADDRESS", f"{text!r} is not an Ethereum address")
    return Web3.to_checksum_address(text)


def admin_key(settings: Settings) -> str:
    path = settings.admin_key_file
    if path is None:
        return anchoring_key(settings)
    if not settings.is_local:
        problems = key_safety.key_file_problems(path, "CARBON_ADMIN_KEY_FILE")
        if problems:
            raise ConfigurationError("; ".join(problems))
    return path.read_text().strip()


def _roles(settings: Settings) -> tuple[LedgerRoles, DeploymentManifest]:
    profile = PROFILES[settings.chain_profile]
    w3 = connect(settings.resolved_rpc_url, profile)
    try:
        manifest = DeploymentManifest.load(settings.manifest_path)
    except (OSError, ValueError, TypeError) as exc:
        path = settings.manifest_path
        raise ConfigurationError(f"cannot read the deployment manifest {path}: {exc}") from exc
    problems = check_manifest(w3, manifest)
    if problems:
        raise ChainMismatch("; ".join(problems))
    return LedgerRoles(w3, profile, manifest.contract_address), manifest


def _set(settings: Settings, address: str, *, grant: bool, force: bool = False) -> int:
    roles, manifest = _roles(settings)
    if not grant:
        current = Account.from_key(anchoring_key(settings)).address
        if address == current and not force:
            raise Conflict(
                f"{address} is the anchoring key this ledger is configured with: switch "
                "CARBON_ANCHORING_KEY(_FILE) to the new key first (or pass --force)"
            )
        holders = roles.holders(ANCHORER_ROLE, manifest.deploy_block)
        if holders == [address]:
            raise Conflict(f"{address} is the only anchorer: grant the role to the new key first")
    change = roles.set_role(admin_key(settings), ANCHORER_ROLE, address, grant=grant)
    verb = "granted to" if grant else "revoked from"
    if not change.changed:
        print(f"ANCHORER_ROLE already {'held by' if grant else 'absent from'} {address}: nothing sent")
    else:
        print(f"ANCHORER_ROLE {verb} {address} (tx {change.tx_hash}, block {change.block_number})")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    command = args.chain_command
    if command in reanchor.COMMANDS:
        return reanchor.run(args, settings)
    if command == "new-key":
        account = Account.create()
        private_file(args.file, account.key.hex() + "\n")
        print(f"new key written to {args.file} (mode 600); its address is {account.address}")
        return 0
    if command == "anchorers":
        roles, manifest = _roles(settings)
        for holder in roles.holders(ANCHORER_ROLE, manifest.deploy_block):
            print(holder)
        return 0
    address = _address(args.address)
    if command == "grant-anchorer":
        return _set(settings, address, grant=True)
    return _set(settings, address, grant=False, force=args.force)
