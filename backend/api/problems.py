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
    (errors.ConfigurationError, 500, "configuration"),
    (errors.CarbonLedgerError, 500, "internal"),
]

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

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error")
        return problem(
            500, "internal", "Internal error", "内部错误", "an unexpected error occurred; it was logged"
        )
