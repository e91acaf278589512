"""HTTP client of the park platform's footprint module (碳足迹评测模块): one signed POST."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    """None when no HTTP answer came back (refused, timed out, reset)."""
    error: str | None


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> PostResult:
    try:
        response = httpx.post(
            url, content=body, headers={"Content-Type": "application/json", **headers}, timeout=timeout_s
        )
    except httpx.HTTPError as exc:
        return PostResult(None, f"{exc.__class__.__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return PostResult(response.status_code, None)
    return PostResult(response.status_code, f"HTTP {response.status_code}: {response.text[:300]}")
