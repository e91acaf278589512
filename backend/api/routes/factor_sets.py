"""Emission factor sets: which is in force, each set with its sources, publication by operators,
and a preview of what a set would change in stored activities."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from backend.api.deps import PrincipalDep, RuntimeDep
from backend.domain.accounting.activities import choose_baseline
from backend.domain.accounting.factors import Factor, FactorSet, Parameter
from backend.domain.log.records import subject_commitment
from backend.services.accounting import factor_recompute, factor_sets
from emission_factors.changelog import diff_sets

router = APIRouter(prefix="/api/v1/factor-sets", tags=["factor sets"])


class FactorSetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factors_csv: str = Field(
        min_length=1, max_length=factor_sets.MAX_FILE_CHARS, description="The set's factors.csv, verbatim."
    )
    methodology_toml: str = Field(
        min_length=1,
        max_length=factor_sets.MAX_FILE_CHARS,
        description="The set's methodology.toml, verbatim (its version names the set).",
    )
    effective_from: AwareDatetime | None = Field(
        default=None, description="Overrides the methodology's effective_from (ISO 8601 with offset)."
    )


class FactorSetPublic(BaseModel):
    version: str
    effective_from: datetime
    description: str
    sha256: str
    default_baseline: str
    baselines: list[str]
    factor_count: int
    origin: str = Field(description="builtin (shipped with the code), api or cli (published by an operator)")
    published_at: datetime | None
    leaf_index: int | None = Field(description="The publication's leaf in the transparency log")
    in_force: bool


class FactorSetList(BaseModel):
    in_force: str | None = Field(description="The version in force now")
    baseline: str = Field(description="The park's avoided-emission baseline (CARBON_BASELINE)")
    items: list[FactorSetPublic]


class FactorSetDetail(FactorSetPublic):
    methodology: dict[str, Any]
    factors: list[dict[str, Any]]
    parameters: list[dict[str, Any]]


def _factor(factor: Factor) -> dict[str, Any]:
    return {
        **factor.public(),
        "activity": factor.activity,
        "publisher": factor.source.publisher,
        "document": factor.source.document,
        "table": factor.source.table,
        "url": factor.source.url,
        "notes": factor.notes,
    }


def _parameter(parameter: Parameter) -> dict[str, Any]:
    return {
        "id": parameter.id,
        "value": str(parameter.value),
        "unit": parameter.unit,
        "description": parameter.description,
        "status": parameter.status,
        "derivation": parameter.derivation,
        "source": parameter.source.cite(),
        "url": parameter.source.url,
    }


def _detail(info: factor_sets.SetInfo, in_force: str | None) -> FactorSetDetail:
    factor_set: FactorSet = info.factor_set
    return FactorSetDetail(
        **info.public(in_force),
        methodology=factor_set.methodology,
        factors=[_factor(f) for f in factor_set.factors.values()],
        parameters=[_parameter(p) for p in factor_set.parameters.values()],
    )


@router.get("", response_model=FactorSetList, summary="Factor sets and which is in force / 排放因子集")
def list_factor_sets(runtime: RuntimeDep, _principal: PrincipalDep) -> FactorSetList:
    infos, in_force = factor_sets.list_sets(runtime.db, datetime.now(UTC))
    current = next((i.factor_set for i in infos if i.factor_set.version == in_force), None)
    baseline = (
        choose_baseline(runtime.settings.baseline, current) if current else (runtime.settings.baseline or "")
    )
    return FactorSetList(
        in_force=in_force,
        baseline=baseline,
        items=[FactorSetPublic(**info.public(in_force)) for info in infos],
    )


@router.get(
    "/{version}", response_model=FactorSetDetail, summary="One factor set with every source / 因子集详情"
)
def get_factor_set(runtime: RuntimeDep, _principal: PrincipalDep, version: str) -> FactorSetDetail:
    info = factor_sets.find(runtime.db, version)
    _, in_force = factor_sets.list_sets(runtime.db, datetime.now(UTC))
    return _detail(info, in_force)


@router.get(
    "/{version}/diff/{other}",
    summary="What changed from one factor set to another / 因子集变更对比",
)
def diff_factor_sets(
    runtime: RuntimeDep, _principal: PrincipalDep, version: str, other: str
) -> dict[str, Any]:
    """Factors added, removed and changed field by field, and the methodology's changes, from
    ``version`` to ``other`` (docs/factor-set-changelog.md shows 2026.1 → 2027.1)."""
    before = factor_sets.find(runtime.db, version).factor_set
    after = factor_sets.find(runtime.db, other).factor_set
    return diff_sets(before, after)


@router.post(
    "",
    status_code=201,
    response_model=FactorSetPublic,
    responses={200: {"model": FactorSetPublic, "description": "This version was already published as is"}},
    summary="Publish a factor set version (operator) / 发布排放因子集",
)
def publish_factor_set(
    runtime: RuntimeDep, principal: PrincipalDep, body: Annotated[FactorSetCreate, Body()], response: Response
) -> FactorSetPublic:
    candidate = factor_sets.parse_upload(body.factors_csv, body.methodology_toml, body.effective_from)
    now = datetime.now(UTC)
    result = factor_sets.publish(
        runtime.db,
        candidate,
        publisher=subject_commitment(runtime.subject_key, principal.subject),
        origin="api",
        now=now,
        park_baseline=runtime.settings.baseline,
    )
    if not result.created:
        response.status_code = 200
    _, in_force = factor_sets.list_sets(runtime.db, now)
    return FactorSetPublic(**result.info.public(in_force))


@router.get(
    "/{version}/recompute",
    summary="Preview a set's effect on stored activities, changing nothing / 试算",
)
def preview_recompute(
    runtime: RuntimeDep,
    _auditor: PrincipalDep,
    version: str,
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
) -> dict[str, Any]:
    candidate = factor_sets.find(runtime.db, version).factor_set
    report = factor_recompute.recompute(
        runtime.db, candidate, baseline=runtime.settings.baseline, since=since, until=until
    )
    return report.public()
