"""Issuance rules: how many carbon points an accepted activity earns, and the anti-abuse caps.

Points are the avoided grams times a rate (points per kg, per activity type if the park wishes),
rounded down once (:func:`backend.domain.accounting.activities.points_for`), so points never exceed what was
verified. Then the caps apply, in this order: a cool-down between identical actions (same
employee, same activity type, occurrences closer than ``cooldown_s``) earns nothing; past the daily
count of rewarded actions of a type nothing more is earned that day; the per-type daily points cap
and the employee's daily and monthly caps each cut the award to what remains under them. Days and
months are the park's local calendar (``utc_offset_min``) of when the action *occurred*, so
back-dating an action cannot escape the cap of the day it happened.

Rules are a park document with optional per-company overrides. A company may set its own rates
(the most specific rate wins: the company's for the type, the park's for the type, the company's
general rate, the park's); for caps and cool-downs the stricter value of park and company applies,
so a company can tighten the park's anti-abuse rules but not loosen them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from backend.domain.accounting.activities import points_for
from backend.domain.errors import InvalidInput

MAX_RATE_POINTS_PER_KG = 1_000_000
MAX_CAP_POINTS = 10**9
MAX_COOLDOWN_S = 7 * 86_400
"""A week: anything longer is a monthly cap in disguise and should be configured as one."""
MAX_EXPIRY_MONTHS = 120
DEFAULT_COMPANY_MAX_POINTS_PER_KG = 1_000
"""The highest rate a company may set when the park names no bound: ten times the default rate
(a 12.4 km metro trip, 579 g avoided, then earns at most 579 points, not 579,000)."""
MAX_RULE_TYPES = 64
"""Distinct activity types one rules document may configure (the catalogue has far fewer)."""

PARK_ONLY = ("expiry_months", "utc_offset_min", "company_max_points_per_kg")
_TYPE_FIELDS = ("points_per_kg", "daily_count_cap", "daily_points_cap", "cooldown_s")
_CAP_FIELDS = ("employee_daily_points_cap", "employee_monthly_points_cap")


@dataclass(frozen=True)
class TypeRule:
    points_per_kg: int | None = None
    """Rate for this type; the document's ``points_per_kg`` when unset."""
    daily_count_cap: int | None = None
    daily_points_cap: int | None = None
    cooldown_s: int | None = None


@dataclass(frozen=True)
class RulesDocument:
    """A parsed rules document (the park's, or a company's overrides); every field is optional."""

    points_per_kg: int | None = None
    default_type: TypeRule = TypeRule()
    types: Mapping[str, TypeRule] = field(default_factory=dict)
    employee_daily_points_cap: int | None = None
    employee_monthly_points_cap: int | None = None
    expiry_months: int | None = None
    utc_offset_min: int | None = None
    company_max_points_per_kg: int | None = None
    """Park only: the highest rate a company's overrides may set (general, default or per type)."""

    def type_rule(self, activity_type: str) -> TypeRule:
        """This document's rule for a type: the type's own fields, else its ``default_type``'s."""
        specific = self.types.get(activity_type, TypeRule())
        values = {
            name: _first(getattr(specific, name), getattr(self.default_type, name)) for name in _TYPE_FIELDS
        }
        values["points_per_kg"] = _first(values["points_per_kg"], self.points_per_kg)
        return TypeRule(**values)


