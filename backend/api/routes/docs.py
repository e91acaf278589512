"""The API's own documentation, served offline: Swagger UI at ``/docs`` and ReDoc at ``/redoc`` from
the assets a pinned Python package ships (``fastapi-offline`` in requirements.lock), and the list of
problem types at ``/problems`` (the same table as docs/problems.md). Nothing loads from elsewhere.
"""

from __future__ import annotations

import html
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from backend.api.problems import PROBLEM_BASE, problem_types
from backend.domain.errors import NotFound

router = APIRouter(tags=["docs"])

VENDOR = files("fastapi_offline") / "static"
VENDOR_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
"""The only files served from the package: a fixed list, so no path from a request reaches the disk."""
VENDOR_URL = "/docs/vendor/"
TITLE = "Carbon Ledger API · 碳账本接口"
LONG_CACHE = {"Cache-Control": "public, max-age=86400"}
PAGE_POLICY = {
    # Only this server: ReDoc's footer would fetch its logo from its makers' site otherwise.
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'",
}


@router.get("/docs", include_in_schema=False)
def swagger_ui() -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=TITLE,
        swagger_js_url=VENDOR_URL + "swagger-ui-bundle.js",
        swagger_css_url=VENDOR_URL + "swagger-ui.css",
        swagger_favicon_url=VENDOR_URL + "favicon.png",
    )
    page.headers.update(PAGE_POLICY)
    return page


@router.get("/redoc", include_in_schema=False)
def redoc() -> HTMLResponse:
    page = get_redoc_html(
        openapi_url="/openapi.json",
        title=TITLE,
        redoc_js_url=VENDOR_URL + "redoc.standalone.js",
        redoc_favicon_url=VENDOR_URL + "favicon.png",
        with_google_fonts=False,
    )
    page.headers.update(PAGE_POLICY)
    return page


@router.get("/docs/vendor/{name}", include_in_schema=False)
def vendor_file(name: Annotated[str, PathParam(max_length=64)]) -> FileResponse:
    if name not in VENDOR_FILES:
        raise NotFound(f"no documentation file {name}")
    path = VENDOR / name
    return FileResponse(str(path), media_type=VENDOR_FILES[name], headers=LONG_CACHE)


def problems_markdown() -> str:
    """docs/problems.md, generated from the error table (a test keeps the file equal to this)."""
    lines = [
        "# Problem types · 问题类型",
        "",
        "Every error answer of the API is an RFC 9457 `application/problem+json` document (schema",
        "`Problem` in `/openapi.json`) whose `type` is one of the URIs below; `title` is Chinese and",
        "English, `detail` says what went wrong in this request, and invalid input lists each",
        "offending `field` with its `reason` under `errors`. The running server lists the same table",
        "at `GET /problems`. Generated from `backend/api/problems.py`; do not edit by hand.",
        "",
        "| type | status | title | when |",
        "| --- | --- | --- | --- |",
    ]
    for kind, status, title_en, title_zh, about_en, about_zh in problem_types():
        lines.append(
            f"| `{PROBLEM_BASE}{kind}` | {status} | {title_zh} / {title_en} | {about_zh}<br>{about_en} |"
        )
    return "\n".join(lines) + "\n"


def problems_html() -> str:
    rows = "\n".join(
        f'<tr id="{kind}"><td><code>{html.escape(PROBLEM_BASE + kind)}</code></td><td>{status}</td>'
        f"<td>{html.escape(title_zh)}<br>{html.escape(title_en)}</td>"
        f"<td>{html.escape(about_zh)}<br>{html.escape(about_en)}</td></tr>"
        for kind, status, title_en, title_zh, about_en, about_zh in problem_types()
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Problem types · 问题类型</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:1rem;max-width:72rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;
text-align:left;vertical-align:top}}code{{word-break:break-all}}</style></head>
<body><h1>问题类型 · Problem types</h1>
<p>接口的每个错误回答都是 RFC 9457 <code>application/problem+json</code>，其 <code>type</code> 为下列之一。
Every error answer is an RFC 9457 <code>application/problem+json</code> document whose
<code>type</code> is one of these. <a href="/docs">API docs</a></p>
<table><thead><tr><th>type</th><th>status</th><th>标题 title</th><th>含义 when</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""


@router.get("/problems", response_class=HTMLResponse, summary="Problem types / 问题类型")
def problems_page() -> HTMLResponse:
    return HTMLResponse(problems_html())


if __name__ == "__main__":  # regenerates docs/problems.md
    print(problems_markdown(), end="")
