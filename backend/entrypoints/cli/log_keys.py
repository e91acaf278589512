"""``carbon-ledger log …``: the log's checkpoint-signing keys (C2SP signed notes).

Rotation (docs/verification.md): ``log rotate-key`` adds a key that signs from then on, next to
the old one → give the new verifier key (``log vkey``) to the witnesses and auditors → ``log
retire-key KEYID`` for the old one. A running server picks the change up at its next request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from backend.bootstrap.runtime import log_key_store
from backend.entrypoints.cli import common
from backend.entrypoints.cli.common import bi

app = typer.Typer(
    help=bi("the log's checkpoint-signing keys (C2SP signed notes)", "日志检查点签名密钥（C2SP 签名笔记）"),
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="log")


@app.command(
    help=bi("print the log's verifier keys, newest first, with their state", "列出日志验证公钥及状态")
)
def vkey(
    all_keys: Annotated[
        bool, typer.Option("--all", help=bi("also the retired keys", "包括已停用的密钥"))
    ] = False,
) -> None:
    store = log_key_store(common.settings())
    for verifier, key in store.verifiers():
        if key.retired_at is None:
            print(verifier.vkey)
        elif all_keys:
            print(f"{verifier.vkey}  # retired {key.retired_at}")


@app.command(
    "rotate-key",
    help=bi(
        "add a new signing key (the old ones keep signing until retired)",
        "新增签名密钥（旧密钥在停用前继续签名）",
    ),
)
def rotate_key() -> None:
    verifier = log_key_store(common.settings()).rotate(datetime.now(UTC))
    print(verifier.vkey)


@app.command(
    "retire-key",
    help=bi(
        "stop signing with a key (by its 8-hex-digit key ID)", "停用某个签名密钥（按 8 位十六进制密钥 ID）"
    ),
)
def retire_key(
    key_id: Annotated[str, typer.Argument(metavar="KEYID", help=bi("key ID, as in the vkey", "密钥 ID"))],
) -> None:
    verifier = log_key_store(common.settings()).retire(key_id.lower(), datetime.now(UTC))
    print(f"retired {verifier.vkey}")
