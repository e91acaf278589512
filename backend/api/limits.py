"""Request limits enforced before any parsing: body size and JSON nesting depth.

A body is read (up to the limit) and checked here, in front of the framework: an oversized body
gets 413 without being buffered whole, and a deeply nested JSON document (``[[[[…]]]]``) gets 400
before any JSON parser sees it — a hundred thousand levels crash the process otherwise (seen:
SIGSEGV). Both answers are RFC 9457 problems naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from backend.api.problems import problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 2 * 1024 * 1024
"""2 MiB: an integration batch of 500 records is ~300 KB; nothing legitimate comes near it."""
MAX_JSON_DEPTH = 32
"""Our deepest schema nests 4 levels; 32 leaves room for clients and none for stack attacks."""

_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether ``body`` nests arrays/objects deeper than ``limit`` (strings are skipped whole)."""
    depth = 0
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token[0] == 0x22:  # a string: brackets inside it do not count
            continue
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class RequestLimits:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b"") and json_depth_exceeds(body, self.max_depth):
            response = problem(
                400, "malformed-request", "Bad request", "请求格式错误",
                f"body: JSON nested deeper than {self.max_depth} levels",
                errors=[{"field": "body", "reason": f"nested deeper than {self.max_depth} levels"}],
            )  # fmt: skip
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413, "body-too-large", "Request body too large", "请求体过大",
            f"body: larger than {self.max_body_bytes} bytes",
            errors=[{"field": "body", "reason": f"larger than {self.max_body_bytes} bytes"}],
        )  # fmt: skip
        await response(scope, receive, send)
