"""The witness's HTTP interface (c2sp.org/tlog-witness): ``POST /add-checkpoint`` and the
monitoring read ``GET /<sha256(origin) hex>/checkpoint``. A small app of its own, not the ledger's
API: a witness is run by another party, on another machine, with its own key and state."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from backend.domain.log import witness as protocol
from backend.services.log.witness import Witness

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def create_witness_app(witness: Witness) -> FastAPI:
    app = FastAPI(title="Carbon Ledger witness", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > protocol.MAX_REQUEST_BYTES:
            return Response(b"request too large\n", status_code=400, media_type="text/plain")
        body = await request.body()
        if len(body) > protocol.MAX_REQUEST_BYTES:
            return Response(b"request too large\n", status_code=400, media_type="text/plain")
        answer = await run_in_threadpool(witness.add_checkpoint, body)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    @app.get("/{origin_hash}/checkpoint")
    def checkpoint(origin_hash: str) -> Response:
        note = witness.checkpoint_for(origin_hash) if _HEX64.match(origin_hash) else None
        if note is None:
            return Response(
                b"no checkpoint cosigned for this log\n", status_code=404, media_type="text/plain"
            )
        return Response(note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache"})

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        return {
            "status": "ok",
            "name": witness.name,
            "vkey": witness.signer.verifier.vkey,
            "logs": sorted(witness.logs),
        }

    return app
