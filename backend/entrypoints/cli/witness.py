"""``carbon-ledger witness …``: a C2SP tlog witness for the parks' logs (run by another party).

``witness serve --name city.example/witness --log <park's vkey> [--log …]`` keeps its key and its
state in ``--dir`` (created on first start) and prints its verifier key, which the park puts in
``CARBON_WITNESSES`` and auditors in their trust policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backend.entrypoints.cli.common import bi, fail
from backend.entrypoints.cli.serve import port_problem

app = typer.Typer(
    help=bi(
        "a C2SP tlog witness: cosigns parks' checkpoints, refuses forks",
        "C2SP 日志见证者：联署检查点，拒绝分叉",
    ),
    no_args_is_help=True,
)
KEY_FILE = "witness.key"
STATE_FILE = "witness-state.sqlite3"

Name = Annotated[
    str, typer.Option(help=bi("the witness's key name, e.g. city.example/witness", "见证者密钥名称"))
]
Dir = Annotated[Path, typer.Option("--dir", help=bi("where the key and state are kept", "密钥与状态目录"))]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="witness")


@app.command(help=bi("print the witness's verifier key", "显示见证者验证公钥"))
def vkey(name: Name, directory: Dir = Path("./witness")) -> None:
    from backend.domain.log import notes
    from backend.services.log.witness import load_witness_key

    signer = notes.Signer(
        notes.check_key_name(name), load_witness_key(directory / KEY_FILE), notes.SIG_COSIGNATURE_V1
    )
    print(signer.verifier.vkey)


@app.command(help=bi("serve the witness over HTTP", "以 HTTP 提供见证服务"))
def serve(
    name: Name,
    log: Annotated[
        list[str],
        typer.Option(help=bi("a log's verifier key (repeatable)", "所见证日志的验证公钥（可重复）")),
    ],
    directory: Dir = Path("./witness"),
    host: Annotated[str, typer.Option(help=bi("address to listen on", "监听地址"))] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help=bi("port", "端口"))] = 8090,
) -> None:
    import uvicorn

    from backend.adapters.witness_state import WitnessState
    from backend.api.witness_app import create_witness_app
    from backend.domain.log.notes import NoteError
    from backend.services.log.witness import Witness, load_witness_key

    problem = port_problem(host, port)
    if problem:
        fail(problem)
    state = WitnessState(directory / STATE_FILE)
    try:
        witness = Witness.from_vkeys(name, load_witness_key(directory / KEY_FILE), log, state)
    except NoteError as exc:
        fail(f"witness: {exc.detail}")
    print(f"witness {witness.signer.verifier.vkey}", flush=True)
    print(f"logs: {', '.join(sorted(witness.logs))}; listening on http://{host}:{port}", flush=True)
    try:
        uvicorn.run(create_witness_app(witness), host=host, port=port, timeout_graceful_shutdown=2)
    finally:
        state.close()
