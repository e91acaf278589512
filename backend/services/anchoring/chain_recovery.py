"""``carbon-ledger chain reanchor``: put the ledger's history back on a chain that lost it.

Two ways, chosen from what the chain still holds:

* ``catch_up`` — the same contract is there with the first part of the history (a node that
  lost only its latest blocks): the missing checkpoints are anchored again on it.
* ``move`` — anything else (a fresh chain, another network, a changed contract, or a healthy
  contract of an older version, which this upgrades): a new contract is deployed, the manifest
  replaced (the old one is kept beside it), and every historic checkpoint anchored on the new
  contract in order, each with its consistency proof from the one before.

Either way the history is first checked against the stored log, the move is recorded before the
first transaction (so a crash is resumed by running the command again, and the server does not
anchor meanwhile), and it ends with a logged ``chain_move`` record and a checkpoint covering
everything logged so far. A running server picks up the new manifest on its next anchoring run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from backend.adapters.contract_compiler import ContractArtifact
from backend.adapters.deployment import (
    DeploymentManifest,
    check_manifest,
    deploy_contract,
    keep_replaced,
    load_manifest,
    manifest_problems,
    write_manifest,
)
from backend.domain.errors import ChainError
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.states import CheckpointState
from backend.services.anchoring import anchoring, reanchoring
from backend.services.anchoring.chain_identity import (
    HISTORY_MISSING,
    UNAVAILABLE,
    ChainRuntime,
    attach_deployment,
    check_chain,
    move_in_progress,
)

LEDGER_VERSION = 2
"""The contract version this release deploys: a healthy older one is upgraded by a ``move``."""
SETTLE_TIMEOUT_S = 120.0
"""How long the command waits without progress before asking to be run again."""
FINAL_POLICY = anchoring.AnchorPolicy(batch_leaves=1, max_wait_s=0)


@dataclass(frozen=True)
class ReanchorPlan:
    mode: str
    """``none`` (the chain is fine), ``resume``, ``catch_up`` or ``move``."""
    reasons: tuple[str, ...]
    checkpoints: int


@dataclass(frozen=True)
class ReanchorReport:
    mode: str
    move_id: str | None
    reasons: tuple[str, ...]
    checkpoints: int
    chain_id: int
    contract: str
    leaf_index: int | None
    anchored_tree_size: int


Progress = Callable[[str], None]


def _describe(manifest: DeploymentManifest | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    return {
        "chain_id": manifest.chain_id,
        "genesis_hash": manifest.genesis_hash,
        "contract": manifest.contract_address,
        "code_hash": manifest.code_hash,
        "deploy_tx": manifest.deploy_tx,
        "deploy_block": manifest.deploy_block,
    }


def plan(runtime: ChainRuntime, artifact: ContractArtifact) -> ReanchorPlan:
    """What :func:`reanchor` would do, without doing it."""
    assert runtime.chain is not None and runtime.expected is not None
    history = reanchoring.ledger_history(runtime.db)
    if move_in_progress(runtime.db) is not None:
        return ReanchorPlan("resume", ("a move is in progress",), len(history))
    check = check_chain(runtime.db, runtime.chain, runtime.expected, full=True)
    if check.state == UNAVAILABLE:
        raise ChainError(check.summary())
    if check.ok:
        version = runtime.chain.ledger_version()
        if version < LEDGER_VERSION and history:
            reason = (
                f"the contract is version {version}, which does not check that a checkpoint extends "
                f"the one before; moving the history to a new version {LEDGER_VERSION} contract"
            )
            return ReanchorPlan("move", (reason,), len(history))
        return ReanchorPlan("none", (), 0)
    manifest, _ = load_manifest(runtime.settings.manifest_path)
    same_contract = (
        check.state == HISTORY_MISSING
        and manifest is not None
        and not manifest_problems(runtime.chain.w3, manifest, artifact)
        and reanchoring.chain_holds_prefix(runtime.chain, history)
        and _prefix_recorded(runtime, history, check.chain_tree_size or 0)
    )
    if same_contract:
        missing = [c for c in history if c.tree_size > (check.chain_tree_size or 0)]
        return ReanchorPlan("catch_up", check.reasons, len(missing))
    return ReanchorPlan("move", check.reasons, len(history))


def _prefix_recorded(runtime: ChainRuntime, history: list[reanchoring.HistoricCheckpoint], size: int) -> bool:
    assert runtime.target is not None
    missing = set(reanchoring.missing_on_target(runtime.db, runtime.target, history))
    return not any(c.tree_size <= size and c.tree_size in missing for c in history)


def reanchor(
    runtime: ChainRuntime, artifact: ContractArtifact, key: str, progress: Progress | None = None
) -> ReanchorReport:
    """Re-anchors the ledger's history as :func:`plan` decides; resumable after a crash."""
    assert runtime.chain is not None and runtime.target is not None and runtime.expected is not None
    say = progress or (lambda _message: None)
    history = reanchoring.ledger_history(runtime.db)
    say(f"checking the stored log against {len(history)} anchored checkpoints …")
    reanchoring.verify_history(runtime.db, history)
    move_id, source = _resume(runtime, say)
    what = plan(runtime, artifact) if move_id is None else ReanchorPlan("resume", (), len(history))
    if what.mode == "none":
        return _report(runtime, "none", None, (), 0, None)
    if move_id is None:
        move_id, source = _begin(runtime, artifact, key, what, history, say)
    queued = reanchoring.queue_history(runtime.db, runtime.chain, runtime.target, history)
    say(f"anchoring {queued} checkpoint(s) on contract {runtime.target.contract} …")
    _settle(runtime, history, say)
    destination = _describe(load_manifest(runtime.settings.manifest_path)[0])
    assert destination is not None
    leaf_index = reanchoring.complete_move(runtime.db, move_id, history, source, destination)
    say(f"recorded the move as leaf {leaf_index}; anchoring everything logged since …")
    anchoring.anchor_tick(runtime.db, runtime.chain, runtime.target, FINAL_POLICY)
    runtime.chain_guard.refresh(runtime.db, runtime.chain, runtime.expected)
    return _report(runtime, what.mode, move_id, what.reasons, len(history), leaf_index)


