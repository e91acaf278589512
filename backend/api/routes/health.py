"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from backend.api.deps import RuntimeDep
from backend.domain.errors import ChainError

router = APIRouter(tags=["operations"])


def _checks(runtime: RuntimeDep) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    try:
        with runtime.db.read_sessions() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:  # any driver error means "not reachable"
        checks["database"] = {"ok": False, "reason": str(exc)[:200]}
    if runtime.chain is None:
        checks["chain"] = {"ok": False, "reason": "no chain configured"}
    else:
        try:
            chain_id = runtime.chain.chain_id()
            expected = runtime.target.chain_id if runtime.target else None
            ok = expected is None or chain_id == expected
            checks["chain"] = {"ok": ok, "chain_id": chain_id, "contract": runtime.chain.address}
            if not ok:
                checks["chain"]["reason"] = f"chain id {chain_id} differs from the anchored chain {expected}"
        except ChainError as exc:
            checks["chain"] = {"ok": False, "reason": exc.detail[:200]}
    return checks


@router.get("/healthz", summary="Health: database and chain reachable / 健康检查")
def healthz(runtime: RuntimeDep) -> JSONResponse:
    checks = _checks(runtime)
    ok = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "checks": checks}, status_code=200 if ok else 503
    )
