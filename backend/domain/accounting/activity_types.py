"""The activity-type registry: every fact about each activity type of the public API, in one place.

One :class:`ActivityType` per type — its names in Chinese and English, the request fields and
their bounds, the calculators its methodology may pick, the Scope 3 categories its figure may fall
in, its recognition band and mode family, the options a factor set must cover, and how the demo
park uses it. Everything else derives from :data:`REGISTRY`: the request schemas
(``mini_program_api/schemas.py``), the names (:mod:`backend.domain.accounting.activity_names`), the default
recognition bands (:mod:`backend.domain.recording.recognition`), calculator dispatch
(:func:`backend.domain.accounting.activities.normalize`), the factor-set validator, the demo park and
``docs/activity-types.md`` (``python -m backend.domain.accounting.activity_types > docs/activity-types.md``).

Adding a type is one entry here plus its methodology and factors in each set under
``emission_factors/`` (docs/architecture.md, "Adding an activity type").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

from backend.domain.accounting import consumption, travel
from backend.domain.accounting.calculation import (
    SCOPE3_BUSINESS_TRAVEL,
    SCOPE3_COMMUTING,
    SCOPE3_WASTE,
    Calculation,
    Quantities,
)
from backend.domain.accounting.factors import FactorSet

Calculator = Callable[[str, Quantities, FactorSet, str], Calculation]
"""``(activity_type, quantities, factor_set, park_baseline) → Calculation``."""


# --- request fields ---------------------------------------------------------------------------------

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
REGION_PATTERN = r"^[a-z][a-z_]{1,31}$"


@dataclass(frozen=True)
class FieldSpec:
    """One request field of an activity type, as the HTTP schema states it.

    ``kind``: ``decimal`` (a JSON number or numeric string), ``int``, ``choice`` (one of
    ``choices``) or ``text``. A field is required when ``required``; otherwise it defaults to
    ``default`` (absent, ``null``, when that is ``None``).
    """

    name: str
    kind: Literal["decimal", "int", "choice", "text"]
    required: bool = False
    default: str | None = None
    choices: tuple[str, ...] = ()
    gt: int | None = None
    ge: int | None = None
    le: Decimal | int | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    description: str | None = None
    label: tuple[str, str] | None = None
    """(Chinese, English) label of the field on the phone page's form, when the form asks for it."""

    def __post_init__(self) -> None:
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"field {self.name}: choices belong to, and only to, a choice field")
        if self.default is not None and (
            self.required or self.kind != "choice" or self.default not in self.choices
        ):
            raise ValueError(f"field {self.name}: a default must be one of an optional choice's values")

    def constraints(self) -> dict[str, object]:
        """The bounds that are set, by name (``gt``, ``le``, ``max_digits``, ``pattern``…)."""
        names = ("gt", "ge", "le", "max_digits", "decimal_places", "min_length", "max_length", "pattern")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


def _amount(name: str, limit: Decimal, description: str) -> FieldSpec:
    """A quantity in a unit the request names beside it (``distance`` + ``distance_unit``)."""
    return FieldSpec(
        name, "decimal", gt=0, le=limit, max_digits=16, decimal_places=6, description=description
    )


def _choice(
    name: str, *choices: str, default: str | None = None, description: str | None = None
) -> FieldSpec:
    return FieldSpec(name, "choice", choices=choices, default=default, description=description)


def _required_choice(name: str, *choices: str, label: tuple[str, str] | None = None) -> FieldSpec:
    return FieldSpec(name, "choice", required=True, choices=choices, label=label)


def _region(description: str) -> FieldSpec:
    return FieldSpec("region", "text", pattern=REGION_PATTERN, description=description)