@dataclass(frozen=True)
class IssuanceRules:
    """The rules in force for one company's employees: the park's, then the company's overrides."""

    points_per_kg: int = 100
    default_type: TypeRule = TypeRule()
    types: Mapping[str, TypeRule] = field(default_factory=dict)
    employee_daily_points_cap: int | None = None
    employee_monthly_points_cap: int | None = None
    expiry_months: int = 0
    """0: points never expire."""
    utc_offset_min: int = 480
    """The park's calendar for daily and monthly caps (China Standard Time by default)."""
    company_max_points_per_kg: int = DEFAULT_COMPANY_MAX_POINTS_PER_KG
    """The park's bound on a company's rates; a stored rate above it is cut to it at issuance."""
    company: RulesDocument | None = None

    def for_type(self, activity_type: str) -> TypeRule:
        park = RulesDocument(self.points_per_kg, self.default_type, self.types).type_rule(activity_type)
        if self.company is None:
            return park
        over = self.company.type_rule(activity_type)
        # The most specific rate wins: the company's for this type, the park's for this type, then
        # the company's general rate, then the park's.
        company_specific = self.company.types.get(activity_type, TypeRule()).points_per_kg
        park_specific = self.types.get(activity_type, TypeRule()).points_per_kg
        rate = _first(company_specific, _first(park_specific, over.points_per_kg))
        if rate is not None and rate != park_specific:  # the company's own rate: within the bound
            rate = min(rate, self.company_max_points_per_kg)
        return TypeRule(
            points_per_kg=_first(rate, park.points_per_kg),
            daily_count_cap=_stricter(park.daily_count_cap, over.daily_count_cap),
            daily_points_cap=_stricter(park.daily_points_cap, over.daily_points_cap),
            cooldown_s=_stricter(park.cooldown_s, over.cooldown_s, longer=True),
        )

    @property
    def daily_cap(self) -> int | None:
        over = self.company.employee_daily_points_cap if self.company else None
        return _stricter(self.employee_daily_points_cap, over)

    @property
    def monthly_cap(self) -> int | None:
        over = self.company.employee_monthly_points_cap if self.company else None
        return _stricter(self.employee_monthly_points_cap, over)

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(minutes=self.utc_offset_min))

    def with_park(self, doc: RulesDocument) -> IssuanceRules:
        """These (settings-level) defaults with the park document's values where it sets them."""
        return replace(
            self,
            points_per_kg=_first(doc.points_per_kg, self.points_per_kg),
            default_type=TypeRule(
                **{
                    n: _first(getattr(doc.default_type, n), getattr(self.default_type, n))
                    for n in _TYPE_FIELDS
                }
            ),
            types={**self.types, **doc.types},
            employee_daily_points_cap=_first(doc.employee_daily_points_cap, self.employee_daily_points_cap),
            employee_monthly_points_cap=_first(
                doc.employee_monthly_points_cap, self.employee_monthly_points_cap
            ),
            expiry_months=_first(doc.expiry_months, self.expiry_months),
            utc_offset_min=_first(doc.utc_offset_min, self.utc_offset_min),
            company_max_points_per_kg=_first(doc.company_max_points_per_kg, self.company_max_points_per_kg),
        )

    def with_company(self, doc: RulesDocument | None) -> IssuanceRules:
        return replace(self, company=doc)


