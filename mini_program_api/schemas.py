"""Request and response schemas of the mini-program API, named by role (``…Create``, ``…Public``).

Every activity type has its own schema (a discriminated union on ``type``), generated from its
entry in the activity-type registry (``backend/domain/accounting/activity_types.py``); unknown fields are
rejected so a typo never silently drops a quantity.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from backend.api.text_fields import Name
from backend.api.types import UtcDatetime
from backend.domain.accounting import activity_types
from backend.domain.accounting.activity_types import ActivityType, FieldSpec


class _ActivityBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_at: AwareDatetime = Field(description="When it happened, ISO 8601 with a UTC offset.")
    evidence_ref: Name | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Reference to a photo or document backing the claim (an upload id), for review.",
    )


_KINDS: dict[str, type] = {"decimal": Decimal, "int": int, "text": str}


def _field(spec: FieldSpec) -> tuple[Any, Any]:
    """A registry field as a pydantic field: ``(annotation, FieldInfo)``."""
    annotation: Any = Literal.__getitem__(spec.choices) if spec.kind == "choice" else _KINDS[spec.kind]
    kwargs: dict[str, Any] = dict(spec.constraints())
    if spec.description is not None:
        kwargs["description"] = spec.description
    if spec.required:
        return annotation, Field(**kwargs)
    if spec.default is None:
        return annotation | None, Field(default=None, **kwargs)
    return annotation, Field(default=spec.default, **kwargs)


def request_model(activity_type: ActivityType) -> type[_ActivityBase]:
    """The request schema of one type: the common fields, its family's, ``type``, its own."""
    tag: Any = Literal.__getitem__(activity_type.name)
    type_field = Field(description=activity_type.description) if activity_type.description else Field()
    fields: dict[str, Any] = {spec.name: _field(spec) for spec in activity_type.shape}
    fields["type"] = (tag, type_field)
    fields.update((spec.name, _field(spec)) for spec in activity_type.fields)
    model: type[_ActivityBase] = create_model(
        activity_type.schema_name, __base__=_ActivityBase, __module__=__name__, **fields
    )
    return model


def activity_create(registry: Mapping[str, ActivityType]) -> Any:
    """The request body of ``POST /mp/v1/activities``: a union of every registered type's schema,
    discriminated on ``type``."""
    models = tuple(request_model(t) for t in registry.values())
    return Annotated[Union.__getitem__(models), Field(discriminator="type")]


if TYPE_CHECKING:
    ActivityCreate: TypeAlias = _ActivityBase
else:
    ActivityCreate = activity_create(activity_types.REGISTRY)
    """The request body of ``POST /mp/v1/activities`` (to type checkers: any type's schema)."""
ACTIVITY_TYPES: tuple[str, ...] = tuple(activity_types.REGISTRY)
"""The registry's types (``backend/domain/accounting/activity_types.py``), in the order the API lists them."""


class FactorApplied(BaseModel):
    role: str
    id: str
    value: str
    unit: str
    source: str
    gas_basis: str
    gwp: str
    region: str
    year: int
    status: str
    scope: str | None = None
    derivation: str | None = None


class CalculationPublic(BaseModel):
    baseline: str | None
    inputs: dict[str, str]
    factors: list[FactorApplied]
    formula: str
    rounding: str
    credited: bool
    note: str
    reported_separately: dict[str, int] = Field(
        default_factory=dict,
        description="Grams reported beside, never inside, avoided and Scope 3 (e.g. recycling credit).",
    )
    gas_basis: str = "CO2e"


LEAF_INDEX_NOTE = (
    "Where the record sits in the transparency log; null until the sequencer has logged it "
    "(CARBON_SEQUENCING=queued): GET the activity or its receipt later."
)


class ActivityPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str
    status: str
    occurred_at: UtcDatetime
    recorded_at: UtcDatetime
    quantities: dict[str, Any]
    co2e_avoided_g: int
    co2e_scope3_g: int
    scope3_category: int | None
    points: int
    factor_set: str
    calculation: CalculationPublic
    leaf_index: int | None = Field(description=LEAF_INDEX_NOTE)
    receipt_url: str


class ActivityPage(BaseModel):
    items: list[ActivityPublic]
    total: int
    limit: int
    offset: int


class ReceiptPending(BaseModel):
    status: Literal["pending"] = "pending"
    leaf_index: int | None = Field(description=LEAF_INDEX_NOTE)
    anchored_tree_size: int
    retry_after_s: int
    message: str
    message_zh: str


class ActivityTypePublic(BaseModel):
    type: str
    name_zh: str
    name_en: str


class ActivityTypeList(BaseModel):
    items: list[ActivityTypePublic]


class ChainPublic(BaseModel):
    configured: bool = Field(description="False until the ledger contract is deployed.")
    chain_id: int | None
    contract: str | None = Field(description="The ledger contract whose rootAt(uint64) holds each root.")
    rpc_url: str | None = Field(description="A JSON-RPC URL of the chain a phone can reach.")