TRIP: tuple[FieldSpec, ...] = (
    FieldSpec(
        "distance_km",
        "decimal",
        gt=0,
        le=MAX_DISTANCE_KM,
        max_digits=9,
        decimal_places=3,
        description="Trip distance in km (up to 3 decimals). Required unless distance + distance_unit.",
        label=("距离（公里）", "Distance (km)"),
    ),
    _amount("distance", MAX_DISTANCE_ANY_UNIT, "Trip distance in distance_unit."),
    _choice("distance_unit", "km", "m", "mi", description="km, m or mi (international mile)."),
    FieldSpec(
        "duration_min",
        "decimal",
        gt=0,
        le=MAX_DURATION_MIN,
        max_digits=7,
        decimal_places=2,
        description="Trip duration.",
    ),
    _amount("duration", MAX_DURATION_MIN * 60, "Trip duration in duration_unit."),
    _choice("duration_unit", "min", "h", "s"),
    FieldSpec(
        "source_record_id",
        "text",
        min_length=1,
        max_length=128,
        description="The trip's id at its source platform.",
    ),
)
"""A trip: a distance either as ``distance_km`` or as ``distance`` + ``distance_unit`` (exactly one)."""

COMMUTE: tuple[FieldSpec, ...] = (
    *TRIP,
    _choice(
        "purpose",
        "commute",
        "business",
        default="commute",
        description="commute → Scope 3 category 7; business → category 6.",
    ),
)
"""A trip that is a commute (Scope 3 category 7) or business travel (category 6)."""

GRID_TRIP: tuple[FieldSpec, ...] = (
    *COMMUTE,
    _region("Grid region of the charging (national, north, east, south, …); default national."),
)
"""A trip on electricity charged from the grid of ``region``."""

WEIGHED: tuple[FieldSpec, ...] = (
    FieldSpec(
        "weight_kg",
        "decimal",
        gt=0,
        le=MAX_WEIGHT_ANY_UNIT,
        max_digits=12,
        decimal_places=6,
        description="Weight in kg.",
        label=("重量（千克）", "Weight (kg)"),
    ),
    _amount("weight", MAX_WEIGHT_ANY_UNIT, "Weight in weight_unit."),
    _choice("weight_unit", "kg", "g", "t"),
)
"""Something weighed: ``weight_kg``, or ``weight`` + ``weight_unit``."""

VEHICLE_OWNER = _choice(
    "vehicle_owner",
    "personal",
    "company",
    description="Whose vehicle (park-default-2027.1 on): company-owned trips are the company's Scope 1 "
    "(fuel) or Scope 2 (electricity), kept out of Scope 3. Default personal. / 车辆归属：企业自有车辆"
    "计入范围一/二，不计入范围三。",
)


# --- recognition -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModeBand:
    """Plausible average speeds (km/h) and distances (km) of one travel mode.

    Above ``max_kmh`` or ``max_km`` the trip is physically implausible for the mode and rejected;
    between ``review_kmh`` and ``max_kmh`` (or below ``min_kmh``, or a self-report longer than
    ``review_km``) it goes to review rather than being credited automatically.
    """

    min_kmh: Decimal
    review_kmh: Decimal
    max_kmh: Decimal
    review_km: Decimal
    max_km: Decimal

    def __post_init__(self) -> None:
        if not (0 <= self.min_kmh <= self.review_kmh <= self.max_kmh and 0 < self.review_km <= self.max_km):
            raise ValueError(f"inconsistent mode band {self}")


def band(min_kmh: int, review_kmh: int, max_kmh: int, review_km: int, max_km: int) -> ModeBand:
    return ModeBand(
        Decimal(min_kmh), Decimal(review_kmh), Decimal(max_kmh), Decimal(review_km), Decimal(max_km)
    )


# --- the demo park ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoCommute:
    """How the demo park's employees commute by this mode."""

    share: float
    """Share of employees whose commute it is (the shares of all modes add up to 1)."""
    km: tuple[float, float]
    """One-way distance range."""
    speed_kmh: float
    """Typical door-to-door speed."""
    active: bool = False
    """An active mode people leave for the metro or the bus on a cold, or a rainy, day."""
    counts: tuple[tuple[str, int, int], ...] = ()
    """Whole-number request fields a trip carries, each drawn uniformly from (field, low, high)."""


