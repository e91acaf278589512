"""One registry of activity types (backend/domain/accounting/activity_types.py) from which the request
schemas,
names, recognition bands, calculator dispatch, the demo park and docs/activity-types.md derive: a
new type is one entry there (plus its methodology and factors in each factor set)."""

from __future__ import annotations

import copy
import typing
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from backend.api.routes import h5
from backend.domain.accounting import activity_types
from backend.domain.accounting.activities import ACTIVITY_KINDS, ACTIVITY_TYPES, REQUIRED_OPTIONS, normalize
from backend.domain.accounting.activity_names import ACTIVITY_TYPE_NAMES
from backend.domain.accounting.activity_types import (
    ACTIVITY_TYPE_LIST,
    REGISTRY,
    ActivityType,
    DemoCommute,
    FieldSpec,
    band,
)
from backend.domain.errors import InvalidInput
from backend.domain.log.commitments import FREE_TEXT_QUANTITIES
from backend.domain.recording import recognition
from backend.entrypoints.cli import demo_park
from backend.services.accounting.factor_sets import all_sets
from emission_factors.errors import FactorSetError
from emission_factors.validate import check_methodology
from mini_program_api import schemas

ROOT = Path(__file__).resolve().parents[4]
DOC = ROOT / "docs" / "activity-types.md"
SCOOTER = ActivityType(
    "scooter_shared",
    "共享电动滑板车",
    "Shared e-scooter",
    "SharedScooterTrip",
    {"electric_distance": REGISTRY["ebike"].calculators["electric_distance"]},
    (7, 6),
    shape=activity_types.GRID_TRIP,
    fields=(FieldSpec("operator", "choice", choices=("lime", "hellobike")),),
    band=band(3, 22, 30, 15, 40),
    family="cycle",
    demo=DemoCommute(0.05, (1, 4), 12, active=True),
)
"""A hypothetical type: a shared e-scooter, computed like an e-bike."""


def _union_tags(union: Any) -> list[str]:
    models = typing.get_args(typing.get_args(union)[0])
    return [tag for model in models for tag in typing.get_args(model.model_fields["type"].annotation)]


def test_the_request_schema_takes_exactly_the_registered_types_in_order() -> None:
    assert schemas.ACTIVITY_TYPES == ACTIVITY_TYPES == tuple(REGISTRY)
    assert _union_tags(schemas.ActivityCreate) == list(REGISTRY)


def test_the_phone_form_asks_for_what_each_type_requires() -> None:
    forms = activity_types.phone_form(REGISTRY)
    assert list(forms) == list(REGISTRY)
    for name, t in REGISTRY.items():
        asked = {f["name"] for f in forms[name]}
        required = {s.name for s in t.request_fields if s.required}
        assert required <= asked and asked, name
    assert forms["no_disposables"][0] == {
        "name": "item",
        "zh": "物品",
        "en": "Item",
        "kind": "select",
        "options": ["cup", "cutlery", "bag"],
    }
    assert h5.forms_module().startswith(
        "// Generated from backend/domain/accounting/activity_types.py.\nexport const FIELDS = {"
    )


def test_the_phone_page_loads_its_form_fields_from_the_registry() -> None:
    served = h5.get_static("activity-forms.js")
    assert served.status_code == 200 and served.headers["content-type"] == "text/javascript; charset=utf-8"
    assert bytes(served.body).decode() == h5.forms_module()
    page = (h5.H5_DIR / "h5.js").read_text(encoding="utf-8")
    assert 'import { FIELDS } from "./activity-forms.js";' in page


