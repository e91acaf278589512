"""What each API process of ``carbon-ledger serve --workers N`` runs, and its HTTP protocol.

Every worker process builds its own runtime (the database is already migrated and the contract
deployed by the parent, so this only connects) and its own scheduler, whose jobs run only where
their role's lease is held (:mod:`backend.entrypoints.worker.elector`).
"""

from __future__ import annotations

import asyncio
import socket

from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import multiprocess


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with TCP_NODELAY set on every connection.

    Sockets that worker processes inherit from uvicorn's parent do not always get the option, and
    without it a keep-alive client's next request waits for the delayed ACK (~40 ms on Linux).
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


class WatchedWorker(multiprocess.Process):
    """uvicorn's worker process, with the parent's copy of the child's end of the health-check
    pipe closed once the child has it.

    The supervisor pings each worker and waits for the answer up to the health-check timeout
    (``WORKER_START_TIMEOUT_S``, 120 s). With the parent still holding the child's end, a worker
    killed while a ping is outstanding never reads as gone: the supervisor waited the full timeout
    before starting a replacement (seen in the fault matrix, docs/scaling.md). With it closed the
    dead worker's end reads as EOF at once and the replacement starts within the next check.
    """

    def start(self) -> None:
        super().start()
        self.child_conn.close()


def supervise_with_watched_workers() -> None:
    """Makes ``uvicorn.run(..., workers=N)`` start :class:`WatchedWorker` processes."""
    multiprocess.Process = WatchedWorker  # type: ignore[misc]


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn's factory), configured from the environment."""
    from backend.api.app import create_app
    from backend.bootstrap.settings import Settings
    from backend.bootstrap.startup import build_runtime
    from backend.entrypoints.cli import ops

    config = Settings()
    ops.configure_serve_logging(config)
    runtime = build_runtime(config)
    ops.register_runtime_secrets(runtime)
    return create_app(runtime)