# --- the registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityType:
    name: str
    """The API's ``type`` value."""
    name_zh: str
    name_en: str
    schema_name: str
    """The request schema's name in the OpenAPI document (``MetroTrip``…)."""
    calculators: Mapping[str, Calculator]
    """The calculators a factor set's methodology may pick for it, by ``kind``."""
    scope3_categories: tuple[int, ...]
    """The GHG Protocol Scope 3 categories its Scope 3 figure may fall in (none: never Scope 3)."""
    shape: tuple[FieldSpec, ...] = ()
    """Request fields it shares with its family (a trip's distance…), after ``occurred_at`` and
    ``evidence_ref``, which every type has."""
    fields: tuple[FieldSpec, ...] = ()
    """Its own request fields, after ``type``."""
    description: str | None = None
    """What the ``type`` value means, when the name alone does not say."""
    band: ModeBand | None = None
    """Default recognition band (a trip's plausible speeds and distances); None: not a trip."""
    family: str | None = None
    """The mode family one physical trip may be reported under by different sources (a manual
    "bike" and a shared-bike order are the same ride); None: not a trip."""
    promised_options: tuple[str, frozenset[str]] | None = None
    """A methodology option table every factor set must cover (``materials`` of recycling…)."""
    demo: DemoCommute | None = None
    """How the demo park commutes by it; None: not a commute (the demo's daily habits, the canteen,
    recycling and business trips, produce the other types)."""
    since: datetime | None = None
    """The instant from which every factor set must compute it: the ``effective_from`` of the first
    set that does. Earlier sets predate the type (they are pinned and never edited), and an activity
    of it occurring while one of them is in force is refused as not supported. None: every set."""

    def __post_init__(self) -> None:
        if not self.calculators:
            raise ValueError(f"{self.name}: names no calculator")
        if (self.band is None) != (self.family is None):
            raise ValueError(f"{self.name}: a trip has both a recognition band and a mode family")
        if not (self.name_zh and self.name_en and self.name_zh != self.name_en):
            raise ValueError(f"{self.name}: needs its two names")

    def required_by(self, effective_from: datetime) -> bool:
        """Whether a factor set in force from ``effective_from`` must compute this type."""
        return self.since is None or effective_from >= self.since

    @property
    def request_fields(self) -> tuple[FieldSpec, ...]:
        return self.shape + self.fields

    @property
    def form_fields(self) -> tuple[FieldSpec, ...]:
        """The fields the phone page's form asks for: the labelled ones, in request order."""
        return tuple(spec for spec in self.request_fields if spec.label is not None)


_TRAVEL: Mapping[str, Calculator] = MappingProxyType(
    {"distance": travel.distance_trip, "electric_distance": travel.electric_trip}
)
_DISTANCE: Mapping[str, Calculator] = MappingProxyType({"distance": travel.distance_trip})
_TRIP_SCOPE3 = (SCOPE3_COMMUTING, SCOPE3_BUSINESS_TRAVEL)

