"""ASGI middleware: a request id for every request, request metrics, and one access log line.

A plain ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``, so the request id's
context variable is the one the endpoint (and the thread pool it runs in) sees. Requests are
labelled by route template (``/mp/v1/activities/{activity_id}``), never by raw path, so ids do
not become metric labels; unmatched paths share one label. The access line carries method, route
template, status and duration — not the query string, the client address or any header.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.observability import metrics
from backend.observability.context import acceptable_request_id, bound_request_id, new_request_id

logger = logging.getLogger("carbon_ledger.access")

REQUEST_ID_HEADER = "x-request-id"
UNMATCHED_ROUTE = "<unmatched>"
QUIET_ROUTES = frozenset({"/metrics", "/healthz", "/readyz"})
"""Probed every few seconds by machines: their access lines go to DEBUG, not INFO."""


def route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else UNMATCHED_ROUTE


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = acceptable_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        request_id = incoming or new_request_id()
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with bound_request_id(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                method = metrics.bounded_label("method", scope.get("method", ""))
                route = route_template(scope)
                metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
                metrics.HTTP_LATENCY.labels(method, route).observe(elapsed)
                logger.log(
                    logging.DEBUG if route in QUIET_ROUTES else logging.INFO,
                    "%s %s %d %.1f ms",
                    method,
                    route,
                    status,
                    elapsed * 1000,
                    extra={"method": method, "route": route, "status": status, "duration_ms": elapsed * 1000},
                )
