"""Employee sign-in from the mini-program (login code → tokens), refresh, profile, and the
data-source bindings the employee consents to (transit card, bike account…)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from backend.api.deps import PrincipalDep, RuntimeDep
from backend.api.routes.staff_access import token_public
from backend.api.schemas_identity import (
    BindingCreate,
    BindingPublic,
    MePublic,
    MiniProgramLogin,
    RefreshRequest,
    TokenPublic,
)
from backend.services.identity import identity
from backend.services.integrations import integrations

router = APIRouter(prefix="/mp/v1", tags=["mini-program"])


@router.post("/auth/login", response_model=TokenPublic, summary="Sign in with a wx.login code / 登录")
def login(runtime: RuntimeDep, body: MiniProgramLogin) -> TokenPublic:
    tokens = identity.login_employee(
        runtime.db,
        runtime.identity_provider,
        body.code,
        body.invitation_code,
        runtime.tokens,
        datetime.now(UTC),
    )
    return token_public(tokens)


@router.post("/auth/refresh", response_model=TokenPublic, summary="New tokens for a refresh token / 刷新令牌")
def refresh(runtime: RuntimeDep, body: RefreshRequest) -> TokenPublic:
    return token_public(identity.refresh(runtime.db, body.refresh_token, runtime.tokens, datetime.now(UTC)))


@router.post("/auth/logout", status_code=204, summary="Sign out / 退出登录")
def logout(runtime: RuntimeDep, body: RefreshRequest) -> Response:
    identity.logout(runtime.db, body.refresh_token, datetime.now(UTC))
    runtime.sign_ins_ended()
    return Response(status_code=204)


@router.get("/me", response_model=MePublic, summary="Who I am / 我的身份")
def me(principal: PrincipalDep) -> MePublic:
    return MePublic(employee_id=principal.subject, company_id=principal.org, department_id=principal.dept)


@router.get("/bindings", response_model=list[BindingPublic], summary="My bound accounts / 我绑定的账户")
def list_bindings(runtime: RuntimeDep, principal: PrincipalDep) -> list[BindingPublic]:
    return [
        BindingPublic.model_validate(b) for b in integrations.list_bindings(runtime.db, principal.subject)
    ]


@router.post(
    "/bindings",
    status_code=201,
    response_model=BindingPublic,
    responses={200: {"model": BindingPublic, "description": "Already bound to me"}},
    summary="Bind an account, with consent / 授权绑定账户",
)
def add_binding(
    runtime: RuntimeDep, principal: PrincipalDep, body: BindingCreate, response: Response
) -> BindingPublic:
    row, created = integrations.add_binding(
        runtime.db,
        principal.subject,
        body.kind,
        body.identifier,
        body.label,
        runtime.subject_key,
        datetime.now(UTC),
        code=body.code,
    )
    if not created:
        response.status_code = 200
    return BindingPublic.model_validate(row)


@router.delete("/bindings/{binding_id}", response_model=BindingPublic, summary="Withdraw consent / 解除绑定")
def revoke_binding(runtime: RuntimeDep, principal: PrincipalDep, binding_id: str) -> BindingPublic:
    return BindingPublic.model_validate(
        integrations.revoke_binding(
            runtime.db, principal.subject, binding_id, datetime.now(UTC), runtime.subject_key
        )
    )
