"""A TCP proxy in front of PostgreSQL that the fault matrix cuts: every connection dropped at once
and new ones refused for a few seconds, then accepted again — a database lost and found.

It runs an asyncio loop in a thread of its own, so a synchronous harness can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

from backend.adapters.anvil import free_port

CHUNK = 65536


class PgProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.connections = 0
        self.dropped = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def start(self) -> PgProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._call(self._drop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def cut(self) -> None:
        """Drops every connection (reset, as a lost network does) and refuses new ones."""
        self._call(self._drop())

    def resume(self) -> None:
        """Accepts connections again, on the same port."""
        deadline = time.monotonic() + 10
        while True:
            try:
                self._call(self._listen())
                return
            except OSError:  # the old socket's port is not free yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def outage(self, seconds: float) -> None:
        self.cut()
        time.sleep(seconds)  # the outage itself: a fixed length is the point
        self.resume()

    def _call(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _drop(self) -> None:
        if self._server is not None:
            self._server.close()  # refuse new connections: nothing listens on the port
            self._server = None
        for writer in list(self._open):
            self.dropped += 1
            writer.transport.abort()
        self._open.clear()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._server is None:  # accepted just before the cut
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        self.connections += 1
        self._open.update((client_writer, upstream_writer))
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer)
            )
        finally:
            for writer in (client_writer, upstream_writer):
                self._open.discard(writer)
                writer.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()  # one side closed: close the other, as the real peer would see it
