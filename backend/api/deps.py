"""FastAPI dependencies: the runtime, the caller, and role checks, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.domain.errors import ChainError, ChainMismatch, PermissionDenied, Unauthenticated
from backend.runtime import Runtime
from backend.services.anchoring import AnchorTarget
from backend.services.chain_identity import REFUSING_STATES
from backend.services.tokens import Principal, decode_token

_bearer = HTTPBearer(auto_error=False, description="Bearer token (JWT)")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_principal(
    runtime: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise Unauthenticated("an Authorization: Bearer token is required")
    settings = runtime.settings
    return decode_token(settings.token_secret, credentials.credentials, allow_dev=settings.is_local)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise PermissionDenied(f"role {principal.role} may not do this; allowed: {', '.join(roles)}")
        return principal

    return check


EmployeeDep = Annotated[Principal, Depends(require_roles("employee"))]
AuditorDep = Annotated[Principal, Depends(require_roles("auditor", "operator"))]


def get_target(runtime: RuntimeDep) -> AnchorTarget:
    if runtime.target is None:
        raise ChainError("the ledger contract is not deployed yet")
    check = runtime.chain_guard.last
    if check is not None and check.state in REFUSING_STATES:
        raise ChainMismatch(check.summary())  # anchors the chain does not hold are not served
    return runtime.target


TargetDep = Annotated[AnchorTarget, Depends(get_target)]
