"""Request and response schemas of the mini-program API, named by role (``…Create``, ``…Public``).

Every activity type has its own schema (a discriminated union on ``type``); unknown fields are
rejected so a typo never silently drops a quantity.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from backend.api.text_fields import Name
from backend.api.types import UtcDatetime
from backend.domain import activities

MAX_DISTANCE_KM = Decimal(20_000)
"""Upper bound of any single trip's distance (a long-haul flight); modes have tighter bands."""
MAX_DISTANCE_ANY_UNIT = Decimal(20_000_000)
"""The same bound written in metres, the smallest distance unit accepted."""
MAX_WEIGHT_ANY_UNIT = Decimal(1_000_000)
"""1 t written in grams; the methodology's per-material bounds are tighter."""
MAX_KWH = Decimal(10_000_000)
"""10 MWh written in Wh; the methodology's per-record bound is tighter."""
MAX_DURATION_MIN = Decimal(24 * 60)
"""One record is one trip: at most a day."""
MAX_COUNT = 1000
"""Items, meals or occupants in one record: the methodology's bounds are far tighter."""

DistanceUnit = Literal["km", "m", "mi"]
WeightUnit = Literal["kg", "g", "t"]
DurationUnit = Literal["min", "h", "s"]
EnergyUnit = Literal["Wh", "kWh", "MWh"]
REGION_PATTERN = r"^[a-z][a-z_]{1,31}$"


def _amount(limit: Decimal, description: str) -> Any:
    return Field(default=None, gt=0, le=limit, max_digits=16, decimal_places=6, description=description)


class _ActivityBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_at: AwareDatetime = Field(description="When it happened, ISO 8601 with a UTC offset.")
    evidence_ref: Name | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Reference to a photo or document backing the claim (an upload id), for review.",
    )


class _Trip(_ActivityBase):
    """A distance either as ``distance_km`` or as ``distance`` + ``distance_unit`` (exactly one)."""

    distance_km: Decimal | None = Field(
        default=None,
        gt=0,
        le=MAX_DISTANCE_KM,
        max_digits=9,
        decimal_places=3,
        description="Trip distance in km (up to 3 decimals). Required unless distance + distance_unit.",
    )
    distance: Decimal | None = _amount(MAX_DISTANCE_ANY_UNIT, "Trip distance in distance_unit.")
    distance_unit: DistanceUnit | None = Field(default=None, description="km, m or mi (international mile).")
    duration_min: Decimal | None = Field(
        default=None, gt=0, le=MAX_DURATION_MIN, max_digits=7, decimal_places=2, description="Trip duration."
    )
    duration: Decimal | None = _amount(MAX_DURATION_MIN * 60, "Trip duration in duration_unit.")
    duration_unit: DurationUnit | None = None
    source_record_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="The trip's id at its source platform."
    )


class _Commute(_Trip):
    purpose: Literal["commute", "business"] = Field(
        default="commute", description="commute → Scope 3 category 7; business → category 6."
    )


class MetroTrip(_Commute):
    type: Literal["metro"]


class BusTrip(_Commute):
    type: Literal["bus"] = Field(description="Diesel (or unknown) bus.")


class ElectricBusTrip(_Commute):
    type: Literal["bus_electric"]


class RailTrip(_Commute):
    type: Literal["rail"] = Field(description="Rail and high-speed rail.")


class WalkTrip(_Commute):
    type: Literal["walk"]


class BikeTrip(_Commute):
    type: Literal["bike"]


class SharedBikeTrip(_Commute):
    type: Literal["bike_shared"]


class _GridTrip(_Commute):
    region: str | None = Field(
        default=None,
        pattern=REGION_PATTERN,
        description="Grid region of the charging (national, north, east, south, …); default national.",
    )


class EbikeTrip(_GridTrip):
    type: Literal["ebike"]


VehicleOwner = Annotated[
    Literal["personal", "company"] | None,
    Field(
        description="Whose vehicle (park-default-2027.1 on): company-owned trips are the company's Scope 1 "
        "(fuel) or Scope 2 (electricity), kept out of Scope 3. Default personal. / 车辆归属：企业自有车辆"
        "计入范围一/二，不计入范围三。"
    ),
]


class EvTrip(_GridTrip):
    type: Literal["ev"] = Field(description="Battery-electric car, driven solo.")
    vehicle_owner: VehicleOwner = None


