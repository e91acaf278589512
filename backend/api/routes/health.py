"""Liveness (``/healthz``) and readiness (``/readyz``), each failure with its reason."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backend.api.deps import RuntimeDep
from backend.bootstrap.runtime import Runtime
from backend.observability import checks
from backend.services.anchoring.chain_identity import chain_status

router = APIRouter(tags=["operations"])


def _chain_identity(runtime: Runtime, reachable: bool) -> checks.Check:
    """The anchoring guard's verdict: chain id, genesis, contract code and checkpoint history.

    An unreachable node is not asked again (the probe already failed fast): its last verdict stands.
    """
    if not reachable:
        return checks.Check(False, "the chain node is not reachable; identity not checked", {})
    status = chain_status(runtime)
    details = {key: status[key] for key in ("state", "action", "anchored_tree_size", "chain_tree_size")}
    return checks.Check(status["ok"], status["reason"], details)


def _answer(ok: bool, words: tuple[str, str], results: dict[str, checks.Check]) -> JSONResponse:
    body: dict[str, Any] = {
        "status": words[0] if ok else words[1],
        "checks": {name: check.public() for name, check in results.items()},
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get(
    "/healthz",
    summary="Liveness: the process answers and its database is reachable / 存活检查",
    responses={503: {"description": "The database is unreachable; see checks.database.reason"}},
)
def healthz(runtime: RuntimeDep) -> JSONResponse:
    """Liveness only: a restart cures neither a chain outage nor a lost chain, so neither is here.

    The chain, its identity and the scheduler are readiness (``/readyz``).
    """
    results = {"database": checks.check_database(runtime.db)}
    return _answer(all(c.ok for c in results.values()), ("ok", "degraded"), results)


@router.get(
    "/readyz",
    summary="Readiness: database, schema, chain and contract, scheduler / 就绪检查",
    responses={503: {"description": "Not ready; every failing check says why in checks.*.reason"}},
)
def readyz(runtime: RuntimeDep, request: Request) -> JSONResponse:
    settings = runtime.settings
    database = checks.check_database(runtime.db)
    probe = checks.probe_chain(runtime)
    results = {
        "database": database,
        "migrations": checks.check_migrations(runtime.db)
        if database.ok
        else checks.Check(False, "database not reachable"),
        "chain": probe.check(),
        "chain_identity": _chain_identity(runtime, probe.reachable),
        "scheduler": checks.check_scheduler(
            getattr(request.app.state, "scheduler", None), settings.scheduler_enabled
        ),
    }
    return _answer(all(c.ok for c in results.values()), ("ready", "not ready"), results)