ACTIVITY_TYPE_LIST: tuple[ActivityType, ...] = (
    ActivityType(
        "metro",
        "地铁",
        "Metro",
        "MetroTrip",
        _TRAVEL,
        _TRIP_SCOPE3,
        shape=COMMUTE,
        # Urban metro averages 30–40 km/h with stops; airport express lines reach ~120 km/h average.
        band=band(5, 130, 170, 60, 200),
        family="transit",
        demo=DemoCommute(0.30, (5, 24), 28),
    ),
    ActivityType(
        "bus",
        "公交车",
        "Bus",
        "BusTrip",
        _TRAVEL,
        _TRIP_SCOPE3,
        shape=COMMUTE,
        description="Diesel (or unknown) bus.",
        band=band(3, 60, 100, 60, 200),
        family="transit",
        demo=DemoCommute(0.10, (3, 14), 16),
    ),
    ActivityType(
        "bus_electric",
        "电动公交",
        "Electric bus",
        "ElectricBusTrip",
        _TRAVEL,
        _TRIP_SCOPE3,
        shape=COMMUTE,
        band=band(3, 60, 100, 60, 200),
        family="transit",
        demo=DemoCommute(0.10, (3, 14), 16),
    ),
    ActivityType(
        "rail",
        "火车/高铁",
        "Rail",
        "RailTrip",
        _TRAVEL,
        _TRIP_SCOPE3,
        shape=COMMUTE,
        description="Rail and high-speed rail.",
        # High-speed rail runs at up to 350 km/h.
        band=band(10, 320, 380, 600, 2500),
        family="rail",
        demo=DemoCommute(0.03, (25, 55), 55),
    ),
    ActivityType(
        "walk",
        "步行",
        "Walking",
        "WalkTrip",
        _TRAVEL,
        _TRIP_SCOPE3,
        shape=COMMUTE,
        # Walking is about 5 km/h; brisk walking and jogging reach 7–12; nobody walks 40 km/h.
        band=band(1, 8, 12, 10, 42),
        family="walk",
        demo=DemoCommute(0.06, (0.6, 2.8), 4.8, active=True),
    ),
    ActivityType(
        "bike",
        "自行车",
        "Bicycle",
        "BikeTrip",
        _TRAVEL,
        _TRIP_SCOPE3,
        shape=COMMUTE,
        # Commuter cycling averages 15–20 km/h; sustained 45 km/h is a racing cyclist or a motor.
        band=band(3, 30, 45, 30, 150),
        family="cycle",
        demo=DemoCommute(0.08, (1.5, 8), 15, active=True),
    ),
    ActivityType(
        "bike_shared",
        "共享单车",
        "Shared bike",
        "SharedBikeTrip",
        _TRAVEL,
        _TRIP_SCOPE3,
        shape=COMMUTE,
        band=band(3, 25, 40, 20, 80),
        family="cycle",
        demo=DemoCommute(0.07, (1, 4.5), 12, active=True),
    ),
    ActivityType(
        "ebike",
        "电动自行车",
        "E-bike",
        "EbikeTrip",
        _TRAVEL,
        _TRIP_SCOPE3,
        shape=GRID_TRIP,
        # GB 17761-2018 caps e-bikes at 25 km/h by design; 50 km/h average means a motorcycle.
        band=band(3, 32, 50, 40, 120),
        family="cycle",
        demo=DemoCommute(0.12, (3, 12), 20, active=True),
    ),
    ActivityType(
        "ev",
        "电动汽车",
        "Electric car",
        "EvTrip",
        _TRAVEL,
        _TRIP_SCOPE3,
        shape=GRID_TRIP,
        fields=(VEHICLE_OWNER,),
        description="Battery-electric car, driven solo.",
        band=band(3, 110, 150, 200, 1000),
        family="car",
        demo=DemoCommute(0.08, (6, 28), 32),
    ),
    ActivityType(
        "taxi",
        "出租车/网约车",
        "Taxi / ride-hailing",
        "TaxiTrip",
        _TRAVEL,
        _TRIP_SCOPE3,
        shape=COMMUTE,
        fields=(
            FieldSpec(
                "occupants",
                "int",
                ge=1,
                le=MAX_COUNT,
                description="Passengers sharing the ride; from park-default-2027.1 the default is 1 (the "
                "employee alone) and the per-vehicle factor is divided by it.",
            ),
        ),
        description="Taxi or ride-hailing.",
        band=band(3, 110, 150, 100, 500),
        family="car",
    ),
    ActivityType(
        "carpool",
        "拼车",
        "Carpool",
        "CarpoolTrip",
        _DISTANCE,
        _TRIP_SCOPE3,
        shape=COMMUTE,
        fields=(
            FieldSpec(
                "occupants",
                "int",
                required=True,
                ge=2,
                le=MAX_COUNT,
                description="People in the car, driver included.",
                label=("同车人数（含司机）", "People in the car"),
            ),
            _choice("fuel", "petrol", "diesel", "hybrid", "phev", default="petrol"),
            VEHICLE_OWNER,
        ),
        band=band(3, 110, 150, 200, 1000),
        family="car",
        demo=DemoCommute(0.06, (6, 28), 30, counts=(("occupants", 2, 4),)),
    ),
    ActivityType(
        "flight",
        "商务航班",
        "Business flight",
        "FlightTrip",
        MappingProxyType({"flight": travel.flight}),
        (SCOPE3_BUSINESS_TRAVEL,),
        shape=TRIP,
        fields=(_choice("purpose", "business", default="business"),),
        description="Business flight (Scope 3 category 6 only).",
        # Jet cruise is ~850–950 km/h; door-to-door averages are far lower.
        band=band(100, 950, 1100, 20_000, 20_000),
        family="flight",
    ),
    ActivityType(
        "recycling",
        "垃圾分类回收",
        "Recycling",
        "RecyclingCreate",
        MappingProxyType({"recycling": consumption.recycling}),
        (SCOPE3_WASTE,),
        shape=WEIGHED,
        fields=(
            _required_choice(
                "material",
                "paper",
                "plastic",
                "pet",
                "glass",
                "metal",
                "aluminium",
                "electronics",
                "textile",
                label=("材料", "Material"),
            ),
            _choice(
                "scope",
                "office",
                "home",
                description="office waste is the company's (Scope 3 category 5); home waste is not. Default: "
                "home from park-default-2027.1 (only waste the employee says is the office's enters the "
                "employer's inventory), office under park-default-2026.1. / 默认家庭废弃物（2027.1 起）。",
            ),
            _region("Province or region whose waste treatment mix is the counterfactual (default national)."),
        ),
        promised_options=(
            "materials",
            frozenset({"paper", "plastic", "glass", "metal", "electronics", "textile"}),
        ),
    ),
    ActivityType(
        "second_hand",
        "二手再用",
        "Second-hand reuse",
        "SecondHandCreate",
        MappingProxyType({"reuse": consumption.reuse}),
        (),
        shape=WEIGHED,
        fields=(
            _required_choice(
                "item",
                "book",
                "clothing",
                "electronics",
                "furniture",
                "toy",
                "household",
                "other",
                label=("物品", "Item"),
            ),
        ),
    ),
    ActivityType(
        "no_disposables",
        "不用一次性用品",
        "No disposables",
        "NoDisposablesCreate",
        MappingProxyType({"per_item": consumption.per_item}),
        (),
        fields=(
            _required_choice("item", "cup", "cutlery", "bag", label=("物品", "Item")),
            FieldSpec("count", "int", required=True, ge=1, le=MAX_COUNT, label=("次数", "Count")),
        ),
        promised_options=("items", frozenset({"cup", "cutlery", "bag"})),
    ),
    ActivityType(
        "clean_plate",
        "光盘行动",
        "Clean plate",
        "CleanPlateCreate",
        MappingProxyType({"per_meal": consumption.per_meal}),
        (),
        fields=(FieldSpec("meals", "int", required=True, ge=1, le=MAX_COUNT, label=("餐数", "Meals")),),
        description="光盘行动: a meal finished without waste.",
    ),
    ActivityType(
        "energy_saving",
        "节约用电",
        "Energy saving",
        "EnergySavingCreate",
        MappingProxyType({"energy": consumption.energy}),
        (),
        fields=(
            FieldSpec(
                "kwh",
                "decimal",
                gt=0,
                le=MAX_KWH,
                max_digits=14,
                decimal_places=6,
                description="Metered kWh saved.",
                label=("节约电量（千瓦时）", "Saved (kWh)"),
            ),
            _amount("energy", MAX_KWH * 1000, "Energy saved in energy_unit."),
            _choice("energy_unit", "Wh", "kWh", "MWh"),
            _choice("scope", "office", "home", default="office"),
            _region("Grid region; default national."),
        ),
    ),
)
"""Every activity type of the public API, in the order the API lists them."""


