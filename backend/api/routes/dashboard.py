"""The managers' dashboard: a static page (plain HTML, JS and Chart.js, no build step) and its
status endpoint. The page holds no data itself: it calls the Scope 3 API with the bearer token the
user enters (or passes once as ``?token=``), which it keeps in the tab's ``sessionStorage``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import PrincipalDep, RuntimeDep
from backend.domain.accounting.scope3 import parse_period
from backend.domain.errors import NotFound
from backend.services.integrations import feed
from backend.services.reporting import dashboard

router = APIRouter(tags=["dashboard"])

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_FILES = {"app.js": "text/javascript", "dashboard.css": "text/css"}
"""The only files served from STATIC_DIR: a fixed list, so no path from a request reaches the disk."""
CHART_JS = Path(__file__).resolve().parents[3] / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"
"""Chart.js (pinned in package.json) from the checkout's node_modules: nothing loads from the internet."""
NO_STORE = {"Cache-Control": "no-cache"}


class TargetSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    co2e_kg: int = Field(ge=0, le=10**15, description="The year's ceiling in kg CO2e (stored in grams).")
    category: Literal[5, 6, 7] | None = Field(
        default=None, description="A GHG Protocol Scope 3 category; null: the whole inventory."
    )


@router.get("/dashboard", response_class=HTMLResponse, summary="The managers' dashboard page / 管理者仪表盘")
def get_dashboard() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "dashboard.html", media_type="text/html; charset=utf-8", headers=NO_STORE
    )


@router.get("/dashboard/static/{name}", include_in_schema=False)
def get_static(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise NotFound(f"no dashboard file {name}")
    return FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name], headers=NO_STORE)


@router.get("/dashboard/vendor/chart.umd.min.js", include_in_schema=False)
def get_chart_js() -> FileResponse:
    if not CHART_JS.is_file():
        raise NotFound(f"{CHART_JS} is missing: run `make install` (npm install) to get the pinned Chart.js")
    return FileResponse(CHART_JS, media_type="text/javascript")


@router.get("/api/v1/dashboard/status", tags=["scope3"], summary="Anchoring and feed status / 锚定与推送状态")
def get_status(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    status: dict[str, Any] = {
        "role": principal.role,
        "company": principal.org if principal.role == "company_admin" else None,
        "min_group_size": runtime.settings.min_group_size,
        "timezone": runtime.settings.scope3_timezone,
        "anchoring": dashboard.anchoring_status(runtime.db, runtime.target),
        "labels": dashboard.labels(runtime.db, principal.org if principal.role == "company_admin" else None),
    }
    if principal.role == "park_manager":
        outbox = feed.outbox_status(runtime.db, configured=bool(runtime.settings.park_platform_url), limit=5)
        status["feed"] = outbox
    return status


@router.get(
    "/api/v1/scope3/targets", tags=["scope3"], summary="The park's targets for a period / 园区减排目标"
)
def get_targets(
    runtime: RuntimeDep,
    _caller: PrincipalDep,
    period: Annotated[str, Query(description="2026, 2026-Q4 or 2026-11", max_length=16)],
) -> dict[str, Any]:
    """The park's targets for the year of ``period`` and their pro-rata share for ``period``."""
    return dashboard.targets_for(runtime.db, parse_period(period))


@router.put("/api/v1/scope3/targets/{year}", tags=["scope3"], summary="Set a year's target / 设定年度目标")
def put_target(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    year: Annotated[int, PathParam(ge=2000, le=2100)],
    body: Annotated[TargetSet, Body()],
) -> dict[str, Any]:
    target = dashboard.set_target(
        runtime.db, year, body.category, body.co2e_kg * 1000, principal.role, datetime.now(UTC)
    )
    return {"year": target.year, "category": target.category, "co2e_g": target.co2e_g}
