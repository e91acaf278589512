"""The published OpenAPI document and the offline documentation: one Problem schema for every
4xx, the Idempotency-Key required where the route requires it, examples that are valid against
their schemas, bilingual tag descriptions, the problem types page equal to docs/problems.md, and
/docs and /redoc built only from files this server serves."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from backend.adapters.database import Database
from backend.api import openapi_examples
from backend.api.problems import PROBLEM_BASE, STATUS_BY_ERROR, problem_types
from backend.api.routes.docs import problems_markdown
from tests.integration.api_harness import Api

ROOT = Path(__file__).resolve().parents[3]
PROBLEM_STATUSES = {400, 401, 403, 404, 409, 413, 422, 429}
CHINESE = re.compile(r"[\u4e00-\u9fff]")

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""The document and the pages do not depend on the database: SQLite only (no PostgreSQL twin)."""


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Api:
    return Api(db, tmp_path)


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})


def test_every_error_answer_is_the_one_problem_schema(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    seen: set[int] = set()
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                seen.add(int(status))
                assert response["content"] == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                } or set(response["content"]) == {"application/problem+json"}, f"{method} {path} {status}"
        if method in ("POST", "PUT", "PATCH"):
            assert {"400", "413"} <= set(operation["responses"]), f"{method} {path}: a body can be refused"
    assert seen == PROBLEM_STATUSES
    activities = document["paths"]["/mp/v1/activities"]["post"]["responses"]
    assert {"400", "401", "403", "409", "413", "422", "429"} <= set(activities)
    assert "401" not in document["paths"]["/mp/v1/activity-types"]["get"]["responses"]  # public


def test_a_real_problem_matches_the_schema(api: Api, document: dict[str, Any]) -> None:
    headers = {**api.auth("employee", "emp-1", "acme"), "Idempotency-Key": str(uuid.uuid4())}
    answer = api.client.post("/mp/v1/activities", headers=headers, json={"type": "metro", "distance_km": -1})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    validator = _validator(document, {"$ref": "#/components/schemas/Problem"})
    assert validator.is_valid(answer.json()), answer.json()
    assert not validator.is_valid({"type": "x", "title": "t"})  # the schema can refuse


IDEMPOTENCY_REQUIRED = frozenset({("POST", "/mp/v1/activities"), ("POST", "/mp/v1/redemptions")})
"""The operations refused without an ``Idempotency-Key``."""


def test_idempotency_key_required_exactly_where_the_route_requires_it(
    api: Api, document: dict[str, Any]
) -> None:
    marked = {}
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "Idempotency-Key":
                marked[(method, path)] = parameter["required"]
    assert {op for op, required in marked.items() if required} == IDEMPOTENCY_REQUIRED
    assert marked[("POST", "/api/v1/rewards")] is False
    employee = api.auth("employee", "emp-1", "acme")
    for method, path in IDEMPOTENCY_REQUIRED:
        example = next(iter(openapi_examples.REQUESTS[(method, path)].values()))
        answer = api.client.request(method, path, headers=employee, json=example)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["errors"][0]["field"] == "Idempotency-Key"


def test_every_mini_program_integration_and_till_operation_has_valid_examples(
    document: dict[str, Any],
) -> None:
    checked = 0
    for method, path, operation in _operations(document):
        if not path.startswith(("/mp/", "/integrations/", "/api/v1/vouchers/")):
            continue
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            assert body.get("examples"), f"{method} {path}: no request example"
            validator = _validator(document, body["schema"])
            for name, example in body["examples"].items():
                assert validator.is_valid(example["value"]), f"{method} {path} request {name}"
                checked += 1
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json")
            if not status.startswith("2") or media is None:
                continue
            assert media.get("examples"), f"{method} {path} {status}: no response example"
            validator = _validator(document, media.get("schema", {}))
            for name, example in media["examples"].items():
                errors = [e.message for e in validator.iter_errors(example["value"])]
                assert not errors, f"{method} {path} {status} {name}: {errors[:3]}"
                checked += 1
    assert checked >= 40


def test_every_tag_is_described_in_both_languages(document: dict[str, Any]) -> None:
    described = {tag["name"]: tag["description"] for tag in document["tags"]}
    used = {tag for _m, _p, operation in _operations(document) for tag in operation.get("tags", [])}
    assert used <= set(described), used - set(described)
    for name in used:
        assert CHINESE.search(described[name]) and re.search(r"[A-Za-z]{4}", described[name]), name


def test_problem_types_page_and_docs_file_agree_with_the_error_table(api: Api) -> None:
    on_disk = (ROOT / "docs" / "problems.md").read_text(encoding="utf-8")
    assert on_disk == problems_markdown(), "regenerate: python -m backend.api.routes.docs > docs/problems.md"
    page = api.client.get("/problems")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    kinds = {row[0] for row in problem_types()}
    assert {kind for _cls, _status, kind in STATUS_BY_ERROR} <= kinds
    for kind in kinds:
        assert f'id="{kind}"' in page.text and PROBLEM_BASE + kind in on_disk
    assert {"malformed-request", "body-too-large", "invalid-input"} <= kinds


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_use_only_assets_this_server_serves(api: Api, page: str) -> None:
    answer = api.client.get(page)
    assert answer.status_code == 200
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", answer.text)
    references += re.findall(r"""url\s*:\s*['"]([^'"]+)['"]""", answer.text)
    references += re.findall(r"""Redoc\.init\(\s*['"]([^'"]+)""", answer.text)
    assert references, answer.text
    for reference in references:
        assert reference.startswith("/"), f"{page} loads {reference} from elsewhere"
        asset = api.client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 1000 or reference == "/openapi.json", reference
    assert "http://" not in answer.text and "https://" not in answer.text
