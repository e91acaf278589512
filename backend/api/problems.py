"""RFC 9457 problem responses: the one table from domain errors to HTTP status and problem type.

Routes never build error responses; they raise domain errors and these handlers answer with
``application/problem+json`` carrying a bilingual title, the detail and, for invalid input, the
list of offending fields.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.domain import errors

logger = logging.getLogger(__name__)

PROBLEM_BASE = "https://carbon-ledger.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class ProblemResponse(JSONResponse):
    """A problem document encoded by orjson (the same compact UTF-8 JSON, a few times faster)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


STATUS_BY_ERROR: list[tuple[type[errors.CarbonLedgerError], int, str]] = [
    (errors.VoucherUsed, 409, "voucher-used"),
    (errors.VoucherCancelled, 409, "voucher-cancelled"),
    (errors.VoucherExpired, 409, "voucher-expired"),
    (errors.TransferConflict, 409, "transfer-conflict"),
    (errors.OutOfStock, 409, "out-of-stock"),
    (errors.RedemptionLimitReached, 409, "redemption-limit-reached"),
    (errors.RewardUnavailable, 409, "reward-unavailable"),
    (errors.CancellationClosed, 409, "cancellation-closed"),
    (errors.ReversalNotAllowed, 409, "reversal-not-allowed"),
    (errors.InsufficientPoints, 422, "insufficient-points"),
    (errors.ActivityRejected, 422, "activity-rejected"),
    (errors.RateLimited, 429, "rate-limited"),
    (errors.NotEnrolled, 403, "not-enrolled"),
    (errors.SignatureInvalid, 401, "signature-invalid"),
    (errors.ReplayRejected, 409, "replay"),
    (errors.UpstreamError, 502, "upstream-unavailable"),
    (errors.IdempotencyConflict, 409, "idempotency-conflict"),
    (errors.Conflict, 409, "conflict"),
    (errors.InvalidInput, 422, "invalid-input"),
    (errors.ProofError, 422, "proof-invalid"),
    (errors.NotFound, 404, "not-found"),
    (errors.Unauthenticated, 401, "unauthenticated"),
    (errors.PermissionDenied, 403, "forbidden"),
    (errors.ChainMismatch, 503, "chain-mismatch"),
    (errors.ChainError, 503, "chain-unavailable"),
    (errors.DatabaseUnavailable, 503, "database-unavailable"),
    (errors.ConfigurationError, 500, "configuration"),
    (errors.CarbonLedgerError, 500, "internal"),
]

FRAMEWORK_PROBLEMS: list[tuple[str, int, str, str]] = [
    ("malformed-request", 400, "Bad request", "请求格式错误"),
    ("invalid-input", 422, "Invalid input", "输入无效"),
    ("body-too-large", 413, "Request body too large", "请求体过大"),
    ("http-404", 404, "Not found", "未找到"),
    ("http-405", 405, "Method not allowed", "不支持的请求方法"),
    ("http-415", 415, "Unsupported media type", "不支持的媒体类型"),
]
"""Problems answered in front of the domain: unparsable or oversized bodies, failed validation,
unknown paths and methods (``http-<status>``)."""

