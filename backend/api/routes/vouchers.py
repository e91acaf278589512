"""Vouchers at the till: the merchant's phone page (``/merchant``, static files) and its API.

A merchant (a staff account with role ``merchant``; its organisation names the merchant) scans a
voucher's QR code or types its code, sees what it is for, and marks it used, once. The QR text is
signed by the park (``GET /api/v1/vouchers/key`` is the public key, a JWK) and the page checks the
signature with WebCrypto before it asks the server, so a forged code is refused at the till.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field

from backend.api.deps import PrincipalDep, RuntimeDep
from backend.domain.errors import CarbonLedgerError, NotFound, VoucherCancelled, VoucherExpired, VoucherUsed
from backend.domain.points import vouchers as rules
from backend.services.points import vouchers

router = APIRouter(tags=["merchant"])

PAGE_DIR = Path(__file__).resolve().parent.parent / "static" / "merchant"
PAGE_FILES = {"merchant.js": "text/javascript", "merchant.css": "text/css"}
"""The only files served from PAGE_DIR: a fixed list, so no path from a request reaches the disk."""
NO_CACHE = {"Cache-Control": "no-cache"}
PAGE_HEADERS = {
    **NO_CACHE,
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self)",
}

CodeParam = Annotated[
    str, PathParam(min_length=1, max_length=160, description="CL-XXXX-XXXX-XXXX, or the QR code's text")
]


class VoucherReward(BaseModel):
    id: str
    name: str
    name_zh: str | None
    description: str | None


State = Literal["usable", "used", "cancelled", "expired"]


STATES: tuple[tuple[type[CarbonLedgerError], State], ...] = (
    (VoucherUsed, "used"),
    (VoucherCancelled, "cancelled"),
    (VoucherExpired, "expired"),
)


class VoucherPublic(BaseModel):
    code: str
    state: State
    reward: VoucherReward
    price_points: int
    issued_at: datetime
    expires_at: datetime | None
    used_at: datetime | None
    refusal_en: str | None = Field(description="Why it cannot be used now; null when it can.")
    refusal_zh: str | None
    leaf_index: int | None = Field(description="The logged record of its use (a voucher_use leaf).")


class VoucherKey(BaseModel):
    jwk: dict[str, Any] = Field(description="ECDSA P-256 public key (JWK) that signs voucher QR codes.")
    algorithm: str = "ECDSA P-256 SHA-256, signature raw r||s in base64url"
    format: str = "CLV1.<code>.<expires unix seconds>.<signature over 'CLV1.<code>.<expires>'>"


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value else None


def voucher_public(found: vouchers.Voucher, merchant: str | None, now: datetime) -> VoucherPublic:
    row, reward = found.redemption, found.reward
    state: State = "usable"
    refusal: CarbonLedgerError | None = None
    expires_at = rules.ends_at(row.created_at, row.expires_at)
    try:
        rules.check_usable(
            row.voucher_code, row.status, expires_at, row.used_at, reward.merchant, merchant, now
        )
    except CarbonLedgerError as exc:
        refusal = exc
        for kind, name in STATES:
            if isinstance(exc, kind):
                state = name
    return VoucherPublic(
        code=row.voucher_code,
        state=state,
        reward=VoucherReward(
            id=reward.id, name=reward.name, name_zh=reward.name_zh, description=reward.description
        ),
        price_points=row.price_points,
        issued_at=row.created_at.astimezone(UTC),
        expires_at=expires_at.astimezone(UTC),
        used_at=_utc(row.used_at),
        refusal_en=f"{refusal.title_en}: {refusal.detail}" if refusal else None,
        refusal_zh=refusal.title_zh if refusal else None,
        leaf_index=row.use_leaf_index,
    )


@router.get("/merchant", response_class=HTMLResponse, summary="The merchant's till page / 商户核销页面")
def get_page() -> FileResponse:
    return FileResponse(PAGE_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/merchant/static/{name}", include_in_schema=False)
def get_static(name: str) -> FileResponse:
    if name not in PAGE_FILES:
        raise NotFound(f"no merchant page file {name}")
    return FileResponse(PAGE_DIR / name, media_type=PAGE_FILES[name], headers=NO_CACHE)


@router.get(
    "/api/v1/vouchers/key",
    response_model=VoucherKey,
    summary="The key that signs voucher QR codes / 验签公钥",
)
def get_key(runtime: RuntimeDep) -> VoucherKey:
    return VoucherKey(jwk=runtime.voucher_signer.public_jwk())


@router.get("/api/v1/vouchers/{code}", response_model=VoucherPublic, summary="Look a voucher up / 查询兑换券")
def get_voucher(runtime: RuntimeDep, merchant: PrincipalDep, code: CodeParam) -> VoucherPublic:
    found = vouchers.look_up(runtime.db, merchant, code)
    return voucher_public(found, merchant.org, datetime.now(UTC))


@router.post(
    "/api/v1/vouchers/{code}/use",
    response_model=VoucherPublic,
    summary="Mark a voucher used, once / 核销兑换券",
    responses={409: {"description": "Used, cancelled or expired (the problem type says which)"}},
)
def use_voucher(runtime: RuntimeDep, merchant: PrincipalDep, code: CodeParam) -> VoucherPublic:
    now = datetime.now(UTC)
    found = vouchers.use(runtime.db, merchant, code, now)
    public = voucher_public(found, merchant.org, now)
    return public.model_copy(update={"state": "used", "refusal_en": None, "refusal_zh": None})