def _first(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


def _stricter(a: int | None, b: int | None, *, longer: bool = False) -> int | None:
    if a is None or b is None:
        return b if a is None else a
    return max(a, b) if longer else min(a, b)


@dataclass(frozen=True)
class Usage:
    """What the employee already earned in the windows the caps look at (this activity excluded)."""

    type_count_today: int = 0
    type_points_today: int = 0
    employee_points_today: int = 0
    employee_points_month: int = 0
    nearest_identical_s: float | None = None
    """Seconds between this action and the closest earlier-recorded one of the same type."""


@dataclass(frozen=True)
class IssueDecision:
    base_points: int
    points: int
    limited_by: tuple[str, ...] = ()


def decide(activity_type: str, co2e_avoided_g: int, rules: IssuanceRules, usage: Usage) -> IssueDecision:
    rule = rules.for_type(activity_type)
    assert rule.points_per_kg is not None
    base = points_for(co2e_avoided_g, rule.points_per_kg)
    if base <= 0:
        return IssueDecision(0, 0)
    if (
        rule.cooldown_s
        and usage.nearest_identical_s is not None
        and usage.nearest_identical_s < rule.cooldown_s
    ):
        return IssueDecision(base, 0, ("cooldown",))
    if rule.daily_count_cap is not None and usage.type_count_today >= rule.daily_count_cap:
        return IssueDecision(base, 0, ("daily_count_cap",))
    points = base
    limited: list[str] = []
    for name, cap, used in (
        ("daily_points_cap", rule.daily_points_cap, usage.type_points_today),
        ("employee_daily_points_cap", rules.daily_cap, usage.employee_points_today),
        ("employee_monthly_points_cap", rules.monthly_cap, usage.employee_points_month),
    ):
        if cap is not None and points > cap - used:
            points = max(0, cap - used)
            limited.append(name)
    return IssueDecision(base, points, tuple(limited))


def day_window(at: datetime, rules: IssuanceRules) -> tuple[datetime, datetime]:
    local = at.astimezone(rules.tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def month_window(at: datetime, rules: IssuanceRules) -> tuple[datetime, datetime]:
    local = at.astimezone(rules.tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start.astimezone(UTC), following.astimezone(UTC)


def months_before(at: datetime, months: int) -> datetime:
    """The same moment ``months`` calendar months earlier (the last day when the month is shorter)."""
    index = at.year * 12 + at.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    following = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=at.tzinfo)
    last_day = (following - timedelta(days=1)).day
    return at.replace(year=year, month=month, day=min(at.day, last_day))


# --- Documents (JSON in the database and the API) ---------------------------------------------------


def _int(doc: Mapping[str, Any], name: str, path: str, low: int, high: int) -> int | None:
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{path}{name}", f"must be an integer from {low} to {high}")
    return value


def _type_rule(doc: Mapping[str, Any], path: str) -> TypeRule:
    unknown = set(doc) - set(_TYPE_FIELDS)
    if unknown:
        raise InvalidInput(f"{path}{sorted(unknown)[0]}", "is not a rule field")
    return TypeRule(
        points_per_kg=_int(doc, "points_per_kg", path, 0, MAX_RATE_POINTS_PER_KG),
        daily_count_cap=_int(doc, "daily_count_cap", path, 0, 10_000),
        daily_points_cap=_int(doc, "daily_points_cap", path, 0, MAX_CAP_POINTS),
        cooldown_s=_int(doc, "cooldown_s", path, 0, MAX_COOLDOWN_S),
    )


def parse_document(doc: Mapping[str, Any], *, company: bool) -> RulesDocument:
    """Validates and parses a park (or company override) document; raises :class:`InvalidInput`."""
    if not isinstance(doc, Mapping):
        raise InvalidInput("body", "must be a JSON object of rule fields")
    allowed = {"points_per_kg", "default_type", "types", *_CAP_FIELDS, *([] if company else PARK_ONLY)}
    unknown = set(doc) - allowed
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(name, "is set by the park only" if name in PARK_ONLY else "is not a rule field")
    default_doc = {} if doc.get("default_type") is None else doc["default_type"]
    types_doc = {} if doc.get("types") is None else doc["types"]
    if not isinstance(default_doc, Mapping):
        raise InvalidInput("default_type", "must be an object")
    if not isinstance(types_doc, Mapping) or len(types_doc) > MAX_RULE_TYPES:
        raise InvalidInput("types", f"must map at most {MAX_RULE_TYPES} activity types to rules")
    types = {}
    for name, rule in types_doc.items():
        if not isinstance(rule, Mapping):
            raise InvalidInput(f"types.{name}", "must be an object")
        types[str(name)] = _type_rule(rule, f"types.{name}.")
    return RulesDocument(
        points_per_kg=_int(doc, "points_per_kg", "", 0, MAX_RATE_POINTS_PER_KG),
        default_type=_type_rule(default_doc, "default_type."),
        types=types,
        employee_daily_points_cap=_int(doc, "employee_daily_points_cap", "", 0, MAX_CAP_POINTS),
        employee_monthly_points_cap=_int(doc, "employee_monthly_points_cap", "", 0, MAX_CAP_POINTS),
        expiry_months=_int(doc, "expiry_months", "", 0, MAX_EXPIRY_MONTHS),
        utc_offset_min=_int(doc, "utc_offset_min", "", -12 * 60, 14 * 60),
        company_max_points_per_kg=_int(doc, "company_max_points_per_kg", "", 0, MAX_RATE_POINTS_PER_KG),
    )


def check_company_bounds(doc: RulesDocument, park: IssuanceRules) -> None:
    """Refuses a company document whose rates exceed the park's bound, naming the field and bound."""
    bound = park.company_max_points_per_kg
    rates = [
        ("points_per_kg", doc.points_per_kg),
        ("default_type.points_per_kg", doc.default_type.points_per_kg),
    ]
    rates += [(f"types.{name}.points_per_kg", rule.points_per_kg) for name, rule in sorted(doc.types.items())]
    for path, rate in rates:
        if rate is not None and rate > bound:
            raise InvalidInput(path, f"must be at most {bound} (the park's company_max_points_per_kg)")