ABOUT: dict[str, tuple[str, str]] = {
    "transfer-conflict": (
        "A points transfer id was used before with other fields; the first transfer stands.",
        "积分转账编号已用于字段不同的转账；以第一次为准。",
    ),
    "out-of-stock": ("The reward has no stock left.", "该奖品库存已空。"),
    "voucher-used": (
        "The voucher was marked used before, at the time `detail` gives (only its own merchant is told).",
        "该兑换券此前已核销，核销时间见 `detail`（仅告知该券所属商户）。",
    ),
    "voucher-cancelled": (
        "The employee cancelled this redemption; the voucher is void.",
        "员工已取消该兑换，兑换券作废。",
    ),
    "voucher-expired": ("The voucher's validity has ended.", "兑换券已过有效期。"),
    "redemption-limit-reached": (
        "The employee has redeemed this reward as often as its limit allows.",
        "该员工兑换此奖品的次数已达上限。",
    ),
    "reward-unavailable": (
        "The reward is switched off, not yet open or already closed.",
        "奖品已下架、尚未开放或已结束。",
    ),
    "cancellation-closed": (
        "The redemption was used, cancelled or is past its cancellation window.",
        "兑换已使用、已取消或已过可取消期限。",
    ),
    "reversal-not-allowed": (
        "The transfer is of a kind that cannot be reversed, or was reversed already.",
        "该转账不可冲正，或已被冲正。",
    ),
    "insufficient-points": ("The balance does not cover the reward.", "积分余额不足以兑换。"),
    "activity-rejected": (
        "A recognition rule refused the activity; `rule` names it (implausible, duplicate, …).",
        "识别规则拒绝了该行为；`rule` 字段给出规则名（不合理、重复等）。",
    ),
    "rate-limited": (
        "Too many requests from one person or source; retry after `retry_after_s` seconds "
        "(also the `Retry-After` header).",
        "同一人或同一数据源请求过多；请在 `retry_after_s` 秒后重试（亦见 `Retry-After` 头）。",
    ),
    "not-enrolled": (
        "Signed in, but not bound to an employee of the park: redeem an invitation code first.",
        "已登录但尚未绑定园区员工：请先使用邀请码。",
    ),
    "signature-invalid": (
        "An integration delivery whose HMAC signature or timestamp does not verify.",
        "数据源推送的 HMAC 签名或时间戳校验失败。",
    ),
    "replay": ("The same signed delivery was seen before.", "相同的签名推送已收到过。"),
    "upstream-unavailable": (
        "A service the ledger depends on (the identity provider) failed; retry later.",
        "所依赖的外部服务（身份提供方）失败；请稍后重试。",
    ),
    "idempotency-conflict": (
        "An `Idempotency-Key` (or client id) reused with a different request body.",
        "同一 `Idempotency-Key`（或客户端编号）用于了不同的请求内容。",
    ),
    "conflict": (
        "The request conflicts with the current state (already done, closed, used).",
        "请求与当前状态冲突（已完成、已关闭、已使用）。",
    ),
    "invalid-input": (
        "A field is missing or invalid; `errors` lists each `field` and `reason`.",
        "字段缺失或无效；`errors` 列出每个 `field` 及 `reason`。",
    ),
    "proof-invalid": ("A submitted proof does not verify.", "提交的证明校验失败。"),
    "not-found": (
        "No such resource, or not yours (someone else's id answers the same).",
        "资源不存在或不属于你（他人的编号同样如此回答）。",
    ),
    "unauthenticated": (
        "No bearer token or API key, or an expired or malformed one.",
        "缺少令牌或 API 密钥，或已过期、格式错误。",
    ),
    "forbidden": (
        "Your role or API key scope may not do this (docs/permissions.md).",
        "你的角色或 API 密钥权限范围不允许此操作（见 docs/permissions.md）。",
    ),
    "chain-mismatch": (
        "The blockchain node is not the chain the log was anchored on; anchors are not served.",
        "区块链节点不是日志锚定的那条链；暂停提供锚定信息。",
    ),
    "chain-unavailable": (
        "The blockchain node is unreachable or the contract is not deployed yet.",
        "区块链节点不可达或合约尚未部署。",
    ),
    "database-unavailable": (
        "The database could not be reached; nothing was recorded. Send the same request again "
        "(same `Idempotency-Key`) after `Retry-After` seconds.",
        "暂时无法连接数据库，本次请求未记录任何内容。请在 `Retry-After` 秒后以相同的 "
        "`Idempotency-Key` 重发同一请求。",
    ),
    "configuration": ("The server is misconfigured; see its log.", "服务器配置错误；见日志。"),
    "internal": ("An unexpected error; it was logged.", "意外错误；已记录日志。"),
    "malformed-request": (
        "The body is not JSON, or nests deeper than 32 levels.",
        "请求体不是合法 JSON，或嵌套超过 32 层。",
    ),
    "body-too-large": ("The body is larger than 2 MiB.", "请求体超过 2 MiB。"),
    "http-404": ("No such path.", "路径不存在。"),
    "http-405": ("The path exists but not for this method.", "路径存在，但不支持此方法。"),
    "http-415": ("The body's media type is not accepted here.", "此处不接受该请求体媒体类型。"),
}
"""What each problem type means, for the problem page (``GET /problems``, docs/problems.md)."""


class ProblemField(BaseModel):
    field: str = Field(description="The offending field, dotted (`distance_m`, `Idempotency-Key`).")
    reason: str


