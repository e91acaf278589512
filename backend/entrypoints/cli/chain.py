"""``carbon-ledger chain …``: the ledger contract's anchorer role, for rotating the anchoring key.

Rotation (docs/operations.md): ``chain new-key FILE`` → fund the address if gas is not free →
``chain grant-anchorer NEW`` → point ``CARBON_ANCHORING_KEY_FILE`` at FILE and restart → once
``/readyz`` is ready and no checkpoint is in flight, ``chain revoke-anchorer OLD``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account
from web3 import Web3

from backend.adapters.chain import PROFILES, connect
from backend.adapters.chain_admin import ANCHORER_ROLE, LedgerRoles
from backend.adapters.deployment import DeploymentManifest, check_manifest
from backend.bootstrap import key_safety
from backend.bootstrap.settings import Settings
from backend.bootstrap.startup import anchoring_key
from backend.domain.errors import ChainMismatch, ConfigurationError, Conflict, InvalidInput
from backend.entrypoints.cli import common, reanchor
from backend.entrypoints.cli.common import bi
from backend.entrypoints.cli.ops import private_file

app = typer.Typer(
    help=bi(
        "the ledger contract: identity check, re-anchoring, anchoring-key rotation",
        "账本合约：链身份检查、重新锚定、锚定密钥轮换",
    ),
    no_args_is_help=True,
)
Address = Annotated[str, typer.Argument(metavar="ADDRESS", help=bi("an Ethereum address", "以太坊地址"))]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="chain")


@app.command(help=bi("is the chain still the one the ledger anchored to?", "链是否仍是账本所锚定的链？"))
def status(
    full: Annotated[
        bool, typer.Option(help=bi("re-read every checkpoint, not a sample", "重读全部检查点而非抽样"))
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help=bi("print the verdict as JSON", "输出 JSON"))
    ] = False,
) -> None:
    code = reanchor.status(common.settings(), full, as_json)
    if code:
        raise typer.Exit(code)


@app.command(
    "reanchor",
    help=bi(
        "re-anchor the whole history onto the connected chain (after it lost its state)",
        "将全部历史重新锚定到当前连接的链上（链丢失状态之后）",
    ),
    epilog="Re-anchors every historic checkpoint (same tree sizes, roots and meta) on the connected "
    "chain: on the same contract when it holds the first part of the history, else on a newly deployed "
    "contract (the old manifest is kept). Logs the move as a chain_move record. Safe to run again after "
    "an interruption: it resumes.",
)
def reanchor_history(
    dry_run: Annotated[
        bool, typer.Option(help=bi("show what would be done, do nothing", "只显示将要做的操作"))
    ] = False,
) -> None:
    reanchor.reanchor(common.settings(), dry_run)


@app.command(
    "grant-anchorer",
    help=bi("grant ANCHORER_ROLE to ADDRESS (the admin key signs)", "授予锚定角色（管理员密钥签名）"),
)
def grant_anchorer(address: Address) -> None:
    _set(common.settings(), _address(address), grant=True)


@app.command(
    "revoke-anchorer",
    help=bi("revoke ANCHORER_ROLE from ADDRESS (the admin key signs)", "撤销锚定角色（管理员密钥签名）"),
)
def revoke_anchorer(
    address: Address,
    force: Annotated[
        bool,
        typer.Option(help=bi("even if ADDRESS is the configured anchoring key", "即使该地址是当前锚定密钥")),
    ] = False,
) -> None:
    _set(common.settings(), _address(address), grant=False, force=force)


@app.command(help=bi("list the accounts holding ANCHORER_ROLE", "列出持有锚定角色的账户"))
def anchorers() -> None:
    roles, manifest = _roles(common.settings())
    for holder in roles.holders(ANCHORER_ROLE, manifest.deploy_block):
        print(holder)


@app.command(
    "new-key",
    help=bi("write a new private key to FILE (mode 600), print its address", "生成新私钥写入文件并显示地址"),
)
def new_key(
    file: Annotated[Path, typer.Argument(help=bi("where to write the key (must not exist)", "密钥文件路径"))],
) -> None:
    account = Account.create()
    private_file(file, account.key.hex() + "\n")
    print(f"new key written to {file} (mode 600); its address is {account.address}")


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


def _set(settings: Settings, address: str, *, grant: bool, force: bool = False) -> None:
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
