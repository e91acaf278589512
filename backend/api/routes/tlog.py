"""The log for generic tools: C2SP checkpoints, tlog-tiles and the log's verifier key.

Paths are the specifications' own, relative to the API's root (the log's *prefix*): a tlog client
pointed at ``https://<host>/`` finds ``checkpoint`` and ``tile/...`` where it expects them.
Checkpoints, hash tiles and the verifier key are public (roots are on the chain anyway, and leaf
hashes of salted records reveal nothing); entry bundles need an auditor's token like the other
audit routes unless ``CARBON_LOG_ENTRIES_PUBLIC`` opens them.
"""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from backend.api.deps import RuntimeDep, TargetDep, _bearer_value, authenticate
from backend.api.permissions import AUDIT
from backend.domain.errors import PermissionDenied
from backend.domain.identity.access import may
from backend.domain.log import tiles
from backend.domain.log.merkle import MAX_TREE_SIZE
from backend.services.log import tlog

router = APIRouter(tags=["transparency log (C2SP)"])

NOTE_TYPE = "text/plain; charset=utf-8"
TILE_TYPE = "application/octet-stream"
CHECKPOINT_CACHE = "public, max-age=5"
"""The latest checkpoint changes at every anchoring: cached for seconds at most (tlog-tiles)."""
FULL_TILE_CACHE = "public, max-age=31536000, immutable"
"""A full tile never changes."""
PARTIAL_TILE_CACHE = "public, max-age=86400"
"""A partial tile's bytes never change either, but clients move on to the full tile once it exists."""
PRIVATE_BUNDLE_CACHE = "private, no-store"
"""Entry bundles behind an auditor's token: no cache keeps them for the next caller."""
BUNDLE_GZIP_LEVEL = 6
"""zlib's default: most of the gain at a fraction of level 9's time."""


@router.get(
    "/checkpoint",
    summary="Latest anchored checkpoint, a C2SP signed note / 最新检查点（C2SP 签名笔记）",
    response_class=Response,
    responses={200: {"content": {NOTE_TYPE: {}}, "description": "c2sp.org/tlog-checkpoint"}},
)
def latest_checkpoint(runtime: RuntimeDep, target: TargetDep) -> Response:
    published = tlog.latest_note(runtime.db, target, runtime.log_keys)
    return Response(published.note, media_type=NOTE_TYPE, headers={"Cache-Control": CHECKPOINT_CACHE})


@router.get(
    "/audit/v1/checkpoints/{tree_size}/note",
    summary="The checkpoint of an anchored tree size as a C2SP signed note / 指定检查点的签名笔记",
    response_class=Response,
    responses={200: {"content": {NOTE_TYPE: {}}, "description": "c2sp.org/tlog-checkpoint"}},
)
def checkpoint_note(
    runtime: RuntimeDep, target: TargetDep, tree_size: Annotated[int, Path(ge=1, le=MAX_TREE_SIZE)]
) -> Response:
    published = tlog.note_at(runtime.db, target, runtime.log_keys, tree_size)
    # New cosignatures may still arrive for this size: cached briefly, like the latest checkpoint.
    return Response(published.note, media_type=NOTE_TYPE, headers={"Cache-Control": "public, max-age=60"})


@router.get(
    "/log/v1/vkey",
    summary="The log's verifier keys (C2SP signed-note vkeys), newest first / 日志验证公钥",
    response_class=Response,
    responses={200: {"content": {NOTE_TYPE: {}}, "description": "one vkey per line"}},
)
def verifier_keys(runtime: RuntimeDep) -> Response:
    lines = [signer.verifier.vkey for signer in runtime.log_keys.signers()]
    return Response("\n".join(lines) + "\n", media_type=NOTE_TYPE, headers={"Cache-Control": "no-cache"})


@router.get(
    "/tile/{level}/{rest:path}",
    summary="tlog-tiles: a hash tile or an entry bundle / 哈希瓦片或条目包",
    response_class=Response,
    responses={200: {"content": {TILE_TYPE: {}}, "description": "c2sp.org/tlog-tiles"}},
)
async def tile(request: Request, runtime: RuntimeDep, target: TargetDep, level: str, rest: str) -> Response:
    ref = tiles.parse_tile_path(level, rest)
    if ref.level is None:
        if not runtime.settings.log_entries_public:
            await _require_auditor(request, runtime)
        body = await run_in_threadpool(tlog.entry_bundle, runtime.db, target, ref)
    else:
        body = await run_in_threadpool(tlog.hash_tile, runtime.db, target, ref)
    headers = {"Cache-Control": PARTIAL_TILE_CACHE if ref.partial else FULL_TILE_CACHE}
    if ref.level is None:
        headers["Vary"] = "Accept-Encoding"
        if not runtime.settings.log_entries_public:
            headers["Cache-Control"] = PRIVATE_BUNDLE_CACHE
            headers["Vary"] = "Accept-Encoding, Authorization"
        if "gzip" in request.headers.get("accept-encoding", ""):
            # tlog-tiles asks for compressed entry bundles; JSON records shrink about 3×.
            body = await run_in_threadpool(gzip.compress, body, BUNDLE_GZIP_LEVEL, mtime=0)
            headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=TILE_TYPE, headers=headers)


async def _require_auditor(request: Request, runtime: RuntimeDep) -> None:
    """The audit routes' rule, applied by the route itself (the matrix lists the path as public
    because hash tiles under the same path template are)."""
    principal = await authenticate(runtime, _bearer_value(request))
    if not may(principal.role, principal.scopes, AUDIT.roles, AUDIT.scope or ""):
        raise PermissionDenied(
            "entry bundles are for auditors and operators (CARBON_LOG_ENTRIES_PUBLIC opens them)"
        )
