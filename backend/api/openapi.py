"""The OpenAPI document as published at ``/openapi.json``: FastAPI's, completed with what a client
author needs and the framework cannot infer.

* one ``Problem`` schema (``application/problem+json``) for every 4xx an operation can answer: 400
  and 413 for any body (the request limits run before the route), 401/403 where the role matrix
  asks for a caller, 404 for a path with ids, 409 where a key or state can conflict, 422 for any
  input, 429 where a rate limit applies;
* the ``Idempotency-Key`` header marked required where the route refuses a request without one;
* request and response examples for what the mini-program and data sources call
  (:mod:`backend.api.openapi_examples`);
* bilingual tag descriptions.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from backend.api import openapi_examples
from backend.api.deps import KEY_MARK
from backend.api.permissions import rule_for
from backend.api.problems import MEDIA_TYPE, Problem

TAG_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "mini-program": ("员工小程序：登录、低碳行为、收据。", "Mini-program: sign-in, activities, receipts."),
    "mini-program: points": ("员工积分、兑换与排行榜。", "Points, rewards, redemptions, leaderboards."),
    "merchant": ("商户核销兑换券。", "Merchants accept vouchers at the till."),
    "integrations": ("可信数据源签名推送。", "Signed deliveries from trusted data sources."),
    "audit": ("审计：检查点、叶子、收据与一致性证明。", "Auditors: checkpoints, leaves, receipts, proofs."),
    "scope3": ("范围三汇总、导出、报告与关账。", "Scope 3 summaries, exports, reports, closes."),
    "dashboard": ("管理者仪表盘。", "The managers' dashboard."),
    "h5": ("员工手机页面。", "The employee's phone page."),
    "corrections": ("冲正：只追加、不修改。", "Corrections: logged reversals, nothing edited."),
    "rewards": ("奖品目录管理。", "The rewards catalogue."),
    "points administration": ("积分规则、更正与台账。", "Points rules, corrections and the ledger."),
    "factor sets": ("排放因子集（带来源与版本）。", "Emission factor sets, with sources and versions."),
    "staff access": ("员工账号、令牌与 API 密钥。", "Staff sign-in, tokens and API keys."),
    "enrollment": ("企业、部门、员工登记与邀请码。", "Companies, departments, employees and invitations."),
    "reviews and aggregates": ("待审核行为与汇总。", "Review queue and aggregates (small groups hidden)."),
    "operations": ("健康检查与指标。", "Health, readiness and metrics."),
    "docs": ("API 文档与问题类型。", "API documentation and problem types."),
    "privacy": (
        "个人信息删除（记入日志，不含个人信息）。",
        "Erasure of personal data (logged, nothing personal).",
    ),
    "transparency log (C2SP)": (
        "C2SP 标准检查点、瓦片与见证联署。",
        "C2SP checkpoints, tiles and witness cosignatures.",
    ),
}
"""Every tag, described in Chinese and English (Swagger UI and ReDoc group operations by tag)."""
TAGS = [{"name": name, "description": f"{zh} {en}"} for name, (zh, en) in TAG_DESCRIPTIONS.items()]

IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "minLength": 8, "maxLength": 128, "pattern": "^[A-Za-z0-9._:-]+$"}

EXTRA_STATUSES: dict[tuple[str, str], frozenset[int]] = {
    ("POST", "/mp/v1/activities"): frozenset({403, 429}),
    ("POST", "/mp/v1/redemptions"): frozenset({404}),
    ("POST", "/mp/v1/auth/login"): frozenset({401, 403, 409}),
    ("POST", "/mp/v1/auth/refresh"): frozenset({401}),
    ("POST", "/mp/v1/bindings"): frozenset({404, 409}),
    ("GET", "/metrics"): frozenset({401}),  # when CARBON_METRICS_TOKEN is set
    ("POST", "/api/v1/me/api-keys"): frozenset({409}),
    ("POST", "/api/v1/me/api-keys/{key_id}/rotate"): frozenset({409}),
    ("POST", "/api/v1/companies/{company_id}/departments"): frozenset({409}),
    ("POST", "/api/v1/companies/{company_id}/employees"): frozenset({409}),
    ("POST", "/api/v1/companies/{company_id}/reviews/{activity_id}"): frozenset({409}),
    ("POST", "/api/v1/activities/{activity_id}/reversal"): frozenset({409}),
    ("POST", "/api/v1/scope3/periods/{period}/close"): frozenset({409}),
    ("POST", "/api/v1/scope3/periods/{period}/restatements"): frozenset({409}),
    ("POST", "/api/v1/auth/token"): frozenset({401}),
    ("POST", "/api/v1/auth/refresh"): frozenset({401}),
    ("POST", "/integrations/v1/{source_id}/records"): frozenset({409, 429}),
    ("POST", "/api/v1/companies"): frozenset({409}),
    ("POST", "/api/v1/staff"): frozenset({409}),
    ("POST", "/api/v1/integrations/sources"): frozenset({409}),
    ("POST", "/api/v1/factor-sets"): frozenset({409}),
    ("POST", "/api/v1/points/corrections"): frozenset({404, 409}),
    ("POST", "/api/v1/points/transfers"): frozenset({404, 409}),
    ("GET", "/api/v1/points/transfers"): frozenset({404}),  # an employee not in the admin's company
    ("GET", "/audit/v1/consistency"): frozenset({404}),
    ("GET", "/audit/v1/proofs"): frozenset({404}),
    ("GET", "/audit/v1/chain"): frozenset({404}),
    # A company admin's company with no records or headcount in the period.
    ("GET", "/api/v1/scope3/summary"): frozenset({404}),
    ("GET", "/api/v1/scope3/export"): frozenset({404}),
    ("GET", "/api/v1/scope3/report"): frozenset({404}),
    ("GET", "/api/v1/scope3/disclosure"): frozenset({404}),
    ("GET", "/api/v1/scope3/explain"): frozenset({404}),
    ("GET", "/checkpoint"): frozenset({404}),  # nothing anchored yet
    ("POST", "/mp/v1/auth/logout"): frozenset({401}),  # a refresh token already used or revoked
    ("POST", "/api/v1/auth/logout"): frozenset({401}),
    ("POST", "/api/v1/privacy/erasures"): frozenset({404}),  # an unknown subject
}
"""Statuses an operation answers beyond those its shape implies (see :func:`statuses_of`): from the
domain errors its services raise."""

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BODY_METHODS = ("post", "put", "patch")


def statuses_of(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """The 4xx answers ``operation`` can give: implied by its shape, its rule, and the extras."""
    parameters = operation.get("parameters", [])
    found: set[int] = set()
    if method in BODY_METHODS:
        found |= {400, 413}  # the request limits read every body before the route
    if parameters or "requestBody" in operation:
        found.add(422)
    rule = rule_for(method, path)
    if rule is None or not rule.public:
        found.add(401)  # no token, or a bad signature for a signed source
        if rule is None or not rule.signed:
            found.add(403)
    if any(p.get("in") == "path" for p in parameters):
        found.add(404)
    if any(p.get("name") == "Idempotency-Key" for p in parameters):
        found.add(409)
    return found | EXTRA_STATUSES.get((method.upper(), path), frozenset())


def _problem_response(status: int) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase
    return {
        "description": f"{phrase} — problem types: /problems",
        "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}},
    }


def _complete(method: str, path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    declared = {int(status) for status in responses if status.startswith("4")}
    for status in sorted(statuses_of(method, path, operation) | declared):
        described = responses.get(str(status), {}).get("description")
        responses[str(status)] = _problem_response(status)
        if described and status in declared and status != 422:
            responses[str(status)]["description"] = described + " — problem types: /problems"
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "Idempotency-Key":
            # the dependency says whether the route refuses a request without a key
            parameter["required"] = parameter.get("schema", {}).get(KEY_MARK) == "required"
            parameter["schema"] = dict(IDEMPOTENCY_KEY_SCHEMA)
    openapi_examples.attach(method.upper(), path, operation)


def build(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _complete(method, path, operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