def _resume(runtime: ChainRuntime, say: Progress) -> tuple[str | None, dict[str, Any] | None]:
    """The move in progress, if its new contract is still on the chain (else it is abandoned)."""
    assert runtime.chain is not None
    move = move_in_progress(runtime.db)
    if move is None:
        return None, None
    manifest = DeploymentManifest.from_json(json.dumps(move.new_manifest))
    problems = check_manifest(runtime.chain.w3, manifest)
    if problems:
        reanchoring.abandon_move(runtime.db, move.id, "; ".join(problems))
        say(f"abandoned move {move.id}: its contract is gone ({'; '.join(problems)})")
        return None, None
    say(f"resuming move {move.id} to contract {manifest.contract_address}")
    current, _ = load_manifest(runtime.settings.manifest_path)
    if current != manifest:
        if current is not None:
            keep_replaced(runtime.settings.manifest_path, [f"move {move.id}"])
        write_manifest(manifest, runtime.settings.manifest_path)
    attach_deployment(runtime, runtime.chain, manifest, check=False)
    source = (
        None
        if move.from_contract is None
        else {"chain_id": move.from_chain_id, "contract": move.from_contract}
        | ({} if move.old_manifest is None else _describe_dict(move.old_manifest))
    )
    return move.id, source


def _describe_dict(manifest: dict[str, Any]) -> dict[str, Any]:
    described = _describe(DeploymentManifest.from_json(json.dumps(manifest)))
    assert described is not None
    return described


