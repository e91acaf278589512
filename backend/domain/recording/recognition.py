"""Green-behaviour recognition (绿色行为识别): is a reported activity plausible, evidenced and new?

Pure rules, no I/O. The service gathers the facts (the activity's quantities, the same employee's
nearby activities, today's count of unevidenced self-reports) and :func:`assess` decides:

* ``accepted`` — credited at once;
* ``flagged`` — stored and logged but credited only if a company admin approves it;
* ``rejected`` — refused with a reason naming the field; nothing is stored.

Every threshold lives in :class:`RecognitionRules` (defaults below, each with the reason for it) so
a park can tune them without touching code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

from backend.domain.accounting import activity_types
from backend.domain.accounting.activity_types import ModeBand as ModeBand
from backend.domain.accounting.activity_types import band

Status = Literal["accepted", "flagged", "rejected"]
Evidence = Literal["source", "reference", "none"]
"""``source``: delivered by a trusted integration (signed); ``reference``: a self-report carrying a
source record id or a photo/document reference; ``none``: a bare self-report."""


DEFAULT_BANDS: Mapping[str, ModeBand] = MappingProxyType(activity_types.bands_of(activity_types.REGISTRY))
"""Each trip type's default band, from the activity-type registry (the reason for each there)."""

MODE_FAMILY: Mapping[str, str] = MappingProxyType(activity_types.families_of(activity_types.REGISTRY))
"""Modes one physical trip may be reported under by different sources (a manual "bike" and a
shared-bike order are the same ride), from the activity-type registry."""


def default_bands() -> dict[str, ModeBand]:
    """The registry's bands, read when rules are made (a registry entry is all a new trip needs)."""
    return activity_types.bands_of(activity_types.REGISTRY)


MAGNITUDE_FIELDS = ("distance_km", "weight_kg", "kwh", "count", "meals")
"""The quantity that identifies an activity's size, in this order of preference."""


@dataclass(frozen=True)
class DuplicateTolerance:
    window: timedelta
    """Start times closer than this (or overlapping intervals) may be the same activity."""
    abs_tolerance: Decimal
    rel_tolerance: Decimal
    """Magnitudes within max(abs, rel × larger) of each other are the same (GPS and gate distances
    of one trip differ by a kilometre or a quarter easily)."""


TRIP_TOLERANCE = DuplicateTolerance(timedelta(minutes=30), Decimal(1), Decimal("0.25"))
OTHER_TOLERANCE = DuplicateTolerance(timedelta(hours=2), Decimal("0.1"), Decimal("0.1"))


@dataclass(frozen=True)
class RecognitionRules:
    bands: Mapping[str, ModeBand] = field(default_factory=default_bands)
    self_report_auto_max_g: int = 2000
    """A bare self-report avoiding more than this (≈ a 20 km metro commute) needs review."""
    evidenced_auto_max_g: int = 10_000
    """A self-report with a reference avoiding more than this needs review."""
    self_report_daily_auto: int = 4
    """Bare self-reports per employee per day credited without review (two commutes and two
    errands); beyond this the pattern is worth a look."""

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> RecognitionRules:
        """Returns rules whose bands are replaced field by field, e.g. ``{"walk": {"max_kmh": 10}}``."""
        bands = dict(self.bands)
        for mode, changes in overrides.items():
            base = bands.get(mode, band(0, 1000, 1000, 20_000, 20_000))
            bands[mode] = replace(base, **{k: Decimal(str(v)) for k, v in changes.items()})
        return replace(self, bands=bands)


@dataclass(frozen=True)
class Footprint:
    """What identifies one activity for duplicate detection (a trip fingerprint): who, which mode
    family, when, and how much. Stored beside each activity; compared with :func:`is_duplicate`."""

    activity_id: str
    family: str
    started_at: datetime
    ended_at: datetime | None
    magnitude: Decimal | None
    source: str


@dataclass(frozen=True)
class Finding:
    rule: str
    status: Status
    field: str
    reason: str


@dataclass(frozen=True)
class Assessment:
    status: Status
    findings: tuple[Finding, ...]
    evidence: Evidence
    supersedes: str | None = None
    """The self-reported activity this primary record (a signed integration delivery) replaces."""

    @property
    def rejection(self) -> Finding | None:
        return next((f for f in self.findings if f.status == "rejected"), None)

    def public(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "evidence": self.evidence,
            "findings": [{"rule": f.rule, "field": f.field, "reason": f.reason} for f in self.findings],
        }


