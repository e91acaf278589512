"""FastAPI dependencies: the runtime, the caller, and role checks, as ``Annotated`` aliases.

They are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, and a hop there and
back for each of five small checks cost more than the checks. The one that may touch the database
(an API key) hands that part to the pool itself.

:func:`authorize` runs for every route (installed application-wide by ``create_app``): it looks
the route up in the role matrix (:mod:`backend.api.permissions`), authenticates the caller with a
bearer token or an API key unless the route is public, and refuses a role or API-key scope the
matrix does not allow. Routes then take the caller from :data:`PrincipalDep` (or a narrower alias)
and scope the data to it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from backend.api import permissions
from backend.bootstrap.runtime import Runtime
from backend.domain.access import may
from backend.domain.errors import ChainError, ChainMismatch, PermissionDenied, Unauthenticated
from backend.services import staff
from backend.services.anchoring import AnchorTarget
from backend.services.chain_identity import REFUSING_STATES
from backend.services.tokens import Principal, decode_token, parse_api_key

_bearer = HTTPBearer(auto_error=False, description="Bearer token (JWT) or API key (clk_…)")


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _bearer_value(request: Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("an Authorization: Bearer token (or API key) is required")
    return value.strip()


async def authenticate(runtime: Runtime, presented: str) -> Principal:
    if parse_api_key(presented) is not None:
        return await run_in_threadpool(staff.authenticate_api_key, runtime.db, presented, datetime.now(UTC))
    settings = runtime.settings
    return decode_token(settings.token_secret, presented, allow_dev=settings.is_local)


async def authorize(request: Request, runtime: RuntimeDep) -> None:
    """The role matrix, enforced: runs before every route's own dependencies and body."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    rule = permissions.rule_for(request.method, path)
    if rule is None:
        raise PermissionDenied(f"no permission rule covers {request.method} {path}; refused by default")
    if rule.public or rule.signed:
        return
    principal = await authenticate(runtime, _bearer_value(request))
    request.state.principal = principal
    assert rule.scope is not None
    if not may(principal.role, principal.scopes, rule.roles, rule.scope):
        if principal.role in rule.roles:
            raise PermissionDenied(f"this API key lacks the scope {rule.scope}")
        allowed = ", ".join(sorted(rule.roles))
        raise PermissionDenied(f"role {principal.role} may not do this; allowed: {allowed}")


async def get_principal(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if credentials is None:
        raise Unauthenticated("an Authorization: Bearer token is required")
    return await authenticate(runtime, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise PermissionDenied(f"role {principal.role} may not do this; allowed: {', '.join(roles)}")
        return principal

    return check


EmployeeDep = Annotated[Principal, Depends(require_roles("employee"))]
AuditorDep = Annotated[Principal, Depends(require_roles("auditor", "operator"))]
StaffDep = Annotated[Principal, Depends(require_roles(*permissions.STAFF))]
OperatorDep = Annotated[Principal, Depends(require_roles("operator"))]
ManagerDep = Annotated[Principal, Depends(require_roles("park_manager", "company_admin"))]


async def company_admin_of(
    principal: Annotated[Principal, Depends(require_roles("company_admin"))],
    company_id: Annotated[str, Path(max_length=64)],
) -> Principal:
    """A company admin acting on their own company (the ``{company_id}`` of the path), never another."""
    if principal.org != company_id:
        raise PermissionDenied(f"company admins act only on their own company, not {company_id}")
    return principal


CompanyAdminDep = Annotated[Principal, Depends(company_admin_of)]


async def get_target(runtime: RuntimeDep) -> AnchorTarget:
    if runtime.target is None:
        raise ChainError("the ledger contract is not deployed yet")
    check = runtime.chain_guard.last
    if check is not None and check.state in REFUSING_STATES:
        raise ChainMismatch(check.summary())  # anchors the chain does not hold are not served
    return runtime.target


TargetDep = Annotated[AnchorTarget, Depends(get_target)]
