"""The ``carbon-ledger`` command line: serve, migrate, dev tokens and the auditor's tools."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from backend.domain.errors import CarbonLedgerError
from backend.entrypoints.cli import audit, demo, factors, identity, ops, reanchor
from backend.observability.logging import configure_logging
from backend.services.tokens import ROLES, issue_token
from backend.settings import Settings, get_settings


def _serve(settings: Settings) -> int:
    import uvicorn

    from backend.api.app import create_app
    from backend.bootstrap import build_runtime
    from deploy.anvil import AnvilProcess
    from deploy.supervise import AnvilSupervisor

    settings.check_production_safety()
    ops.configure_serve_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    anvil = None
    supervisor = None
    if settings.chain_profile == "anvil" and not settings.chain_rpc_url:
        anvil = AnvilProcess(
            port=settings.anvil_port,
            state_path=settings.data_dir / "anvil-state.json",
            chain_id=settings.anvil_chain_id,
            log_path=settings.data_dir / "anvil.log",
        )
        anvil.start()
        print(
            f"anvil: chain {settings.anvil_chain_id} at {anvil.rpc_url} (state in {settings.data_dir})",
            flush=True,
        )
        supervisor = AnvilSupervisor(anvil)
        supervisor.start()

    def _terminate(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    runtime = None
    try:
        runtime = build_runtime(settings)
        ops.register_runtime_secrets(runtime)
        assert runtime.target is not None
        print(f"ledger contract {runtime.target.contract} on chain {runtime.target.chain_id}", flush=True)
        verdict = runtime.chain_guard.last
        if verdict is not None and not verdict.ok:
            print(reanchor.startup_warning(verdict, settings), file=sys.stderr, flush=True)
        app = create_app(runtime)
        uvicorn.run(
            app,
            host=settings.api_host,
            port=settings.api_port,
            timeout_graceful_shutdown=5,
            log_config=None,  # uvicorn logs through our JSON handler; the middleware writes access lines
            access_log=False,
        )
    except KeyboardInterrupt:
        pass
    finally:
        if runtime is not None:
            runtime.db.dispose()
        if supervisor is not None:
            supervisor.stop()
        if anvil is not None:
            anvil.stop()
    return 0


def _migrate(settings: Settings) -> int:
    from backend.bootstrap import build_runtime

    runtime = build_runtime(settings, with_chain=False)
    runtime.db.dispose()
    print("database migrated to the latest schema")
    return 0


def _dev_token(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.is_local:
        print("dev-token: refused outside CARBON_ENV=local", file=sys.stderr)
        return 2
    token = issue_token(
        settings.token_secret, args.role, args.subject, args.org, args.ttl, kind="dev", dept=args.dept
    )
    print(token)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carbon-ledger", description="Carbon Ledger: personal carbon ledger"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="start Anvil (local profile), deploy if needed, migrate, serve the API")
    commands.add_parser("migrate", help="migrate the database to the latest schema")
    token = commands.add_parser("dev-token", help="print a bearer token (CARBON_ENV=local only)")
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--subject", required=True, help="employee or staff id")
    token.add_argument("--org", default=None, help="company id")
    token.add_argument("--dept", default=None, help="department id within the company")
    token.add_argument("--ttl", type=int, default=86_400, help="lifetime in seconds (default one day)")
    audit.add_commands(commands)
    demo.add_commands(commands)
    ops.add_commands(commands)
    factors.add_commands(commands)
    identity.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging(fmt="text")  # `serve` switches to CARBON_LOG_FORMAT (JSON by default)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(get_settings())
        if args.command == "migrate":
            return _migrate(get_settings())
        if args.command == "dev-token":
            return _dev_token(get_settings(), args)
        if args.command == "demo":
            return demo.run(args)
        if args.command in ops.COMMANDS:
            return ops.run(args, get_settings())
        if args.command == "factors":
            return factors.run(get_settings(), args)
        if args.command in identity.COMMANDS:
            return identity.run(args, get_settings())
        return audit.run(args)
    except CarbonLedgerError as exc:
        print(f"carbon-ledger: {exc.detail}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