def family_of(activity_type: str) -> str:
    entry = activity_types.REGISTRY.get(activity_type)
    return entry.family if entry is not None and entry.family is not None else activity_type


def magnitude_of(quantities: Mapping[str, Any]) -> Decimal | None:
    for name in MAGNITUDE_FIELDS:
        if quantities.get(name) is not None:
            return Decimal(str(quantities[name]))
    return None


def footprint(
    activity_id: str, activity_type: str, occurred_at: datetime, quantities: Mapping[str, Any], source: str
) -> Footprint:
    duration = quantities.get("duration_min")
    ended = occurred_at + timedelta(minutes=float(Decimal(str(duration)))) if duration is not None else None
    return Footprint(
        activity_id, family_of(activity_type), occurred_at, ended, magnitude_of(quantities), source
    )


def evidence_of(source: str, quantities: Mapping[str, Any]) -> Evidence:
    if source.startswith("integration:"):
        return "source"
    if quantities.get("source_record_id") or quantities.get("evidence_ref"):
        return "reference"
    return "none"


def is_duplicate(a: Footprint, b: Footprint) -> bool:
    """Whether two footprints are one activity: same family, close in time, similar in size."""
    if a.family != b.family:
        return False
    trip_families = {t.family for t in activity_types.REGISTRY.values() if t.family is not None}
    tolerance = TRIP_TOLERANCE if a.family in trip_families else OTHER_TOLERANCE
    if a.ended_at is not None and b.ended_at is not None:
        close = a.started_at < b.ended_at and b.started_at < a.ended_at
    else:
        close = abs(a.started_at - b.started_at) <= tolerance.window
    if not close:
        return False
    if a.magnitude is None or b.magnitude is None:
        return a.magnitude is None and b.magnitude is None
    allowed = max(tolerance.abs_tolerance, tolerance.rel_tolerance * max(a.magnitude, b.magnitude))
    return abs(a.magnitude - b.magnitude) <= allowed


EARTH_RADIUS_KM = 6371.0088
"""IUGG mean Earth radius."""
ROUTE_SHORTER_TOLERANCE = Decimal("0.9")
"""A route cannot be shorter than the straight line between its ends; 10 % slack for coordinate
error near short trips."""
ROUTE_DETOUR_FACTOR = Decimal(3)
ROUTE_DETOUR_SLACK_KM = Decimal(2)
"""Routes longer than 3 × the straight line + 2 km are unusual detours worth a look."""


