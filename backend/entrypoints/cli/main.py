"""The ``carbon-ledger`` command line.

One module per command group registers its commands on :data:`app` (``register(app)``); adding a
group is one module and one entry in :data:`GROUPS`. :func:`main` runs the app and turns every
expected failure into one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Annotated

import typer
from typer.main import get_command

from backend.bootstrap.settings import Settings
from backend.domain.errors import CarbonLedgerError
from backend.entrypoints.cli import (
    audit,
    chain,
    demo,
    factors,
    identity,
    log_keys,
    ops,
    privacy,
    scope3,
    serve,
    tokens,
    witness,
)
from backend.entrypoints.cli.common import EXIT_FAILED, CommandFailed, bi, given_settings
from backend.observability.logging import configure_logging

PROG = "carbon-ledger"
GROUPS = (serve, tokens, identity, factors, scope3, demo, audit, chain, log_keys, witness, privacy, ops)
"""Command groups in the order ``--help`` lists them."""

app = typer.Typer(
    name=PROG,
    help=bi(
        "Carbon Ledger: a personal carbon ledger for zero-carbon industrial parks",
        "面向零碳园区的个人碳账本",
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def version() -> str:
    try:
        return metadata.version(PROG)
    except metadata.PackageNotFoundError:  # a source tree that was not installed
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        print(f"{PROG} {version()}")
        raise typer.Exit


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help=bi("print the version and exit", "显示版本号"),
        ),
    ] = False,
) -> None:
    """Carbon Ledger: a personal carbon ledger for zero-carbon industrial parks / 面向零碳园区的个人碳账本"""


for _group in GROUPS:
    _group.register(app)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """Runs one command; returns its exit status (0 success, 1 a negative verdict, 2 a failure).

    Usage errors are typer's (printed with the usage, status 2); failures the commands expect
    are one line on stderr; only a bug shows a traceback. ``settings`` replaces the environment's
    (for tests that run a command in process).
    """
    token = given_settings.set(settings)
    # Commands log warnings as readable text; `serve` switches to CARBON_LOG_FORMAT.
    configure_logging("WARNING", "text")
    command = get_command(app)
    try:
        command.main(
            args=list(argv) if argv is not None else sys.argv[1:], prog_name=PROG, standalone_mode=True
        )
    except SystemExit as done:
        code = done.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except CommandFailed as failed:
        print(f"{PROG}: {_one_line(failed.message)}", file=sys.stderr)
        return failed.code
    except CarbonLedgerError as exc:
        print(f"{PROG}: {_one_line(exc.detail)}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{PROG}: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        given_settings.reset(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