def test_names_kinds_bands_and_options_are_the_registrys() -> None:
    assert {name: (t.name_zh, t.name_en) for name, t in REGISTRY.items()} == ACTIVITY_TYPE_NAMES
    assert ACTIVITY_KINDS["carpool"] == {"distance"} and ACTIVITY_KINDS["ebike"] == {
        "distance",
        "electric_distance",
    }
    assert recognition.DEFAULT_BANDS["walk"] == band(1, 8, 12, 10, 42)
    assert recognition.RecognitionRules().bands == recognition.DEFAULT_BANDS
    assert set(recognition.MODE_FAMILY) == set(recognition.DEFAULT_BANDS)
    assert set(REQUIRED_OPTIONS) == {"recycling", "no_disposables"}


def test_a_calculator_kind_names_one_function_and_a_type_one_entry() -> None:
    clash = replace(SCOOTER, calculators={"electric_distance": REGISTRY["flight"].calculators["flight"]})
    with pytest.raises(ValueError, match="names two functions"):
        activity_types.registry_of((*activity_types.ACTIVITY_TYPE_LIST, clash))
    with pytest.raises(ValueError, match="registered twice"):
        activity_types.registry_of((*activity_types.ACTIVITY_TYPE_LIST, REGISTRY["walk"]))


def test_every_factor_set_computes_every_type_it_postdates() -> None:
    for factor_set in all_sets():
        required = {t for t, entry in REGISTRY.items() if entry.required_by(factor_set.effective_from)}
        assert required == set(ACTIVITY_TYPES)  # no type is newer than a built-in set yet
        assert required <= set(factor_set.methodology.get("activities", {})), factor_set.version


