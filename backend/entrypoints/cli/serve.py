"""``carbon-ledger serve`` and ``migrate``: run the ledger, or only bring its database up to date."""

from __future__ import annotations

import errno
import signal
import socket
import sys
import threading
from types import FrameType
from typing import Annotated

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
    app.command(
        "worker",
        help=bi(
            "run the background roles (anchoring, feed, expiry) without HTTP, each while elected",
            "不提供 HTTP，仅运行后台角色（锚定、推送、积分过期），各角色经选举运行",
        ),
    )(worker)


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


MAX_WORKERS = 64
WORKER_START_TIMEOUT_S = 120


def serve(
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=MAX_WORKERS,
            help=bi(
                "API processes sharing the port (use PostgreSQL for more than one)",
                "共享端口的 API 进程数（多于一个时请使用 PostgreSQL）",
            ),
        ),
    ] = 1,
) -> None:
    _serve(settings(), workers)


def _start_anvil(config: Settings) -> tuple[object | None, object | None]:
    """The managed Anvil of the ``anvil`` profile, shared with any ledger process already running on
    this data directory (started and supervised here otherwise); (None, None) for other profiles."""
    from backend.adapters.anvil import AnvilProcess
    from backend.adapters.anvil_supervisor import AnvilSupervisor
    from backend.adapters.shared_anvil import SharedAnvil

    if config.chain_profile != "anvil" or config.chain_rpc_url:
        return None, None
    anvil = SharedAnvil(
        AnvilProcess(
            port=config.anvil_port,
            state_path=config.data_dir / "anvil-state.json",
            chain_id=config.anvil_chain_id,
            log_path=config.data_dir / "anvil.log",
            state_interval_s=config.anvil_state_interval_s,
        )
    )
    anvil.start()
    how = "started" if anvil.started_here else "shared with another process on this data directory"
    print(
        f"anvil: chain {config.anvil_chain_id} at {anvil.anvil.rpc_url} ({how}; state in {config.data_dir})",
        flush=True,
    )
    supervisor = None
    if anvil.started_here:
        supervisor = AnvilSupervisor(anvil.anvil)
        supervisor.start()
    return anvil, supervisor


def _stop_anvil(anvil: object | None, supervisor: object | None) -> None:
    from backend.adapters.anvil_supervisor import AnvilSupervisor
    from backend.adapters.shared_anvil import SharedAnvil

    if isinstance(supervisor, AnvilSupervisor):
        supervisor.stop()
    if isinstance(anvil, SharedAnvil):
        anvil.stop()


def _serve(config: Settings, workers: int = 1) -> None:
    import uvicorn

    from backend.api.app import create_app
    from backend.bootstrap.startup import build_runtime
    from backend.entrypoints.asgi import NoDelayHttpToolsProtocol, supervise_with_watched_workers

    config.check_production_safety()
    problem = port_problem(config.api_host, config.api_port)
    if problem:  # before Anvil starts, the contract deploys or the database migrates
        fail(problem)
    if workers > 1 and config.resolved_database_url.startswith("sqlite"):
        fail(
            "--workers above 1 needs PostgreSQL (CARBON_DATABASE_URL): SQLite has one writer / "
            "多个工作进程需要 PostgreSQL"
        )
    ops.configure_serve_logging(config)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    anvil, supervisor = _start_anvil(config)

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
        common = {
            "host": config.api_host,
            "port": config.api_port,
            "http": NoDelayHttpToolsProtocol,
            "timeout_graceful_shutdown": 5,
            "log_config": None,  # uvicorn logs through our handler; the middleware writes access lines
            "access_log": False,
        }
        if workers == 1:
            uvicorn.run(create_app(built), **common)  # type: ignore[arg-type]
        else:
            built.db.dispose()  # each worker process builds its own runtime from the environment
            supervise_with_watched_workers()
            uvicorn.run(
                "backend.entrypoints.asgi:worker_app",
                factory=True,
                workers=workers,
                # A worker builds its runtime (contract, chain check) before it answers: under
                # load that takes longer than uvicorn's 5 s, which would kill it as unresponsive.
                timeout_worker_healthcheck=WORKER_START_TIMEOUT_S,
                **common,  # type: ignore[arg-type]
            )
    except KeyboardInterrupt:
        pass
    finally:
        if built is not None:
            built.db.dispose()
        _stop_anvil(anvil, supervisor)


def worker() -> None:
    """Runs the scheduler's jobs without HTTP until SIGTERM or Ctrl-C (each job only while this
    process holds its role's lease)."""
    from backend.bootstrap.startup import build_runtime
    from backend.entrypoints.worker.scheduler import start_scheduler

    config = settings()
    config.check_production_safety()
    ops.configure_serve_logging(config)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    anvil, supervisor = _start_anvil(config)
    stopping = threading.Event()

    def _terminate(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    built = None
    try:
        built = build_runtime(config)
        ops.register_runtime_secrets(built)
        scheduler = start_scheduler(built)
        print("worker: background roles elected; SIGTERM or Ctrl-C stops", flush=True)
        try:
            while not stopping.wait(1.0):
                pass
        finally:
            scheduler.shutdown(wait=True)  # releases the roles at once
    finally:
        if built is not None:
            built.db.dispose()
        _stop_anvil(anvil, supervisor)


def migrate() -> None:
    with runtime():
        pass
    print("database migrated to the latest schema")
