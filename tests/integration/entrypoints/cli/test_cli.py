"""The command line's manners, through the installed ``carbon-ledger`` script and in process:
``--version``, help for every option, one-line errors without tracebacks, no library chatter,
``serve`` refusing a busy port before it touches the chain or the database, and the log format
that follows the terminal."""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.main import get_command

from backend.adapters.anvil import free_port
from backend.entrypoints.cli.main import app, main, version

BIN = Path(sys.executable).parent / "carbon-ledger"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARBON_")}
    return env | {"CARBON_DATA_DIR": str(tmp_path / "var")} | extra


def _cli(tmp_path: Path, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *argv],
        env=_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"carbon-ledger {version()}"
    assert version() != "unknown"


def _walk(command: typer.core.TyperGroup | typer.core.TyperCommand, path: str) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = [(path, command)]
    for name, sub in (getattr(command, "commands", None) or {}).items():
        found += _walk(sub, f"{path} {name}")
    return found


def test_every_command_and_option_has_help() -> None:
    missing = []
    commands = _walk(get_command(app), "carbon-ledger")  # type: ignore[arg-type]
    assert len(commands) > 25
    for path, command in commands:
        if (
            not (getattr(command, "help", None) or getattr(command, "short_help", None))
            and path != "carbon-ledger"
        ):
            missing.append(path)
        for param in getattr(command, "params", []):
            if not getattr(param, "help", None):
                missing.append(f"{path} {param.name}")
    assert not missing, f"without help: {missing}"


def test_expected_failures_are_one_line_without_traceback(tmp_path: Path) -> None:
    cases = [
        (("factors", "show", "no-such-set"), "carbon-ledger: factor set no-such-set not found"),
        (("restore", str(tmp_path / "nowhere")), "carbon-ledger: "),
        (("dev-token", "--role", "employee", "--subject", "e-1"), "refused outside CARBON_ENV=local"),
    ]
    for argv, words in cases:
        env = {"CARBON_ENV": "production"} if argv[0] == "dev-token" else {}
        done = _cli(tmp_path, *argv, **env)
        assert done.returncode == 2, (argv, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and words in done.stderr, (argv, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (argv, done.stderr)


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    done = _cli(tmp_path, "migrate", CARBON_API_PORT="eighty")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("carbon-ledger: configuration: CARBON_API_PORT:"), done.stderr


def test_no_library_chatter(tmp_path: Path) -> None:
    done = _cli(tmp_path, "migrate")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "database migrated to the latest schema\n"
    assert done.stderr == ""  # no alembic INFO lines


def test_serve_refuses_a_busy_port_before_deploying_or_migrating(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _cli(tmp_path, "serve", CARBON_API_PORT=str(port), CARBON_ANVIL_PORT=str(free_port()))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr and "CARBON_API_PORT" in done.stderr
    assert "Traceback" not in done.stderr and "anvil:" not in done.stdout
    data_dir = tmp_path / "var"
    assert not data_dir.exists() or not any(data_dir.iterdir())  # no chain state, manifest or database


def _log_line_through(stdout_is_tty: bool, fmt: str | None) -> str:
    """What one warning looks like on stderr when stdout is (or is not) a terminal."""
    code = (
        "import logging; from backend.observability.logging import configure_logging;"
        f"configure_logging('INFO', {fmt or 'auto'!r}); logging.getLogger('probe').warning('hello')"
    )
    if stdout_is_tty:
        main_fd, child_fd = pty.openpty()
        try:
            done = subprocess.run(
                [sys.executable, "-c", code], stdout=child_fd, stderr=subprocess.PIPE, text=True, check=True
            )
        finally:
            os.close(child_fd)
            os.close(main_fd)
    else:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stderr.strip()


def test_log_format_follows_the_terminal() -> None:
    as_text = _log_line_through(stdout_is_tty=True, fmt="auto")
    assert as_text.endswith("WARNING probe [None] hello"), as_text
    as_json = json.loads(_log_line_through(stdout_is_tty=False, fmt="auto"))
    assert as_json["message"] == "hello" and as_json["level"] == "WARNING"
    forced = json.loads(_log_line_through(stdout_is_tty=True, fmt="json"))  # CARBON_LOG_FORMAT wins
    assert forced["logger"] == "probe"
