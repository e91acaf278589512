"""``carbon-ledger chain status`` and ``chain reanchor``: is the chain still the anchored one,
and putting the history back on it (see :mod:`backend.services.anchoring.chain_recovery`).

They hang under the ``chain`` command group of :mod:`backend.entrypoints.cli.chain`. With the
``anvil`` profile both use the node ``carbon-ledger serve`` runs, or start one on its state file
when none is running.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator

from backend.bootstrap.settings import Settings
from backend.services.anchoring.chain_identity import REANCHOR_HINT, ChainCheck, check_chain

RULE = "=" * 78


def startup_warning(check: ChainCheck, settings: Settings) -> str:
    """The message ``carbon-ledger serve`` prints when it starts on a chain that lost the history."""
    lines = [
        RULE,
        f" The chain is not the one this ledger anchored to ({check.state}):",
        *(f"   - {reason}" for reason in check.reasons),
        f" The database holds checkpoints up to tree size {check.ledger_tree_size} that this chain does",
        " not back. Nothing is anchored and no receipt is served until this is resolved",
        " (/readyz answers 503; the API keeps recording, and anchors afterwards).",
        " 区块链与本账本已锚定的链不一致：暂停上链与凭证服务，直至运维人员处理。",
    ]
    if settings.chain_profile == "anvil" and not settings.chain_rpc_url:
        lines += [
            " If the local Anvil lost its state file, move the ledger onto this chain from another",
            " terminal while the server runs:",
            f"     .venv/bin/{REANCHOR_HINT}",
            " (or put the Anvil state file back and restart).",
        ]
    else:
        lines += [
            " Restore the chain node with its state, or move the ledger onto this chain with:",
            f"     {REANCHOR_HINT}",
        ]
    return "\n".join([*lines, RULE])


@contextlib.contextmanager
def _chain_node(settings: Settings) -> Iterator[None]:
    """The managed Anvil for the ``anvil`` profile, unless a server already runs it."""
    from backend.adapters.anvil import AnvilProcess, port_in_use

    if settings.chain_profile != "anvil" or settings.chain_rpc_url or port_in_use(settings.anvil_port):
        yield
        return
    node = AnvilProcess(
        port=settings.anvil_port,
        state_path=settings.data_dir / "anvil-state.json",
        chain_id=settings.anvil_chain_id,
        log_path=settings.data_dir / "anvil.log",
    )
    node.start()
    print(f"started Anvil at {node.rpc_url} (state in {settings.data_dir})", file=sys.stderr)
    try:
        yield
    finally:
        node.stop()


def status(settings: Settings, full: bool, as_json: bool) -> int:
    from backend.bootstrap.startup import build_runtime

    with _chain_node(settings):
        runtime = build_runtime(settings)
        try:
            assert runtime.chain is not None and runtime.expected is not None
            check = check_chain(runtime.db, runtime.chain, runtime.expected, full=full)
        finally:
            runtime.db.dispose()
    if as_json:
        print(json.dumps(check.public(), indent=2))
        return 0 if check.ok else 1
    if check.ok:
        print(
            f"chain ok: contract {check.contract} on chain {check.chain_id} holds the ledger's "
            f"checkpoints up to tree size {check.anchored_tree_size} "
            f"({check.checked_checkpoints} re-read{' (all)' if full else ''})"
        )
        return 0
    print(f"chain {check.state}: contract {check.contract} on chain {check.chain_id}")
    for reason in check.reasons:
        print(f"  - {reason}")
    if check.action:
        print(f"what to do: {check.action}")
    return 1


def reanchor(settings: Settings, dry_run: bool) -> int:
    from backend.adapters.contract_compiler import compile_ledger
    from backend.bootstrap.startup import anchoring_key, build_runtime
    from backend.services.anchoring import chain_recovery

    with _chain_node(settings):
        artifact = compile_ledger(settings.data_dir / "build")
        runtime = build_runtime(settings, artifact=artifact)
        try:
            if dry_run:
                plan = chain_recovery.plan(runtime, artifact)
                print(f"plan: {plan.mode}, {plan.checkpoints} checkpoint(s) to anchor")
                for reason in plan.reasons:
                    print(f"  - {reason}")
                return 0

            def say(message: str) -> None:
                print(message, file=sys.stderr, flush=True)

            report = chain_recovery.reanchor(runtime, artifact, anchoring_key(settings), say)
        finally:
            runtime.db.dispose()
    if report.mode == "none":
        print("nothing to do: the chain holds every anchored checkpoint")
        return 0
    print(
        f"re-anchored {report.checkpoints} checkpoint(s) ({report.mode}) on contract {report.contract} "
        f"of chain {report.chain_id}; the move is leaf {report.leaf_index}; anchored up to tree size "
        f"{report.anchored_tree_size}"
    )
    return 0
