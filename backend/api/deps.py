"""FastAPI dependencies: the runtime, the caller, and role checks, as ``Annotated`` aliases.

They are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, and a hop there and
back for each of five small checks cost more than the checks. The one that may touch the database
(an API key) hands that part to the pool itself.

:func:`authorize` runs for every route (installed application-wide by ``create_app``): it looks
the route up in the role matrix (:mod:`backend.api.permissions`), authenticates the caller with a
bearer token or an API key unless the route is public, and refuses a role or API-key scope the
matrix does not allow. Routes then take the caller from :data:`PrincipalDep` (the one caller
dependency: no route restates its roles) and scope the data to it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from backend.api import permissions
from backend.bootstrap.runtime import Runtime
from backend.domain import idempotency
from backend.domain.errors import ChainError, ChainMismatch, PermissionDenied, Unauthenticated
from backend.domain.identity.access import may
from backend.domain.log.checkpoints import AnchorTarget
from backend.services.anchoring.chain_identity import REFUSING_STATES
from backend.services.identity import staff
from backend.services.identity.tokens import Principal, decode_token, parse_api_key

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
        principal = await run_in_threadpool(
            staff.authenticate_api_key, runtime.db, presented, datetime.now(UTC)
        )
    else:
        settings = runtime.settings
        principal = decode_token(settings.token_secret, presented, allow_dev=settings.is_local)
        if principal.session is not None:
            revocations = runtime.revocations
            if revocations.due():  # at most once per CARBON_REVOCATION_REFRESH_S
                await run_in_threadpool(revocations.reload, runtime.db, settings.access_token_ttl_s)
            if revocations.is_revoked(principal.session):
                raise Unauthenticated("this sign-in was ended (signed out or disabled); sign in again")
    if principal.role == "company_admin" and not principal.org:
        raise Unauthenticated("a company admin's credentials must name their company (org)")
    return principal


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
    """The caller, as :func:`authorize` admitted them under the route's one rule in
    :data:`backend.api.permissions.RULES`; routes take it to scope their data, never to check roles."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if credentials is None:
        raise Unauthenticated("an Authorization: Bearer token is required")
    return await authenticate(runtime, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
"""The one caller dependency: who may call a route is its ``Rule``, enforced before the route runs."""


async def company_admin_of(
    principal: PrincipalDep,
    company_id: Annotated[str, Path(max_length=64)],
) -> Principal:
    """A company admin acting on their own company (the ``{company_id}`` of the path), never another."""
    if principal.role != "company_admin" or principal.org != company_id:
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


KEY_MARK = "x-idempotency-key"
"""Marks the header's schema ``required`` or ``optional``; the OpenAPI document takes ``required``
from it (a missing key is refused by the dependency, with the field named, not by FastAPI)."""
_KEY_DESCRIPTION = f"Client-chosen key of this request ({idempotency.KEY_RULE}); a retry sends the same key."
_REQUIRED_KEY_HEADER = Header(
    alias=idempotency.HEADER, description=_KEY_DESCRIPTION, json_schema_extra={KEY_MARK: "required"}
)
_KEY_HEADER = Header(
    alias=idempotency.HEADER, description=_KEY_DESCRIPTION, json_schema_extra={KEY_MARK: "optional"}
)


async def required_idempotency_key(key: Annotated[str | None, _REQUIRED_KEY_HEADER] = None) -> str:
    checked = idempotency.check_key(key, required=True)
    assert checked is not None
    return checked


async def optional_idempotency_key(key: Annotated[str | None, _KEY_HEADER] = None) -> str | None:
    return idempotency.check_key(key, required=False)


IdempotencyKeyDep = Annotated[str, Depends(required_idempotency_key)]
"""The ``Idempotency-Key`` header, required and checked (:mod:`backend.domain.idempotency`)."""
OptionalIdempotencyKeyDep = Annotated[str | None, Depends(optional_idempotency_key)]