class Problem(BaseModel):
    """An RFC 9457 problem: every error answer of this API, as ``application/problem+json``."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="A URI naming the kind of problem; listed at `/problems`.")
    title: str = Field(description="中文 / English title.")
    title_en: str
    title_zh: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What went wrong in this request.")
    errors: list[ProblemField] | None = Field(
        default=None, description="For invalid input: each offending field and why."
    )
    rule: str | None = Field(default=None, description="For a refused activity: the recognition rule.")
    retry_after_s: int | None = Field(default=None, description="For 429: seconds to wait.")


def problem_types() -> list[tuple[str, int, str, str, str, str]]:
    """Every problem type this API answers with: (kind, status, title_en, title_zh, about_en,
    about_zh), from the table above and the framework's own answers; one row per kind."""
    rows: dict[str, tuple[str, int, str, str, str, str]] = {}
    for cls, status, kind in STATUS_BY_ERROR:
        rows.setdefault(kind, (kind, status, cls.title_en, cls.title_zh, *ABOUT[kind]))
    for kind, status, title_en, title_zh in FRAMEWORK_PROBLEMS:
        rows.setdefault(kind, (kind, status, title_en, title_zh, *ABOUT[kind]))
    return sorted(rows.values(), key=lambda row: (row[1], row[0]))


HTTP_TITLES = {
    400: ("Bad request", "请求格式错误"),
    404: ("Not found", "未找到"),
    405: ("Method not allowed", "不支持的请求方法"),
    413: ("Request body too large", "请求体过大"),
    415: ("Unsupported media type", "不支持的媒体类型"),
    422: ("Invalid input", "输入无效"),
}


def problem(
    status: int,
    kind: str,
    title_en: str,
    title_zh: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + kind,
        "title": f"{title_zh} / {title_en}",
        "title_en": title_en,
        "title_zh": title_zh,
        "status": status,
        "detail": detail,
        **extra,
    }
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return ProblemResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _classify(exc: errors.CarbonLedgerError) -> tuple[int, str]:
    for cls, status, kind in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status, kind
    return 500, "internal"


# Discriminator tags that pydantic puts in error locations; they are not field names.
DISCRIMINATOR_TAGS: set[str] = set()


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    if parts and parts[0] in DISCRIMINATOR_TAGS:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_errors(exc: RequestValidationError) -> tuple[int, list[dict[str, str]]]:
    status = 422
    fields = []
    for error in exc.errors():
        kind = error.get("type", "")
        loc = tuple(error.get("loc", ()))
        if kind == "json_invalid":
            status = 400
            fields.append({"field": "body", "reason": f"malformed JSON: {error.get('msg', '')}"})
            continue
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            ctx = error.get("ctx", {})
            fields.append(
                {
                    "field": "type",
                    "reason": f"unknown or missing activity type; expected one of "
                    f"{ctx.get('expected_tags', '')}",
                }
            )
            continue
        if kind == "missing" and loc and loc[0] == "body" and len(loc) == 1:
            fields.append({"field": "body", "reason": "a JSON request body is required"})
            continue
        fields.append({"field": _field(loc), "reason": str(error.get("msg", "invalid"))})
    return status, fields


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.CarbonLedgerError)
    async def _domain_error(_request: Request, exc: errors.CarbonLedgerError) -> JSONResponse:
        status, kind = _classify(exc)
        if status >= 500:
            logger.error("request failed: %s", exc.detail)
        extra: dict[str, Any] = {}
        headers = None
        if isinstance(exc, errors.InvalidInput):
            extra["errors"] = [{"field": exc.field, "reason": exc.reason}]
        if isinstance(exc, errors.ActivityRejected):
            extra["rule"] = exc.rule
        if isinstance(exc, errors.RateLimited):
            extra["retry_after_s"] = exc.retry_after_s
            headers = {"Retry-After": str(exc.retry_after_s)}
        if isinstance(exc, errors.DatabaseUnavailable):
            headers = {"Retry-After": str(exc.retry_after_s)}
        extra.update(getattr(exc, "extensions", {}))
        return problem(status, kind, exc.title_en, exc.title_zh, exc.detail, headers, **extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        status, fields = _validation_errors(exc)
        title_en, title_zh = HTTP_TITLES[status]
        detail = "; ".join(f"{f['field']}: {f['reason']}" for f in fields)
        return problem(
            status,
            "invalid-input" if status == 422 else "malformed-request",
            title_en,
            title_zh,
            detail,
            errors=fields,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title_en, title_zh = HTTP_TITLES.get(exc.status_code, ("Error", "错误"))
        return problem(exc.status_code, f"http-{exc.status_code}", title_en, title_zh, str(exc.detail))

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_away(request: Request, exc: DBAPIError) -> JSONResponse:
        # The connection was lost or refused (psycopg reports both as operational errors): the
        # transaction did not commit, so the client may send the same request again.
        logger.warning("database unavailable: %s", exc.orig.__class__.__name__ if exc.orig else exc)
        away = errors.DatabaseUnavailable("the database is unavailable; retry with the same Idempotency-Key")
        return await _domain_error(request, away)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error")
        return problem(
            500, "internal", "Internal error", "内部错误", "an unexpected error occurred; it was logged"
        )
