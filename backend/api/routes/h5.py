"""The employee's phone page (H5): static files only (plain HTML and ES modules, no build step).

The page holds no data itself: it signs in through the mini-program API and calls it with the
employee's own token. Its receipt verifier (``verify.js``) is one dependency-free module that a
mini-program can copy as it is; ``activity-forms.js``, the log form's fields per activity type, is
generated from the activity-type registry.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from backend.domain.accounting import activity_types
from backend.domain.errors import NotFound

router = APIRouter(tags=["h5"])

H5_DIR = Path(__file__).resolve().parent.parent / "static" / "h5"
H5_FILES = {"h5.js": "text/javascript", "verify.js": "text/javascript", "h5.css": "text/css"}
"""The only files served from H5_DIR: a fixed list, so no path from a request reaches the disk."""
FORMS_MODULE = "activity-forms.js"
"""The activity form's fields per type, generated from the activity-type registry."""
NO_CACHE = {"Cache-Control": "no-cache"}
PAGE_HEADERS = {
    **NO_CACHE,
    # The page talks to this API and to the chain's JSON-RPC URL (another origin), nothing else.
    "Content-Security-Policy": "default-src 'self'; connect-src *; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'",
    "Referrer-Policy": "no-referrer",
}


@router.get("/h5", response_class=HTMLResponse, summary="The employee's phone page / 员工手机页面")
def get_page() -> FileResponse:
    return FileResponse(H5_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def forms_module() -> str:
    """``activity-forms.js``: what the log form asks for each activity type (its registry entry)."""
    forms = json.dumps(activity_types.phone_form(activity_types.REGISTRY), ensure_ascii=False, indent=2)
    return f"// Generated from backend/domain/accounting/activity_types.py.\nexport const FIELDS = {forms};\n"


@router.get("/h5/static/{name}", include_in_schema=False)
def get_static(name: str) -> Response:
    if name == FORMS_MODULE:
        return Response(forms_module(), media_type="text/javascript", headers=NO_CACHE)
    if name not in H5_FILES:
        raise NotFound(f"no phone page file {name}")
    return FileResponse(H5_DIR / name, media_type=H5_FILES[name], headers=NO_CACHE)