class TaxiTrip(_Commute):
    type: Literal["taxi"] = Field(description="Taxi or ride-hailing.")
    occupants: int | None = Field(
        default=None,
        ge=1,
        le=MAX_COUNT,
        description="Passengers sharing the ride; from park-default-2027.1 the default is 1 (the employee "
        "alone) and the per-vehicle factor is divided by it.",
    )


class CarpoolTrip(_Commute):
    type: Literal["carpool"]
    occupants: int = Field(ge=2, le=MAX_COUNT, description="People in the car, driver included.")
    fuel: Literal["petrol", "diesel", "hybrid", "phev"] = "petrol"
    vehicle_owner: VehicleOwner = None


class FlightTrip(_Trip):
    type: Literal["flight"] = Field(description="Business flight (Scope 3 category 6 only).")
    purpose: Literal["business"] = "business"


class _Weighed(_ActivityBase):
    weight_kg: Decimal | None = Field(
        default=None,
        gt=0,
        le=MAX_WEIGHT_ANY_UNIT,
        max_digits=12,
        decimal_places=6,
        description="Weight in kg.",
    )
    weight: Decimal | None = _amount(MAX_WEIGHT_ANY_UNIT, "Weight in weight_unit.")
    weight_unit: WeightUnit | None = None


class RecyclingCreate(_Weighed):
    type: Literal["recycling"]
    material: Literal["paper", "plastic", "pet", "glass", "metal", "aluminium", "electronics", "textile"]
    scope: Literal["office", "home"] | None = Field(
        default=None,
        description="office waste is the company's (Scope 3 category 5); home waste is not. Default: "
        "home from park-default-2027.1 (only waste the employee says is the office's enters the "
        "employer's inventory), office under park-default-2026.1. / 默认家庭废弃物（2027.1 起）。",
    )
    region: str | None = Field(
        default=None,
        pattern=REGION_PATTERN,
        description="Province or region whose waste treatment mix is the counterfactual (default national).",
    )


class SecondHandCreate(_Weighed):
    type: Literal["second_hand"]
    item: Literal["book", "clothing", "electronics", "furniture", "toy", "household", "other"]


class NoDisposablesCreate(_ActivityBase):
    type: Literal["no_disposables"]
    item: Literal["cup", "cutlery", "bag"]
    count: int = Field(ge=1, le=MAX_COUNT)


class CleanPlateCreate(_ActivityBase):
    type: Literal["clean_plate"] = Field(description="光盘行动: a meal finished without waste.")
    meals: int = Field(ge=1, le=MAX_COUNT)


class EnergySavingCreate(_ActivityBase):
    type: Literal["energy_saving"]
    kwh: Decimal | None = Field(
        default=None, gt=0, le=MAX_KWH, max_digits=14, decimal_places=6, description="Metered kWh saved."
    )
    energy: Decimal | None = _amount(MAX_KWH * 1000, "Energy saved in energy_unit.")
    energy_unit: EnergyUnit | None = None
    scope: Literal["office", "home"] = "office"
    region: str | None = Field(
        default=None, pattern=REGION_PATTERN, description="Grid region; default national."
    )


ActivityCreate = Annotated[
    MetroTrip
    | BusTrip
    | ElectricBusTrip
    | RailTrip
    | WalkTrip
    | BikeTrip
    | SharedBikeTrip
    | EbikeTrip
    | EvTrip
    | TaxiTrip
    | CarpoolTrip
    | FlightTrip
    | RecyclingCreate
    | SecondHandCreate
    | NoDisposablesCreate
    | CleanPlateCreate
    | EnergySavingCreate,
    Field(discriminator="type"),
]
ACTIVITY_TYPES: tuple[str, ...] = activities.ACTIVITY_TYPES
"""The registry's types (``backend/domain/activities.py``); the request models above must match it."""


def _request_tags() -> set[str]:
    union = get_args(get_args(ActivityCreate)[0])
    return {tag for model in union for tag in get_args(model.model_fields["type"].annotation)}


_mismatch = sorted(_request_tags() ^ set(ACTIVITY_TYPES))
if _mismatch:
    raise RuntimeError(f"ActivityCreate and the activity-type registry disagree on: {', '.join(_mismatch)}")


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
