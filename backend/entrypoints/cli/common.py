"""What every command shares: bilingual help, the settings, a runtime, and one-line failures.

An *expected* failure (bad input, a missing file, a refused operation, a configuration error)
ends a command with one line on stderr, ``carbon-ledger: <what went wrong>``, and a non-zero exit
status, never with a traceback: commands raise :class:`CommandFailed` (or let a
:class:`~backend.domain.errors.CarbonLedgerError` through) and :func:`backend.entrypoints.cli.main.main`
prints it. A traceback means a bug.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from pydantic import ValidationError

if TYPE_CHECKING:
    from backend.bootstrap.runtime import Runtime
    from backend.bootstrap.settings import Settings

EXIT_FAILED = 2
"""Exit status of an expected failure (the one argparse and click also use for usage errors)."""


def bi(en: str, zh: str) -> str:
    """Help text in English and Simplified Chinese, for commands park staff run."""
    return f"{en} / {zh}"


class CommandFailed(Exception):
    """An expected failure: ``message`` is printed as one line, the command exits with ``code``."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    raise CommandFailed(message, code)


given_settings: ContextVar[Settings | None] = ContextVar("given_settings", default=None)
"""Settings :func:`backend.entrypoints.cli.main.main` was handed (tests); else the environment's."""


def settings() -> Settings:
    """The settings from the environment; a bad ``CARBON_*`` value is a one-line failure."""
    from backend.bootstrap.settings import get_settings

    given = given_settings.get()
    if given is not None:
        return given
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CARBON_{'_'.join(str(p) for p in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        fail(f"configuration: {problems}")


@contextlib.contextmanager
def runtime(config: Settings | None = None) -> Iterator[Runtime]:
    """The database (migrated) without the chain, disposed of when the command ends."""
    from backend.bootstrap.startup import build_runtime

    built = build_runtime(config or settings(), with_chain=False)
    try:
        yield built
    finally:
        built.db.dispose()


def aware(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset (a typer ``parser``)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise typer.BadParameter("needs a UTC offset, e.g. 2027-01-01T00:00:00+08:00")
    return value


def choice(values: Sequence[str], help: str, *names: str) -> Any:
    """An option taking one of ``values``, listed in ``--help`` (one source: the tuple given)."""

    def parse(text: str) -> str:
        if text not in values:
            raise typer.BadParameter(f"{text!r} is not one of {', '.join(values)}")
        return text

    return typer.Option(*names, parser=parse, metavar="{" + "|".join(values) + "}", help=help)
