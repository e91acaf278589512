"""The FastAPI application: routers, problem handlers and the scheduler's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from backend.api import openapi, problems
from backend.api.deps import authorize
from backend.api.limits import RequestLimits
from backend.api.routes import audit, corrections, enrollment, health, integrations, reviews, staff_access
from backend.api.routes import dashboard as dashboard_routes
from backend.api.routes import docs as docs_routes
from backend.api.routes import factor_sets as factor_set_routes
from backend.api.routes import h5 as h5_routes
from backend.api.routes import metrics as metrics_route
from backend.api.routes import points as points_admin
from backend.api.routes import privacy as privacy_routes
from backend.api.routes import rewards as rewards_admin
from backend.api.routes import scope3 as scope3_routes
from backend.api.routes import tlog as tlog_routes
from backend.api.routes import vouchers as voucher_routes
from backend.bootstrap.runtime import Runtime
from backend.entrypoints.worker.scheduler import start_scheduler
from backend.observability.middleware import ObservabilityMiddleware
from mini_program_api import identity as mini_program_identity
from mini_program_api import points_routes as mini_program_points
from mini_program_api import routes as mini_program
from mini_program_api.schemas import ACTIVITY_TYPES

DESCRIPTION = """
Carbon Ledger — personal carbon ledger (个人碳账本) for zero-carbon industrial parks.

Employees record low-carbon activities; each is normalized with versioned emission factors,
logged in an RFC 9162 transparency log and anchored on a permissioned EVM chain. Errors are
RFC 9457 `application/problem+json`.
"""


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = start_scheduler(runtime) if runtime.settings.scheduler_enabled else None
        app.state.scheduler = scheduler  # /readyz checks it is alive
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=True)

    app = FastAPI(
        title="Carbon Ledger API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by backend/api/routes/docs.py
        redoc_url=None,
        dependencies=[Depends(authorize)],  # the role matrix (backend/api/permissions.py), every route
    )
    app.state.runtime = runtime
    problems.DISCRIMINATOR_TAGS.update(ACTIVITY_TYPES)
    problems.install(app)
    app.include_router(health.router)
    app.include_router(docs_routes.router)
    app.include_router(mini_program.router)
    app.include_router(audit.router)
    app.include_router(tlog_routes.router)
    app.include_router(scope3_routes.router)
    app.include_router(dashboard_routes.router)
    app.include_router(h5_routes.router)
    app.include_router(voucher_routes.router)
    app.include_router(metrics_route.router)
    app.include_router(corrections.router)
    app.include_router(mini_program_points.router)
    app.include_router(rewards_admin.router)
    app.include_router(points_admin.router)
    app.include_router(factor_set_routes.router)
    app.include_router(mini_program_identity.router)
    app.include_router(staff_access.router)
    app.include_router(enrollment.router)
    app.include_router(reviews.router)
    app.include_router(privacy_routes.router)
    app.include_router(integrations.admin_router)
    app.include_router(integrations.webhook_router)
    openapi.install(app)
    # Outermost last: observability sees every answer, including the limits' 413 and 400.
    app.add_middleware(RequestLimits)
    app.add_middleware(ObservabilityMiddleware)
    return app
