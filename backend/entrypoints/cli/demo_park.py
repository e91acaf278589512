"""The demo park's people and what they do, day by day: a pure, seeded generator (no I/O).

Four companies, 298 employees at scale 1. The park's app launches at the start of the seeded
year and people join over the first months; each has a commute (mode and distance), an
engagement (how often they bother to record), and habits (recycling, the canteen, second-hand
goods, saving energy, business trips). What a day looks like depends on the calendar:

* working days only for commutes and the canteen; weekends and China's public holidays
  (New Year, the Spring Festival week, Labour Day and National Day weeks) are quiet;
* commute peaks: morning departures around 08:15 and evening ones around 18:15 (park time);
* seasons: fewer cycling and walking trips in the cold months and the rainy, hot summer
  (those days people take the metro or the bus), fewer records in the Spring Festival month and
  August holidays, more during June's National Energy Conservation Week campaign;
* some metro and bus trips arrive from the transit-gate integration, some shared-bike rides from
  the bike-share operator and some recycling from the park's recycling station (primary data);
* now and then a double tap sends a trip twice (the screen refuses the second as a duplicate),
  and a few long self-reported trips go to the review queue.

Every draw comes from ``random.Random`` seeded with the seed and the person (and the day), so
the same seed gives the same park, and a later run regenerates the same records for the same
days (their idempotency keys replay) and adds only the days that have passed since.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from backend.domain.accounting import activity_types

COMPANIES: tuple[tuple[str, str, str, tuple[tuple[str, int], ...]], ...] = (
    (
        "sunrise-electronics",
        "Sunrise Electronics",
        "旭日电子",
        (("rd", 40), ("production", 45), ("sales", 12), ("admin", 3)),
    ),
    (
        "green-logistics",
        "Green Logistics",
        "绿色物流",
        (("operations", 35), ("fleet", 20), ("office", 8), ("legal", 2)),
    ),
    ("harbor-foods", "Harbor Foods", "海港食品", (("kitchen", 30), ("packaging", 25), ("quality", 6))),
    ("nova-materials", "Nova Materials", "新星材料", (("lab", 28), ("plant", 40), ("finance", 4))),
)
"""Company id, English and Chinese names, (department, employees); some departments are deliberately under the
privacy minimum, so the dashboard shows them combined."""
TRAVELLING_DEPARTMENTS = frozenset({"sales", "legal", "fleet", "finance", "rd", "lab"})


def commute_modes() -> tuple[tuple[str, float, tuple[float, float], float], ...]:
    """(mode, share of employees, one-way km range, typical door-to-door km/h) of every type whose
    registry entry has a demo commute."""
    return tuple(
        (name, t.demo.share, t.demo.km, t.demo.speed_kmh)
        for name, t in activity_types.REGISTRY.items()
        if t.demo is not None
    )


def active_modes() -> frozenset[str]:
    """Modes people leave for the metro or the bus on a cold, or a rainy, day."""
    return frozenset(
        name for name, t in activity_types.REGISTRY.items() if t.demo is not None and t.demo.active
    )


COMMUTE_MODES = commute_modes()
ACTIVE_MODES = active_modes()
WEATHER_SHIFT = {1: 0.45, 2: 0.40, 3: 0.15, 6: 0.15, 7: 0.30, 8: 0.25, 12: 0.35}
"""Chance, per month, that an active commuter takes the metro or the bus that day."""
ENGAGEMENT_BY_MONTH = {2: 0.8, 6: 1.25, 8: 0.85, 10: 0.95}
"""Relative willingness to record: the Spring Festival month and August holidays are quieter,
June's National Energy Conservation Week (全国节能宣传周) campaign busier; other months 1."""
SPRING_FESTIVAL = {
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}
"""First day of the lunar year (春节); the public holiday runs from its eve for eight days."""
REPORTING_SHARE = 0.6
"""Share of employees who ever use the mini-program; the rest count in participation figures."""
TRANSIT_CARD_SHARE = 0.15
"""Share of metro and bus commuters whose transit card is bound (their trips arrive as primary data)."""
DOUBLE_TAP = 0.004
"""Chance a self-reported trip is sent twice (the second is refused as a duplicate)."""

SOURCES = {
    "transit-gate": (
        "Park metro & bus gates / 园区地铁公交闸机",
        "transit_gate",
        ("metro", "bus", "bus_electric"),
    ),
    "bike-share": ("City bike share / 城市共享单车", "bike_share", ("bike_shared",)),
    "recycling-station": ("Park recycling station / 园区回收站", "recycling_station", ("recycling",)),
}
"""Integration sources the demo registers: id → (name, kind, activity types)."""