def test_the_factor_set_validator_reads_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A set must compute every type from the type's ``since`` on (published sets are pinned, so a
    new type arrives with a new set), with a calculator and a Scope 3 category its entry allows."""
    factor_set = next(s for s in all_sets() if s.version == "park-default-2027.1")

    def check(methodology: dict[str, Any]) -> datetime:
        return check_methodology(methodology, factor_set.factors, factor_set.parameters)

    later = replace(SCOOTER, since=datetime(2028, 1, 1, tzinfo=UTC))
    monkeypatch.setattr(activity_types, "REGISTRY", activity_types.registry_of((*ACTIVITY_TYPE_LIST, later)))
    assert check(factor_set.methodology) == factor_set.effective_from
    monkeypatch.setattr(
        activity_types, "REGISTRY", activity_types.registry_of((*ACTIVITY_TYPE_LIST, SCOOTER))
    )
    with pytest.raises(FactorSetError, match=r"missing \['scooter_shared'\]"):
        check(factor_set.methodology)
    methodology = copy.deepcopy(factor_set.methodology)
    methodology["activities"]["scooter_shared"] = copy.deepcopy(methodology["activities"]["ebike"])
    assert check(methodology) == factor_set.effective_from
    methodology["activities"]["scooter_shared"]["kind"] = "distance"
    with pytest.raises(FactorSetError, match=r"'distance' is not one of \['electric_distance'\]"):
        check(methodology)
    methodology["activities"]["scooter_shared"]["kind"] = "electric_distance"
    business_only = replace(SCOOTER, scope3_categories=(6,))
    monkeypatch.setattr(
        activity_types, "REGISTRY", activity_types.registry_of((*ACTIVITY_TYPE_LIST, business_only))
    )
    with pytest.raises(FactorSetError, match="may fall only in Scope 3 categories: 6"):
        check(methodology)


def test_the_factor_documentation_names_every_type() -> None:
    documented = (ROOT / "docs" / "emission-factors.md").read_text(encoding="utf-8")
    assert [t for t in ACTIVITY_TYPES if t not in documented] == []


def test_the_committed_reference_page_is_generated_from_the_registry() -> None:
    assert DOC.read_text(encoding="utf-8") == activity_types.reference_markdown(), (
        "docs/activity-types.md is stale: run "
        "`python -m backend.domain.accounting.activity_types > docs/activity-types.md`"
    )


def test_a_new_entry_is_all_a_new_type_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adds a hypothetical type to a copy of the registry, and a methodology for it to a copy of a
    factor set (factor data lives with the factor sets): the request schema, the recognition band,
    calculator dispatch, the demo park and the reference page pick it up with no other change."""
    registry = activity_types.registry_of((*activity_types.ACTIVITY_TYPE_LIST, SCOOTER))
    monkeypatch.setattr(activity_types, "REGISTRY", registry)

    adapter: TypeAdapter[Any] = TypeAdapter(schemas.activity_create(registry))
    body = {"type": "scooter_shared", "occurred_at": "2026-05-01T08:00:00+08:00", "distance_km": "3"}
    trip = adapter.validate_python({**body, "operator": "lime"})
    assert type(trip).__name__ == "SharedScooterTrip" and trip.region is None and trip.purpose == "commute"
    with pytest.raises(ValidationError) as refused:
        adapter.validate_python({**body, "operator": "bird"})
    assert refused.value.errors()[0]["loc"] == ("scooter_shared", "operator")
    assert "SharedScooterTrip" in str(adapter.json_schema())

    assert recognition.RecognitionRules().bands["scooter_shared"] == band(3, 22, 30, 15, 40)
    assert recognition.family_of("scooter_shared") == "cycle"
    quantities = {"distance_km": Decimal(8), "duration_min": Decimal(10)}  # 48 km/h
    when = datetime(2026, 5, 1, tzinfo=UTC)
    mine = recognition.footprint("a1", "scooter_shared", when, quantities, "manual")
    assessment = recognition.assess(
        "scooter_shared", quantities, mine, 100, [], 0, recognition.RecognitionRules()
    )
    assert {f.rule for f in assessment.findings if f.status == "rejected"} == {"mode_speed"}

    factor_set = next(s for s in all_sets() if s.version == "park-default-2026.1")
    with pytest.raises(InvalidInput, match="not supported"):
        normalize("scooter_shared", {"distance_km": "3"}, factor_set)
    methodology = copy.deepcopy(factor_set.methodology)
    methodology["activities"]["scooter_shared"] = methodology["activities"]["ebike"]
    with_scooter = replace(factor_set, methodology=methodology)
    scooter = normalize("scooter_shared", {"distance_km": "3"}, with_scooter)
    ebike = normalize("ebike", {"distance_km": "3"}, with_scooter)
    assert (scooter.co2e_avoided_g, scooter.co2e_scope3_g) == (ebike.co2e_avoided_g, ebike.co2e_scope3_g)
    assert scooter.co2e_avoided_g > 0 and scooter.scope3_category in SCOOTER.scope3_categories

    modes = {mode for mode, *_ in demo_park.commute_modes()}
    assert "scooter_shared" in modes and "scooter_shared" in demo_park.active_modes()
    assert "| `scooter_shared` | 共享电动滑板车 | Shared e-scooter |" in activity_types.reference_markdown(
        registry
    )


def test_without_its_entry_a_type_is_refused_everywhere() -> None:
    assert "scooter_shared" not in REGISTRY
    with pytest.raises(ValidationError):
        TypeAdapter(schemas.ActivityCreate).validate_python(
            {"type": "scooter_shared", "occurred_at": "2026-05-01T08:00:00+08:00", "distance_km": "3"}
        )
    assert "scooter_shared" not in recognition.RecognitionRules().bands


def test_every_free_text_field_of_the_registry_is_logged_only_as_a_commitment() -> None:
    """A field a person or a source types freely (text without a closed pattern) must be one of
    the quantities the leaf carries as an HMAC commitment: a new such field in the registry that
    is not would put raw text in the log."""
    free_text = {
        spec.name
        for entry in REGISTRY.values()
        for spec in entry.request_fields
        if spec.kind == "text" and spec.pattern is None
    }
    assert free_text  # source_record_id, at least: the check looks at real fields
    assert free_text <= set(FREE_TEXT_QUANTITIES), free_text - set(FREE_TEXT_QUANTITIES)