def _begin(
    runtime: ChainRuntime,
    artifact: ContractArtifact,
    key: str,
    what: ReanchorPlan,
    history: list[reanchoring.HistoricCheckpoint],
    say: Progress,
) -> tuple[str, dict[str, Any] | None]:
    assert runtime.chain is not None and runtime.target is not None
    path = runtime.settings.manifest_path
    old, _ = load_manifest(path)
    source_target = runtime.target
    if what.mode == "catch_up":
        assert old is not None
        _, chain_size, _ = runtime.chain.latest_checkpoint()
        lost = [c.tree_size for c in history if c.tree_size > chain_size]
        move_id = reanchoring.begin_move(
            runtime.db, "catch_up", list(what.reasons), source_target, runtime.target,
            json.loads(old.to_json()), json.loads(old.to_json()), lost,
        )  # fmt: skip
        say(f"move {move_id}: catching up {len(lost)} checkpoint(s) on the same contract")
        return move_id, _describe(old)
    gas_price = 0 if runtime.chain.profile.zero_gas_price else None
    new = deploy_contract(runtime.chain.w3, key, artifact, gas_price)
    say(f"deployed a new ledger contract at {new.contract_address} (block {new.deploy_block})")
    destination = AnchorTarget(new.chain_id, new.contract_address)
    # A reset chain gives the same deployer the same contract address: rows confirmed at that
    # (chain id, address) belong to the chain that is gone.
    lost = sorted(reanchoring.confirmed_sizes(runtime.db, destination))
    move_id = reanchoring.begin_move(
        runtime.db, "move", list(what.reasons), source_target, destination,
        None if old is None else json.loads(old.to_json()), json.loads(new.to_json()), lost,
    )  # fmt: skip
    if path.exists():
        kept = keep_replaced(path, list(what.reasons))
        say(f"kept the previous manifest as {kept}")
    write_manifest(new, path)
    attach_deployment(runtime, runtime.chain, new, check=False)
    return move_id, _describe(old)


def _settle(runtime: ChainRuntime, history: list[reanchoring.HistoricCheckpoint], say: Progress) -> None:
    """Sends the queued checkpoints a batch at a time until every historic one is confirmed."""
    assert runtime.chain is not None and runtime.target is not None
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    remaining = len(history) + 1
    while True:
        anchoring.send_prepared(runtime.db, runtime.chain, runtime.target)
        anchoring.reconcile(runtime.db, runtime.chain, runtime.target, states=(CheckpointState.SENT,))
        missing = reanchoring.missing_on_target(runtime.db, runtime.target, history)
        say(f"{len(history) - len(missing)}/{len(history)} historic checkpoints on chain")
        if not missing:
            return
        if len(missing) < remaining:
            remaining, deadline = len(missing), time.monotonic() + SETTLE_TIMEOUT_S
        elif time.monotonic() > deadline:
            raise ChainError(
                f"{len(missing)} checkpoint(s) not confirmed after {SETTLE_TIMEOUT_S:g} s without progress "
                f"(first: tree size {missing[0]}); run `carbon-ledger chain reanchor` again to resume"
            )
        if not reanchoring.prepared_count(runtime.db, runtime.target):
            requeued = reanchoring.queue_history(runtime.db, runtime.chain, runtime.target, history)
            if requeued:
                say(f"re-queued {requeued} checkpoint(s) that failed")
            time.sleep(anchoring.CONFIRM_POLL_S)


def _report(
    runtime: ChainRuntime,
    mode: str,
    move_id: str | None,
    reasons: tuple[str, ...],
    checkpoints: int,
    leaf_index: int | None,
) -> ReanchorReport:
    assert runtime.target is not None
    latest = anchoring.last_checkpoint(runtime.db, runtime.target, (CheckpointState.CONFIRMED,))
    return ReanchorReport(
        mode=mode,
        move_id=move_id,
        reasons=reasons,
        checkpoints=checkpoints,
        chain_id=runtime.target.chain_id,
        contract=runtime.target.contract,
        leaf_index=leaf_index,
        anchored_tree_size=latest.tree_size if latest else 0,
    )


def report_json(report: ReanchorReport) -> str:
    return json.dumps(asdict(report), indent=2)
