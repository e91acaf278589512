"""Staff sign-in (username and password), refresh and sign-out, their own API keys, and the
operators' administration of staff accounts."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from backend.api.deps import PrincipalDep, RuntimeDep
from backend.api.schemas_identity import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyPublic,
    RefreshRequest,
    StaffCreate,
    StaffLogin,
    StaffPublic,
    TokenPublic,
)
from backend.services.identity import identity, staff

router = APIRouter(prefix="/api/v1", tags=["staff access"])


def token_public(tokens: identity.IssuedTokens) -> TokenPublic:
    p = tokens.principal
    return TokenPublic(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        refresh_expires_in=tokens.refresh_expires_in,
        role=p.role,
        subject=p.subject,
        company_id=p.org,
        department_id=p.dept,
    )


def _issued(issued: staff.IssuedKey) -> ApiKeyIssued:
    return ApiKeyIssued(**ApiKeyPublic.model_validate(issued.row).model_dump(), key=issued.key)


@router.post("/auth/token", response_model=TokenPublic, summary="Staff sign-in / 工作人员登录")
def login(runtime: RuntimeDep, body: StaffLogin) -> TokenPublic:
    now = datetime.now(UTC)
    return token_public(staff.login_staff(runtime.db, body.username, body.password, runtime.tokens, now))


@router.post("/auth/refresh", response_model=TokenPublic, summary="New tokens for a refresh token / 刷新令牌")
def refresh(runtime: RuntimeDep, body: RefreshRequest) -> TokenPublic:
    return token_public(identity.refresh(runtime.db, body.refresh_token, runtime.tokens, datetime.now(UTC)))


@router.post("/auth/logout", status_code=204, summary="End the sign-in / 退出登录")
def logout(runtime: RuntimeDep, body: RefreshRequest) -> Response:
    identity.logout(runtime.db, body.refresh_token, datetime.now(UTC))
    runtime.sign_ins_ended()
    return Response(status_code=204)


@router.get("/me/api-keys", response_model=list[ApiKeyPublic], summary="My API keys / 我的 API 密钥")
def list_keys(runtime: RuntimeDep, principal: PrincipalDep) -> list[ApiKeyPublic]:
    return [ApiKeyPublic.model_validate(k) for k in staff.list_api_keys(runtime.db, principal)]


@router.post("/me/api-keys", status_code=201, response_model=ApiKeyIssued, summary="Create an API key")
def create_key(runtime: RuntimeDep, principal: PrincipalDep, body: ApiKeyCreate) -> ApiKeyIssued:
    now = datetime.now(UTC)
    return _issued(staff.create_api_key(runtime.db, principal, body.name, body.scopes, body.ttl_days, now))


@router.post("/me/api-keys/{key_id}/rotate", response_model=ApiKeyIssued, summary="Rotate an API key")
def rotate_key(runtime: RuntimeDep, principal: PrincipalDep, key_id: str) -> ApiKeyIssued:
    return _issued(staff.rotate_api_key(runtime.db, principal, key_id, datetime.now(UTC)))


@router.delete("/me/api-keys/{key_id}", response_model=ApiKeyPublic, summary="Revoke an API key")
def revoke_key(runtime: RuntimeDep, principal: PrincipalDep, key_id: str) -> ApiKeyPublic:
    return ApiKeyPublic.model_validate(staff.revoke_api_key(runtime.db, principal, key_id, datetime.now(UTC)))


@router.post("/staff", status_code=201, response_model=StaffPublic, summary="Create a staff account")
def create_staff(runtime: RuntimeDep, _operator: PrincipalDep, body: StaffCreate) -> StaffPublic:
    row = staff.create_staff(
        runtime.db, body.username, body.password, body.role, body.company_id, datetime.now(UTC)
    )
    return StaffPublic.model_validate(row)


@router.get("/staff", response_model=list[StaffPublic], summary="Staff accounts")
def list_staff(runtime: RuntimeDep, _operator: PrincipalDep) -> list[StaffPublic]:
    return [StaffPublic.model_validate(r) for r in staff.list_staff(runtime.db)]


@router.post("/staff/{staff_id}/disable", response_model=StaffPublic, summary="Disable a staff account")
def disable_staff(runtime: RuntimeDep, _operator: PrincipalDep, staff_id: str) -> StaffPublic:
    disabled = staff.disable_staff(runtime.db, staff_id, datetime.now(UTC))
    runtime.sign_ins_ended()
    return StaffPublic.model_validate(disabled)
