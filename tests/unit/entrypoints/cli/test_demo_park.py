"""The demo park's generator: a realistic year (every type, commute peaks, quiet weekends and
holidays, seasons) that is the same for the same seed."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from backend.entrypoints.cli import demo_park
from mini_program_api.schemas import ACTIVITY_TYPES

TZ = ZoneInfo("Asia/Shanghai")
START = date(2026, 1, 1)
TYPES = set(ACTIVITY_TYPES)


def _year(seed: int = 7) -> list[demo_park.Planned]:
    persons = demo_park.people(seed, 1.0, START, TYPES)
    return [
        p
        for day in demo_park.days(START, date(2026, 12, 31))
        for p in demo_park.plan_for(persons, day, seed, TZ, TYPES)
    ]


def test_a_year_has_every_type_peaks_and_seasons() -> None:
    year = _year()
    types = Counter(p.payload["type"] for p in year)
    assert set(types) == TYPES, TYPES - set(types)
    commutes = [p for p in year if p.key.endswith(("-am", "-pm"))]
    assert all(demo_park.is_working_day(p.occurred_at.date()) for p in commutes)
    hours = Counter(p.occurred_at.astimezone(TZ).hour for p in commutes)
    assert hours.most_common(2)[0][0] in (7, 8, 17, 18) and hours[3] == 0 and hours[13] < hours[8] / 10
    assert not [p for p in commutes if p.occurred_at.date() in (date(2026, 10, 3), date(2026, 2, 17))]

    def active_share(month: int) -> float:
        legs = [p for p in commutes if p.occurred_at.month == month]
        return sum(p.payload["type"] in demo_park.ACTIVE_MODES for p in legs) / len(legs)

    assert active_share(1) < active_share(4) * 0.8  # the cold sends cyclists to the metro
    sources = Counter(p.source for p in year)
    assert {"integration:transit-gate", "integration:bike-share", "integration:recycling-station"} <= set(
        sources
    )
    months = Counter(p.occurred_at.month for p in year)
    assert months[12] > months[1]  # people join over the year
    keys = [(p.person.subject_id, p.key) for p in year]
    assert len(keys) == len(set(keys))


def test_same_seed_same_park_other_seed_another() -> None:
    def fingerprint(seed: int) -> list[tuple[str, str, str]]:
        persons = demo_park.people(seed, 0.2, START, TYPES)
        day = START + timedelta(days=200)
        return [
            (p.person.subject_id, p.key, str(p.payload))
            for p in demo_park.plan_for(persons, day, seed, TZ, TYPES)
        ]

    assert fingerprint(7) == fingerprint(7)
    assert fingerprint(7) != fingerprint(8)


def test_a_later_start_regenerates_the_same_days() -> None:
    """A second run a month later makes the same reports for the days both cover (keys replay)."""
    later = START + timedelta(days=30)
    day = START + timedelta(days=200)
    one = demo_park.people(7, 0.2, START, TYPES)
    two = demo_park.people(7, 0.2, later, TYPES)
    first = {(p.person.subject_id, p.key): p.payload for p in demo_park.plan_for(one, day, 7, TZ, TYPES)}
    second = {(p.person.subject_id, p.key): p.payload for p in demo_park.plan_for(two, day, 7, TZ, TYPES)}
    shared = first.keys() & second.keys()
    assert shared and all(first[k] == second[k] for k in shared)
