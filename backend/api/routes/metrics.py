"""``/metrics``: the Prometheus exposition of every counter, histogram and scrape-time gauge."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backend.api.deps import RuntimeDep
from backend.domain.errors import Unauthenticated
from backend.observability.collector import LedgerCollector, combined
from backend.observability.metrics import REGISTRY

router = APIRouter(tags=["operations"])
_bearer = HTTPBearer(auto_error=False, description="CARBON_METRICS_TOKEN, when it is set")


def _collector(request: Request, runtime: RuntimeDep) -> LedgerCollector:
    collector: LedgerCollector | None = getattr(request.app.state, "metrics_collector", None)
    if collector is None:
        collector = request.app.state.metrics_collector = LedgerCollector(runtime)
    return collector


@router.get(
    "/metrics",
    summary="Prometheus metrics / 监控指标",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
)
def metrics(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    expected = runtime.settings.metrics_token
    if expected:
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthenticated("/metrics needs the bearer token set in CARBON_METRICS_TOKEN")
    body = generate_latest(combined(REGISTRY, _collector(request, runtime)))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
