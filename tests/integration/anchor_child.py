"""A real anchoring process that dies by SIGKILL at one step of the state machine (fault tests).

``python -m tests.integration.anchor_child DB_URL RPC_URL CONTRACT ABI_FILE STEP`` runs one
anchoring tick and kills itself (no cleanup, no flush, as a power cut or OOM kill would) at STEP:

* ``prepare`` — the checkpoint is committed as ``prepared``; dies when about to sign;
* ``sign`` — the transaction is signed and recorded (``sent``, raw bytes stored); dies before
  broadcasting it;
* ``send`` — the transaction is broadcast; dies before waiting for it to be mined.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from backend.adapters.anvil import ANVIL_DEFAULT_KEY_0
from backend.adapters.chain import PROFILES, LedgerChain, connect
from backend.adapters.database import create_database
from backend.domain.log.checkpoints import AnchorTarget
from backend.services.anchoring import anchoring


def _die(*_args: Any, **_kwargs: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


def main(db_url: str, rpc_url: str, contract: str, abi_file: str, step: str) -> None:
    profile = PROFILES["anvil"]
    chain = LedgerChain.from_key(
        connect(rpc_url, profile),
        profile,
        contract,
        json.loads(Path(abi_file).read_text()),
        ANVIL_DEFAULT_KEY_0,
    )
    if step == "prepare":
        chain.sign_anchor = _die  # type: ignore[method-assign]
    elif step == "sign":
        chain.send_raw = _die  # type: ignore[method-assign]
    elif step == "send":
        anchoring._wait_mined = _die  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown step {step}")
    db = create_database(db_url)
    anchoring.anchor_tick(
        db, chain, AnchorTarget(chain.chain_id(), chain.address), anchoring.AnchorPolicy(1, 0)
    )
    raise SystemExit("the anchoring tick finished without reaching the fault")


if __name__ == "__main__":
    main(*sys.argv[1:6])
