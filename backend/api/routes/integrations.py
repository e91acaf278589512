"""Data-source integrations: operators register sources (each with its own secret); sources
deliver signed batches of records to ``POST /integrations/v1/{source_id}/records``.

The webhook reads the raw body, verifies the HMAC before parsing anything, then validates each
record on its own, so one bad record is reported in the results without refusing the batch.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from backend.api.deps import PrincipalDep, RuntimeDep
from backend.api.schemas_identity import (
    BindingCodeIssued,
    BindingCodeRequest,
    DeliveryResult,
    RecordOutcomePublic,
    SourceCreate,
    SourcePublic,
    SourceUpdate,
    SourceWithSecret,
)
from backend.domain.errors import InvalidInput
from backend.domain.recording.recognition import straight_line_km
from backend.services.identity import binding_codes
from backend.services.integrations import integrations
from mini_program_api.schemas import ACTIVITY_TYPES, ActivityCreate

admin_router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])
webhook_router = APIRouter(prefix="/integrations/v1", tags=["integrations"])

_activity = TypeAdapter(ActivityCreate)
MAX_CODE_REQUEST_BYTES = 4_096


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Envelope(BaseModel):
    """What a record carries besides the activity itself; coordinates are used for the route
    check and then dropped (a person's start and end points are never stored)."""

    model_config = ConfigDict(extra="allow")
    record_id: str = Field(min_length=1, max_length=128)
    account: str = Field(min_length=1, max_length=128, description="The card or account id the source knows.")
    start: Point | None = None
    end: Point | None = None


@admin_router.get("/sources", response_model=list[SourcePublic], summary="Registered data sources")
def list_sources(runtime: RuntimeDep, _operator: PrincipalDep) -> list[SourcePublic]:
    return [SourcePublic.model_validate(s) for s in integrations.list_sources(runtime.db)]


@admin_router.post("/sources", status_code=201, response_model=SourceWithSecret, summary="Register a source")
def register_source(runtime: RuntimeDep, _operator: PrincipalDep, body: SourceCreate) -> SourceWithSecret:
    row, secret = integrations.register_source(
        runtime.db,
        body.id,
        body.name,
        body.kind,
        body.activity_types,
        body.max_records_per_min,
        datetime.now(UTC),
    )
    return SourceWithSecret(**SourcePublic.model_validate(row).model_dump(), secret=secret)


@admin_router.post(
    "/sources/{source_id}/rotate-secret",
    response_model=SourceWithSecret,
    summary="New secret; the old one verifies for 24 h more",
)
def rotate_secret(runtime: RuntimeDep, _operator: PrincipalDep, source_id: str) -> SourceWithSecret:
    row, secret = integrations.rotate_secret(runtime.db, source_id, datetime.now(UTC))
    return SourceWithSecret(**SourcePublic.model_validate(row).model_dump(), secret=secret)


@admin_router.patch("/sources/{source_id}", response_model=SourcePublic, summary="Enable or disable a source")
def update_source(
    runtime: RuntimeDep, _operator: PrincipalDep, source_id: str, body: SourceUpdate
) -> SourcePublic:
    return SourcePublic.model_validate(
        integrations.set_source_enabled(runtime.db, source_id, body.enabled, datetime.now(UTC))
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ACTIVITY_TYPES:  # the discriminator's tag, not a field
        parts = parts[1:]
    return ".".join(parts) or "record"


async def raw_body(request: Request) -> bytes:
    """The exact bytes that were signed (parsing first would lose them)."""
    return await request.body()


def _parse_record(index: int, raw: Any) -> integrations.IncomingRecord:
    if not isinstance(raw, dict):
        return integrations.IncomingRecord(
            f"#{index}", None, None, None, {}, "record_id", "each record is an object"
        )
    if not isinstance(raw.get("record_id"), str) or not 1 <= len(raw["record_id"]) <= 128:
        reason = "each record needs its source's record_id (1–128 characters)"
        return integrations.IncomingRecord(f"#{index}", None, None, None, raw, "record_id", reason)
    record_id = raw["record_id"]
    try:
        envelope = Envelope.model_validate(raw)
        activity = _activity.validate_python({k: v for k, v in raw.items() if k not in Envelope.model_fields})
    except ValidationError as exc:
        error = exc.errors()[0]
        return integrations.IncomingRecord(
            record_id, None, None, None, raw, _field(tuple(error["loc"])), error["msg"]
        )
    payload = activity.model_dump(mode="json", exclude_none=True)
    straight_km = None
    if envelope.start and envelope.end:
        straight_km = straight_line_km(
            (envelope.start.lat, envelope.start.lon), (envelope.end.lat, envelope.end.lon)
        )
    return integrations.IncomingRecord(
        envelope.record_id, envelope.account, payload, activity.occurred_at, raw, straight_km=straight_km
    )


@webhook_router.post(
    "/{source_id}/records",
    response_model=DeliveryResult,
    summary="Signed delivery of records from a trusted source / 数据源推送",
    description=(
        "Headers: `X-Carbon-Timestamp` (Unix seconds) and `X-Carbon-Signature: v1=<hex>` where hex is "
        "HMAC-SHA256(secret, timestamp + '.' + raw body). Body: `{\"records\": [...]}` (at most "
        f"{integrations.MAX_BATCH_RECORDS}); each record is an activity (as in POST /mp/v1/activities) plus "
        "`record_id`, `account` and optional `start`/`end` coordinates."
    ),
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True}
    },
)
def deliver(
    runtime: RuntimeDep,
    body: Annotated[bytes, Depends(raw_body)],
    source_id: str,
    timestamp: Annotated[str | None, Header(alias="X-Carbon-Timestamp")] = None,
    signature: Annotated[str | None, Header(alias="X-Carbon-Signature")] = None,
) -> DeliveryResult:
    now = datetime.now(UTC)
    tolerance = runtime.settings.webhook_tolerance_s
    source, match = integrations.verify_delivery(
        runtime.db,
        source_id,
        timestamp,
        signature,
        body,
        tolerance,
        now,
        max_bytes=integrations.MAX_BODY_BYTES,
    )
    try:
        document = json.loads(body)
    except ValueError:
        raise InvalidInput("body", "must be JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("records"), list):
        raise InvalidInput("records", "the body must be an object with a list of records")
    records = [_parse_record(i, raw) for i, raw in enumerate(document["records"])]
    outcomes = integrations.deliver(runtime.db, source, match, records, runtime.issuance, tolerance, now)
    return DeliveryResult(
        source=source.id,
        received=len(records),
        results=[RecordOutcomePublic(**vars(o)) for o in outcomes],
    )


@webhook_router.post(
    "/{source_id}/binding-codes",
    status_code=201,
    response_model=BindingCodeIssued,
    summary="A one-time binding code for one of the source's accounts / 绑定码",
    description=(
        "Signed like deliveries (`X-Carbon-Timestamp`, `X-Carbon-Signature: v1=<hex>` over "
        'timestamp + \'.\' + raw body). Body: `{"account": "<card or account id>"}`. The source '
        "passes the code to the account's holder through its own channel; the employee enters it on "
        "`POST /mp/v1/bindings`. Single use, valid "
        f"{int(binding_codes.CODE_TTL.total_seconds() // 60)} minutes."
    ),
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": BindingCodeRequest.model_json_schema()}},
            "required": True,
        }
    },
)
def issue_binding_code(
    runtime: RuntimeDep,
    body: Annotated[bytes, Depends(raw_body)],
    source_id: str,
    timestamp: Annotated[str | None, Header(alias="X-Carbon-Timestamp")] = None,
    signature: Annotated[str | None, Header(alias="X-Carbon-Signature")] = None,
) -> BindingCodeIssued:
    now = datetime.now(UTC)
    tolerance = runtime.settings.webhook_tolerance_s
    source, match = integrations.verify_delivery(
        runtime.db, source_id, timestamp, signature, body, tolerance, now, max_bytes=MAX_CODE_REQUEST_BYTES
    )
    try:
        request = BindingCodeRequest.model_validate_json(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise InvalidInput(_field(tuple(error["loc"])) if error["loc"] else "body", error["msg"]) from None
    issued = integrations.issue_binding_code(
        runtime.db, source, match, request.account, runtime.subject_key, tolerance, now
    )
    return BindingCodeIssued(code=issued.code, kind=issued.kind, expires_at=issued.expires_at)