@dataclass(frozen=True)
class Person:
    subject_id: str
    org_id: str
    dept_id: str
    mode: str
    commute_km: float
    speed_kmh: float
    reports: bool
    joins: date
    engagement: float
    """Chance of recording a given commute leg on a working day once joined."""
    card: bool
    recycler: bool
    canteen: float
    travels: bool


@dataclass(frozen=True)
class Planned:
    """One activity a person reports: their idempotency key, the request body and its source."""

    person: Person
    key: str
    payload: dict[str, Any]
    source: str

    @property
    def occurred_at(self) -> datetime:
        return datetime.fromisoformat(self.payload["occurred_at"])


def _pick_mode(rng: random.Random) -> tuple[str, tuple[float, float], float]:
    roll, acc = rng.random(), 0.0
    modes = commute_modes()
    for mode, share, km, speed in modes:
        acc += share
        if roll < acc:
            return mode, km, speed
    mode, _, km, speed = modes[0]
    return mode, km, speed


def people(seed: int, scale: float, start: date, available: set[str]) -> list[Person]:
    """Everyone in the park (a person's draws depend on the seed and their id only)."""
    out = []
    for company, _, _, departments in COMPANIES:
        for department, size in departments:
            for i in range(max(1, round(size * scale))):
                subject = f"demo-{company}-{department}-{i:03d}"
                rng = random.Random(f"{seed}/{subject}")  # noqa: S311 (demo data, not secrets)
                mode, (low, high), speed = _pick_mode(rng)
                if mode not in available:
                    # The set in force cannot compute that mode yet: the metro instead.
                    mode, _, (low, high), speed = next(m for m in commute_modes() if m[0] == "metro")
                # Early adopters at launch, the rest over the first eight months (fewer each month).
                joins = start + timedelta(days=0 if rng.random() < 0.4 else int(rng.expovariate(1 / 70)))
                out.append(
                    Person(
                        subject_id=subject,
                        org_id=company,
                        dept_id=department,
                        mode=mode,
                        commute_km=rng.uniform(low, high),
                        speed_kmh=speed * rng.uniform(0.85, 1.15),
                        reports=rng.random() < REPORTING_SHARE,
                        joins=joins,
                        engagement=min(0.95, rng.betavariate(1.2, 4.0)),
                        card=mode in ("metro", "bus", "bus_electric") and rng.random() < TRANSIT_CARD_SHARE,
                        recycler=rng.random() < 0.45,
                        canteen=rng.random() * 0.4,
                        travels=department in TRAVELLING_DEPARTMENTS and rng.random() < 0.5,
                    )
                )
    return out


def is_holiday(day: date) -> bool:
    """China's public holidays, roughly: New Year's Day, the Spring Festival week, 1–5 May, 1–7 October."""
    if (
        (day.month, day.day) == (1, 1)
        or (day.month == 5 and day.day <= 5)
        or (day.month == 10 and day.day <= 7)
    ):
        return True
    festival = SPRING_FESTIVAL.get(day.year)
    return festival is not None and festival - timedelta(days=1) <= day <= festival + timedelta(days=6)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def _km(value: float) -> str:
    return str(Decimal(str(max(value, 0.2))).quantize(Decimal("0.1")))