def registry_of(types: tuple[ActivityType, ...]) -> Mapping[str, ActivityType]:
    """The types by name, checked: names unique, and one calculator per kind name."""
    by_name: dict[str, ActivityType] = {}
    calculators: dict[str, Calculator] = {}
    for activity_type in types:
        if activity_type.name in by_name:
            raise ValueError(f"activity type {activity_type.name!r} is registered twice")
        by_name[activity_type.name] = activity_type
        for kind, calculator in activity_type.calculators.items():
            if calculators.setdefault(kind, calculator) is not calculator:
                raise ValueError(f"calculator kind {kind!r} names two functions")
    return MappingProxyType(by_name)


REGISTRY: Mapping[str, ActivityType] = registry_of(ACTIVITY_TYPE_LIST)
"""The registry: type name → :class:`ActivityType`."""


def calculators_of(registry: Mapping[str, ActivityType]) -> dict[str, Calculator]:
    """Every calculator the registry's types use, by ``kind``."""
    return {kind: fn for t in registry.values() for kind, fn in t.calculators.items()}


def bands_of(registry: Mapping[str, ActivityType]) -> dict[str, ModeBand]:
    """Default recognition bands of the registry's trips."""
    return {name: t.band for name, t in registry.items() if t.band is not None}


def families_of(registry: Mapping[str, ActivityType]) -> dict[str, str]:
    """Mode families of the registry's trips."""
    return {name: t.family for name, t in registry.items() if t.family is not None}


