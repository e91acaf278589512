"""Structured logs: one JSON object per line on stderr, with the request id, and secrets redacted.

Every line carries ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``request_id``
(the HTTP request's or the scheduler run's, see :mod:`backend.observability.context`) and any
``extra`` fields. Before a line is written, every registered secret (token secret, anchoring
and admin keys, subject-commitment key), every bearer token and every JWT in it is replaced by
``[redacted]`` — in the message, the extra fields and the traceback alike. Code must still never
log a raw personal identifier: those cannot be recognised, so a test scans the logs of a full
workload for the subject ids it used.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import multiprocessing.util
import queue
import re
import sys
import threading
from datetime import datetime
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

from backend.observability.context import current_request_id

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8
"""Registered values shorter than this are ignored: redacting them would garble ordinary text."""
QUIET_LOGGERS = {
    "apscheduler": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "alembic": logging.WARNING,
}
"""Libraries that log every scheduler tick, HTTP call or schema look-up at INFO: noise that hides
what matters (the schema check runs at every scrape)."""
DROPPED_FIELDS = frozenset({"color_message"})
"""uvicorn's copy of each message with terminal colour codes."""

_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{8,}")

_secrets_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def register_secret(*values: str | None) -> None:
    """Adds values that must never appear in a log line (hex keys in any case, with or without 0x)."""
    global _secret_pattern
    with _secrets_lock:
        for value in values:
            if value and len(value) >= MIN_SECRET_LENGTH:
                bare = value.removeprefix("0x").removeprefix("0X")
                _secrets.add(bare if re.fullmatch(r"[0-9a-fA-F]+", bare) else value)
        # Longest first, so a secret containing another is replaced whole.
        alternatives = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(s) for s in alternatives), re.IGNORECASE)


def redact(text: str) -> str:
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record that passes the handler (a record that already
    carries one, from the thread that logged it, keeps it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__:
            record.request_id = current_request_id()
        return True


class RedactingJsonFormatter(JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message", "request_id"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {
            key: value.isoformat() if isinstance(value, datetime) else _redact_value(value)
            for key, value in log_data.items()
            if key not in DROPPED_FIELDS
        }


class RedactingTextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def resolve_format(fmt: str) -> str:
    """``auto`` → ``text`` when standard output is a terminal (a person reads it), else ``json``."""
    if fmt != "auto":
        return fmt
    return "text" if sys.stdout.isatty() else "json"


def build_handler(fmt: str = "json", stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing redacted lines (JSON, text, or ``auto``) with the request id to ``stream``."""
    fmt = resolve_format(fmt)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(RedactingJsonFormatter() if fmt == "json" else RedactingTextFormatter())
    return handler


class DeferredQueueHandler(logging.handlers.QueueHandler):
    """Puts a record on the queue with its request id and message resolved, nothing more.

    The stock handler formats the whole record in the caller's thread; here the JSON encoding,
    the redaction and the write happen in the listener's thread, off the request's path.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg = record.getMessage()
        record.args = None
        return record


_listener: logging.handlers.QueueListener | None = None


def _stop_listener() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()  # writes what is still queued
        _listener = None


def configure_logging(
    level: str = "INFO", fmt: str = "json", stream: IO[str] | None = None, *, queued: bool = False
) -> None:
    """Sends every logger (ours, uvicorn's, libraries') through one redacting handler on stderr.

    ``queued``: the handler runs in a background thread fed by a queue (the server's request
    path only enqueues); what is queued is written at exit.
    """
    global _listener
    _stop_listener()
    handler = build_handler(fmt, stream)
    if queued:
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        _listener = logging.handlers.QueueListener(records, handler)
        _listener.start()
        atexit.register(_stop_listener)
        # Worker processes started by multiprocessing leave through os._exit, which skips atexit.
        multiprocessing.util.Finalize(None, _stop_listener, exitpriority=100)
        handler = DeferredQueueHandler(records)
        handler.addFilter(RequestIdFilter())  # the context variable is the caller's thread's
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(logging.NOTSET if level == "DEBUG" else quiet)
