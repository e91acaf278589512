"""One registry of activity types (backend/domain/activities.py); every place that lists types
derives from it or must agree with it, so adding a type fails here until each place knows it."""

from __future__ import annotations

from pathlib import Path

from backend.domain.activities import ACTIVITY_KINDS, ACTIVITY_TYPES, CALCULATORS, REQUIRED_OPTIONS
from backend.domain.activity_names import ACTIVITY_TYPE_NAMES
from backend.domain.recognition import DEFAULT_BANDS, MODE_FAMILY
from backend.services.factor_sets import all_sets
from mini_program_api.schemas import ACTIVITY_TYPES as REQUEST_TYPES
from mini_program_api.schemas import _request_tags

ROOT = Path(__file__).resolve().parents[2]
TRIP_KINDS = {"distance", "electric_distance", "flight"}


def test_the_request_schema_takes_exactly_the_registered_types() -> None:
    assert REQUEST_TYPES == ACTIVITY_TYPES
    assert _request_tags() == set(ACTIVITY_TYPES)


def test_every_type_has_its_two_names_and_nothing_else_has() -> None:
    assert set(ACTIVITY_TYPE_NAMES) == set(ACTIVITY_TYPES)
    assert all(zh and en and zh != en for zh, en in ACTIVITY_TYPE_NAMES.values())


def test_every_trip_type_has_a_recognition_band_and_family() -> None:
    trips = {t for t, kinds in ACTIVITY_KINDS.items() if kinds & TRIP_KINDS}
    assert set(DEFAULT_BANDS) == trips
    assert set(MODE_FAMILY) == trips


def test_every_kind_has_a_calculator_and_every_option_a_type() -> None:
    assert set().union(*ACTIVITY_KINDS.values()) <= set(CALCULATORS)
    assert set(REQUIRED_OPTIONS) <= set(ACTIVITY_TYPES)


def test_every_factor_set_computes_every_type() -> None:
    for factor_set in all_sets():
        assert set(ACTIVITY_TYPES) <= set(factor_set.methodology.get("activities", {})), factor_set.version


def test_the_factor_documentation_names_every_type() -> None:
    documented = (ROOT / "docs" / "emission-factors.md").read_text(encoding="utf-8")
    assert [t for t in ACTIVITY_TYPES if t not in documented] == []
