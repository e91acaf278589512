"""``carbon-ledger serve`` and ``migrate``: run the ledger, or only bring its database up to date."""

from __future__ import annotations

import errno
import signal
import socket
import sys
from types import FrameType

import typer

from backend.bootstrap.settings import Settings
from backend.entrypoints.cli import ops, reanchor
from backend.entrypoints.cli.common import bi, fail, runtime, settings


def register(app: typer.Typer) -> None:
    app.command(
        "serve",
        help=bi(
            "start Anvil (local profile), deploy the contract if needed, migrate and serve the API",
            "启动本地链、部署合约、迁移数据库并提供 API 服务",
        ),
    )(serve)
    app.command("migrate", help=bi("migrate the database to the latest schema", "将数据库迁移到最新结构"))(
        migrate
    )


def port_problem(host: str, port: int) -> str | None:
    """Why the API could not listen on ``host:port``, or None when it can (checked by binding)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve CARBON_API_HOST={host}: {exc.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is already in use (another `carbon-ledger serve`?): stop "
                    f"that process, or choose another port with CARBON_API_PORT=… / "
                    f"端口 {port} 已被占用，请停止占用的进程或设置 CARBON_API_PORT"
                )
            return f"cannot listen on {host}:{port} (CARBON_API_HOST / CARBON_API_PORT): {exc.strerror}"
    return None


def serve() -> None:
    _serve(settings())


def _serve(config: Settings) -> None:
    import uvicorn

    from backend.adapters.anvil import AnvilProcess
    from backend.adapters.anvil_supervisor import AnvilSupervisor
    from backend.api.app import create_app
    from backend.bootstrap.startup import build_runtime

    config.check_production_safety()
    problem = port_problem(config.api_host, config.api_port)
    if problem:  # before Anvil starts, the contract deploys or the database migrates
        fail(problem)
    ops.configure_serve_logging(config)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    anvil = None
    supervisor = None
    if config.chain_profile == "anvil" and not config.chain_rpc_url:
        anvil = AnvilProcess(
            port=config.anvil_port,
            state_path=config.data_dir / "anvil-state.json",
            chain_id=config.anvil_chain_id,
            log_path=config.data_dir / "anvil.log",
            state_interval_s=config.anvil_state_interval_s,
        )
        anvil.start()
        print(
            f"anvil: chain {config.anvil_chain_id} at {anvil.rpc_url} (state in {config.data_dir})",
            flush=True,
        )
        supervisor = AnvilSupervisor(anvil)
        supervisor.start()

    def _terminate(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    built = None
    try:
        built = build_runtime(config)
        ops.register_runtime_secrets(built)
        assert built.target is not None
        print(f"ledger contract {built.target.contract} on chain {built.target.chain_id}", flush=True)
        verdict = built.chain_guard.last
        if verdict is not None and not verdict.ok:
            print(reanchor.startup_warning(verdict, config), file=sys.stderr, flush=True)
        print(
            f"API at http://{config.api_host}:{config.api_port} (docs at /docs); Ctrl-C stops",
            flush=True,
        )
        uvicorn.run(
            create_app(built),
            host=config.api_host,
            port=config.api_port,
            timeout_graceful_shutdown=5,
            log_config=None,  # uvicorn logs through our handler; the middleware writes access lines
            access_log=False,
        )
    except KeyboardInterrupt:
        pass
    finally:
        if built is not None:
            built.db.dispose()
        if supervisor is not None:
            supervisor.stop()
        if anvil is not None:
            anvil.stop()


def migrate() -> None:
    with runtime():
        pass
    print("database migrated to the latest schema")