def _peak(rng: random.Random, day: date, centre: time, spread_min: float, tz: ZoneInfo) -> datetime:
    minutes = centre.hour * 60 + centre.minute + rng.gauss(0, spread_min)
    minutes = min(max(minutes, 5 * 60), 23 * 60)
    return datetime.combine(day, time(int(minutes // 60), int(minutes % 60), rng.randrange(60)), tz)


def _trip(
    mode: str, km: float, speed: float, when: datetime, rng: random.Random, **extra: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": mode, "occurred_at": when.isoformat(), "distance_km": _km(km)}
    if rng.random() < 0.6:  # many clients send the trip's duration
        payload["duration_min"] = str(max(1, math.ceil(km / speed * 60 * rng.uniform(0.9, 1.25))))
    demo = activity_types.REGISTRY[mode].demo
    for name, low, high in demo.counts if demo is not None else ():
        payload[name] = rng.randint(low, high)
    return payload | extra


def day_plan(person: Person, day: date, seed: int, tz: ZoneInfo, available: set[str]) -> list[Planned]:
    """What one person reports on one day (empty before they join or if they never report)."""
    if not person.reports or day < person.joins:
        return []
    rng = random.Random(f"{seed}/{person.subject_id}/{day.isoformat()}")  # noqa: S311
    month_mood = ENGAGEMENT_BY_MONTH.get(day.month, 1.0)
    if day.month == 6 and 8 <= day.day <= 21:  # the campaign fortnight
        month_mood = 1.5
    chance = min(0.97, person.engagement * month_mood)
    out: list[Planned] = []

    def add(slot: str, payload: dict[str, Any], source: str = "self_reported") -> None:
        if payload["type"] in available:
            out.append(Planned(person, f"{day.isoformat()}-{slot}", payload, source))

    if is_working_day(day):
        mode = person.mode
        if mode in active_modes() and rng.random() < WEATHER_SHIFT.get(day.month, 0.05):
            mode = "metro" if person.commute_km > 3 else "bus_electric"
        source = (
            "integration:transit-gate" if person.card and mode in ("metro", "bus", "bus_electric") else None
        )
        if mode == "bike_shared" and rng.random() < 0.5:
            source = "integration:bike-share"
        for leg, centre, spread in (("am", time(8, 15), 25), ("pm", time(18, 15), 35)):
            # Primary data arrives whether or not the person opens the app.
            if source is None and rng.random() >= chance * (1 if leg == "am" else 0.8):
                continue
            km = person.commute_km * rng.uniform(0.95, 1.05)
            when = _peak(rng, day, centre, spread, tz)
            payload = _trip(mode, km, person.speed_kmh, when, rng)
            if source is None and rng.random() < 0.15:
                payload["source_record_id"] = f"app-{rng.getrandbits(48):012x}"  # e.g. a metro QR ride id
            add(leg, payload, source or "self_reported")
            if source is None and rng.random() < DOUBLE_TAP:
                add(f"{leg}-again", dict(payload))
        if rng.random() < person.canteen * chance:
            lunch = _peak(rng, day, time(12, 5), 15, tz)
            if rng.random() < 0.6:
                add("plate", {"type": "clean_plate", "occurred_at": lunch.isoformat(), "meals": 1})
            else:
                item = rng.choice(("cup", "cutlery", "bag"))
                count = 1 if item != "cup" else rng.randint(1, 2)
                add(
                    "reuse",
                    {
                        "type": "no_disposables",
                        "occurred_at": lunch.isoformat(),
                        "item": item,
                        "count": count,
                    },
                )
        if person.travels and rng.random() < 0.012:
            leave = _peak(rng, day, time(10, 30), 60, tz)
            if rng.random() < 0.35:
                km = rng.uniform(600, 2100)
                add(
                    "trip",
                    _trip("flight", km, 600, leave, rng, source_record_id=f"PNR{rng.getrandbits(30):09d}"),
                )
            else:
                km = rng.uniform(80, 500)
                add("trip", _trip("rail", km, 180, leave, rng, purpose="business"))
        if rng.random() < 0.01 * chance:
            taxi = _peak(rng, day, time(21, 30), 40, tz)
            add("taxi", _trip("taxi", rng.uniform(4, 18), 25, taxi, rng))
    weekday = day.weekday()
    if person.recycler and weekday == 2 and rng.random() < chance:  # Wednesday is collection day
        when = _peak(rng, day, time(12, 40), 20, tz)
        material = rng.choice(("paper", "paper", "plastic", "pet", "glass", "metal", "aluminium"))
        payload = {
            "type": "recycling",
            "occurred_at": when.isoformat(),
            "material": material,
            "weight_kg": str(round(rng.uniform(0.3, 4.0), 1)),
        }
        add("recycle", payload, "integration:recycling-station" if rng.random() < 0.4 else "self_reported")
    if weekday == 5 and rng.random() < 0.03 * chance:
        when = _peak(rng, day, time(15, 0), 90, tz)
        item = rng.choice(("book", "clothing", "electronics", "furniture", "toy", "household"))
        payload = {"type": "second_hand", "occurred_at": when.isoformat(), "item": item}
        payload["weight_kg"] = str(round(rng.uniform(0.3, 12.0), 1))
        add("second-hand", payload)
    if day.day == 28 and rng.random() < 0.3 * chance:  # the monthly meter reading
        when = _peak(rng, day, time(20, 0), 45, tz)
        payload = {"type": "energy_saving", "occurred_at": when.isoformat(), "scope": "home"}
        payload["kwh"] = str(round(rng.uniform(3, 40), 1))
        add("energy", payload)
    return out


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def plan_for(
    persons: Sequence[Person], day: date, seed: int, tz: ZoneInfo, available: set[str]
) -> list[Planned]:
    """Everything the park reports on ``day``, in the order it happened."""
    planned = [p for person in persons for p in day_plan(person, day, seed, tz, available)]
    return sorted(planned, key=lambda p: (p.occurred_at, p.person.subject_id, p.key))
