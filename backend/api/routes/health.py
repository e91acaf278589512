"""Liveness (``/healthz``) and readiness (``/readyz``), each failure with its reason."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backend.api.deps import RuntimeDep
from backend.observability import checks

router = APIRouter(tags=["operations"])


def _answer(ok: bool, words: tuple[str, str], results: dict[str, checks.Check]) -> JSONResponse:
    body: dict[str, Any] = {
        "status": words[0] if ok else words[1],
        "checks": {name: check.public() for name, check in results.items()},
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get(
    "/healthz",
    summary="Liveness: database and chain reachable / 存活检查",
    responses={503: {"description": "The database or the chain node is unreachable; see checks.*.reason"}},
)
def healthz(runtime: RuntimeDep) -> JSONResponse:
    results = {"database": checks.check_database(runtime.db), "chain": checks.check_chain_reachable(runtime)}
    return _answer(all(c.ok for c in results.values()), ("ok", "degraded"), results)


@router.get(
    "/readyz",
    summary="Readiness: database, schema, chain and contract, scheduler / 就绪检查",
    responses={503: {"description": "Not ready; every failing check says why in checks.*.reason"}},
)
def readyz(runtime: RuntimeDep, request: Request) -> JSONResponse:
    settings = runtime.settings
    database = checks.check_database(runtime.db)
    results = {
        "database": database,
        "migrations": checks.check_migrations(runtime.db)
        if database.ok
        else checks.Check(False, "database not reachable"),
        "chain": checks.probe_chain(runtime).check(),
        "scheduler": checks.check_scheduler(
            getattr(request.app.state, "scheduler", None),
            settings.anchor_interval_s,
            settings.scheduler_enabled,
        ),
    }
    return _answer(all(c.ok for c in results.values()), ("ready", "not ready"), results)
