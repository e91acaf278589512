"""A lost database connection answers 503 with Retry-After and a problem body, never a bare 500:
the request recorded nothing and the client sends it again with the same idempotency key."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import InterfaceError, OperationalError

from backend.api import problems


def _app(error: Exception) -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.post("/record")
    def record() -> None:
        raise error

    return app


def _post(app: FastAPI) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ledger.test") as client:
            return await client.post("/record")

    return asyncio.run(send())


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("INSERT", {}, ConnectionError("server closed the connection unexpectedly")),
        InterfaceError("SELECT 1", {}, ConnectionError("the connection is closed")),
    ],
    ids=["connection lost", "connection closed"],
)
def test_lost_database_connection_is_a_503_problem_with_retry_after(error: Exception) -> None:
    response = _post(_app(error))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == problems.PROBLEM_BASE + "database-unavailable"
    assert body["title"] == "数据库暂不可用 / Database unavailable"
    assert "Idempotency-Key" in body["detail"]


def test_other_unexpected_errors_stay_500() -> None:
    response = _post(_app(RuntimeError("bug")))
    assert response.status_code == 500
    assert "retry-after" not in response.headers