def straight_line_km(start: tuple[float, float], end: tuple[float, float]) -> Decimal:
    """Great-circle (haversine) distance between two (latitude, longitude) points in degrees."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*start, *end))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return Decimal(2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))).quantize(Decimal("0.001"))


def _reject(rule: str, field: str, reason: str) -> Finding:
    return Finding(rule, "rejected", field, reason)


def _flag(rule: str, field: str, reason: str) -> Finding:
    return Finding(rule, "flagged", field, reason)


def _route(distance_km: Decimal, straight_km: Decimal | None) -> list[Finding]:
    if straight_km is None:
        return []
    line = f"the {straight_km} km straight line between start and end"
    if distance_km < straight_km * ROUTE_SHORTER_TOLERANCE:
        return [_reject("route", "distance_km", f"{distance_km} km is shorter than {line}")]
    if distance_km > straight_km * ROUTE_DETOUR_FACTOR + ROUTE_DETOUR_SLACK_KM:
        return [_flag("route", "distance_km", f"{distance_km} km is a long detour for {line}")]
    return []


def average_speed_kmh(distance_km: Decimal, duration_min: Decimal) -> Decimal:
    return distance_km * 60 / duration_min


def _plausibility(
    mode: str, quantities: Mapping[str, Any], evidence: Evidence, rules: RecognitionRules
) -> list[Finding]:
    band = rules.bands.get(mode)
    if band is None or quantities.get("distance_km") is None:
        return []
    distance = Decimal(str(quantities["distance_km"]))
    findings = []
    if distance > band.max_km:
        reason = f"{distance} km is beyond {band.max_km} km, the most a {mode} trip is credited for"
        findings.append(_reject("mode_distance", "distance_km", reason))
    elif distance > band.review_km and evidence != "source":
        reason = f"a self-reported {mode} trip over {band.review_km} km needs review"
        findings.append(_flag("mode_distance", "distance_km", reason))
    if quantities.get("duration_min") is not None:
        speed = average_speed_kmh(distance, Decimal(str(quantities["duration_min"])))
        average = f"an average of {speed.quantize(Decimal('0.1'))} km/h"
        if speed > band.max_kmh:
            reason = f"{average} is not plausible for {mode} (at most {band.max_kmh} km/h)"
            findings.append(_reject("mode_speed", "duration_min", reason))
        elif speed > band.review_kmh:
            reason = f"{average} is unusually fast for {mode} (over {band.review_kmh} km/h)"
            findings.append(_flag("mode_speed", "duration_min", reason))
        elif speed < band.min_kmh:
            reason = f"{average} is unusually slow for {mode} (under {band.min_kmh} km/h)"
            findings.append(_flag("mode_speed", "duration_min", reason))
    return findings


def _evidence(
    evidence: Evidence, co2e_avoided_g: int, unevidenced_today: int, rules: RecognitionRules
) -> list[Finding]:
    if evidence == "source":
        return []
    if evidence == "reference":
        if co2e_avoided_g > rules.evidenced_auto_max_g:
            reason = f"over {rules.evidenced_auto_max_g} g CO2e avoided needs review even with a reference"
            return [_flag("evidence", "evidence_ref", reason)]
        return []
    findings = []
    if co2e_avoided_g > rules.self_report_auto_max_g:
        reason = (
            f"over {rules.self_report_auto_max_g} g CO2e avoided without evidence needs review; "
            "add a source_record_id or evidence_ref"
        )
        findings.append(_flag("evidence", "evidence_ref", reason))
    if unevidenced_today >= rules.self_report_daily_auto:
        reason = (
            f"more than {rules.self_report_daily_auto} self-reports without evidence in a day need review"
        )
        findings.append(_flag("daily_self_reports", "evidence_ref", reason))
    return findings


def assess(
    activity_type: str,
    quantities: Mapping[str, Any],
    mine: Footprint,
    co2e_avoided_g: int,
    nearby: Iterable[Footprint],
    unevidenced_today: int,
    rules: RecognitionRules,
    straight_km: Decimal | None = None,
) -> Assessment:
    """Decides one activity's status from its quantities, its evidence and the employee's other
    activities close in time (``nearby``, already credited or pending review). ``straight_km`` is
    the straight-line distance between the trip's start and end when they are known."""
    evidence = evidence_of(mine.source, quantities)
    findings = _plausibility(activity_type, quantities, evidence, rules)
    if quantities.get("distance_km") is not None:
        findings.extend(_route(Decimal(str(quantities["distance_km"])), straight_km))
    twin = next((other for other in nearby if is_duplicate(mine, other)), None)
    supersedes = None
    if twin is not None and evidence == "source" and not twin.source.startswith("integration:"):
        # Primary data takes precedence (GHG Protocol Scope 3 Standard, data quality): the signed
        # source record replaces the employee's own report of the same trip, by a logged correction.
        supersedes = twin.activity_id
        reason = f"this primary record supersedes the self-reported {twin.activity_id} of the same trip"
        findings.append(Finding("supersedes", "accepted", "occurred_at", reason))
    elif twin is not None:
        reason = f"the same {mine.family} activity was already recorded as {twin.activity_id} ({twin.source})"
        findings.append(_reject("duplicate", "occurred_at", reason))
    findings.extend(_evidence(evidence, co2e_avoided_g, unevidenced_today, rules))
    return Assessment(_worst(findings), tuple(findings), evidence, supersedes)


def _worst(findings: Sequence[Finding]) -> Status:
    statuses = {f.status for f in findings}
    if "rejected" in statuses:
        return "rejected"
    return "flagged" if "flagged" in statuses else "accepted"


@dataclass(frozen=True)
class RateLimit:
    """At most ``max_events`` in any ``window``."""

    max_events: int
    window: timedelta


def retry_after(
    limit: RateLimit, recent: Sequence[datetime], now: datetime, adding: int = 1
) -> timedelta | None:
    """None when ``adding`` more events fit under ``limit`` given the ``recent`` event times
    (newest first); otherwise how long until they would."""
    in_window = [t for t in recent if t > now - limit.window]
    if len(in_window) + adding <= limit.max_events:
        return None
    if adding > limit.max_events:
        return limit.window
    # The oldest event that must leave the window before `adding` more fit.
    blocking = in_window[limit.max_events - adding]
    return max(timedelta(seconds=1), blocking + limit.window - now)