def phone_form(registry: Mapping[str, ActivityType]) -> dict[str, list[dict[str, object]]]:
    """What the phone page's activity form asks for each type (``/h5/static/activity-forms.js``):
    per field its name, labels, and a number input's step or a select's options."""
    forms: dict[str, list[dict[str, object]]] = {}
    for name, t in registry.items():
        fields: list[dict[str, object]] = []
        for spec in t.form_fields:
            assert spec.label is not None
            field: dict[str, object] = {"name": spec.name, "zh": spec.label[0], "en": spec.label[1]}
            if spec.kind == "choice":
                field |= {"kind": "select", "options": list(spec.choices)}
            else:
                field |= {"kind": "number", "step": "1" if spec.kind == "int" else "0.1"}
            fields.append(field)
        forms[name] = fields
    return forms


# --- docs/activity-types.md ------------------------------------------------------------------------


def _number(value: Decimal) -> str:
    return f"{value:,}"


def _field_text(spec: FieldSpec) -> str:
    if spec.kind == "choice":
        text = f"`{spec.name}` ({' / '.join(spec.choices)})"
    else:
        bounds = []
        if spec.gt is not None:
            bounds.append(f"> {spec.gt}")
        if spec.ge is not None:
            bounds.append(f"≥ {spec.ge}")
        if spec.le is not None:
            bounds.append(f"≤ {_number(Decimal(spec.le))}")
        text = f"`{spec.name}`" + (f" ({', '.join(bounds)})" if bounds else "")
    if spec.required:
        return f"**{text}**"
    return text + (f" = {spec.default}" if spec.default is not None else "")


_SHAPES = {
    TRIP: "trip",
    COMMUTE: "trip + `purpose`",
    GRID_TRIP: "trip + `purpose`, `region`",
    WEIGHED: "weight",
}


def reference_markdown(registry: Mapping[str, ActivityType] = REGISTRY) -> str:
    """docs/activity-types.md, generated from the registry."""
    lines = [
        "# Activity types · 行为类型",
        "",
        "<!-- Generated from backend/domain/accounting/activity_types.py by",
        "     `python -m backend.domain.accounting.activity_types > docs/activity-types.md`; do not edit by "
        "hand. -->",
        "",
        "Every type the API accepts (`POST /mp/v1/activities`, `type`), with its names "
        "(`GET /mp/v1/activity-types`), request fields, the calculators a factor set's methodology "
        "may pick for it ([emission-factors.md](emission-factors.md)) and the Scope 3 categories its "
        "figure may fall in. Every request also takes `occurred_at` (required) and `evidence_ref`. "
        "**Bold** fields are required.",
        "",
        "Field groups: *trip* is `distance_km`, or `distance` + `distance_unit` (km / m / mi), "
        "and optionally `duration_min` or `duration` + `duration_unit` (min / h / s) and "
        "`source_record_id`; `purpose` is commute / business (default commute); *weight* is "
        "`weight_kg`, or `weight` + `weight_unit` (kg / g / t).",
        "",
        "| type | 中文 | English | request fields | calculators | Scope 3 categories |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, t in registry.items():
        fields = [_SHAPES.get(t.shape, ", ".join(_field_text(s) for s in t.shape))] if t.shape else []
        fields += [_field_text(s) for s in t.fields]
        categories = ", ".join(str(c) for c in t.scope3_categories) or "—"
        lines.append(
            f"| `{name}` | {t.name_zh} | {t.name_en} | {'; '.join(fields)} | "
            f"{', '.join(t.calculators)} | {categories} |"
        )
    lines += [
        "",
        "## Recognition bands",
        "",
        "Default plausibility bands of each trip ([recognition.md](recognition.md)): average speeds "
        "in km/h, distances in km; the mode family is what duplicate detection compares.",
        "",
        "| mode | family | min_kmh | review_kmh | max_kmh | review_km | max_km |",
        "| --- | --- | --: | --: | --: | --: | --: |",
    ]
    for name, t in registry.items():
        if t.band is not None:
            b = t.band
            cells = [b.min_kmh, b.review_kmh, b.max_kmh, b.review_km, b.max_km]
            lines.append(f"| {name} | {t.family} | " + " | ".join(_number(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
