"""Validation of a factor set's methodology: structure, units, coverage and derivations.

Every check names the key (``activities.walk.min_distance_km``) or the CSV row it is about. A set
must cover every activity type of the public API with a calculator that type may use, so an
activity accepted under one set is computable under every later one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from backend.domain.accounting import activity_types
from backend.domain.accounting.factors import Factor, Parameter, Source
from emission_factors.derivation import DerivationError, evaluate
from emission_factors.errors import FactorSetError

METHODOLOGY_FILE = "methodology.toml"
FACTORS_FILE = "factors.csv"
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
TOP_LEVEL_KEYS = frozenset(
    {
        "version",
        "effective_from",
        "description",
        "description_zh",
        "rounding",
        "gas_basis",
        "default_baseline",
        "baselines",
        "grid",
        "parameters",
        "activities",
        "schema",
        "waste_treatment",
        "data_quality",
    }
)
SCHEMAS = (1, 2)
PARAMETER_KEYS = frozenset(
    {"value", "unit", "status", "description", "publisher", "document", "table", "url", "derivation"}
)
_DECIMAL = "decimal"
_INT = "int"
_TEXT = "text"
_BASELINE = "baseline"
_PARAM = "parameter"
_BOOL = "bool"
_SITE = "site"
# Per calculator: every allowed rule key → what it must be (a factor unit, a decimal, ...).
_TRAVEL_BANDS = {"min_distance_km": _DECIMAL, "max_distance_km": _DECIMAL, "max_speed_kmh": _DECIMAL}
_BASELINE_CHOICE = {"baseline": _BASELINE, "baseline_reason": _TEXT}
KIND_KEYS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "distance": (
        {"actual_factor": "pkm|vkm", "scope3_category": _INT},
        {
            **_TRAVEL_BANDS,
            **_BASELINE_CHOICE,
            "shared_factor": "vkm",
            "fuel_factors": "table:vkm",
            "min_occupants": _INT,
            "max_occupants": _INT,
            "default_occupants": _INT,
            "company_vehicle": _BOOL,
        },
    ),
    "electric_distance": (
        {"consumption_parameter": _PARAM, "scope3_category": _INT},
        {**_TRAVEL_BANDS, **_BASELINE_CHOICE, "company_vehicle": _BOOL},
    ),
    "flight": ({"scope3_category": _INT, "bands": "bands"}, {"max_speed_kmh": _DECIMAL}),
    "recycling": (
        {"scope3_category": _INT, "materials": "materials"},
        {"max_weight_kg": _DECIMAL, "default_scope": _SITE},
    ),
    "reuse": ({"items": "table:t"}, {"max_weight_kg": _DECIMAL}),
    "per_item": ({"items": "table:item", "max_count": _INT}, {}),
    "per_meal": ({"factor": "meal", "max_meals": _INT}, {}),
    "energy": ({}, {"max_kwh": _DECIMAL}),
}
SCOPE3_CATEGORY_BY_KIND = {"distance": 7, "electric_distance": 7, "flight": 6, "recycling": 5}
"""GHG Protocol categories: commuting 7 (business trips are moved to 6 per record), flights 6,
waste 5. A set cannot file an activity under another category."""


def _error(key: str, problem: str) -> FactorSetError:
    return FactorSetError(METHODOLOGY_FILE, f"{key}: {problem}")


def _decimal(value: Any, key: str, *, positive: bool = True) -> Decimal:
    try:
        number = (
            Decimal(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        )
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0 or (positive and number == 0):
        raise _error(key, f"{value!r} must be a {'positive' if positive else 'non-negative'} decimal string")
    return number


def _text(table: Mapping[str, Any], name: str, key: str, *, required: bool = True) -> str:
    value = table.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _error(f"{key}.{name}", "a non-empty string is required")
    return value.strip()


def _factor(factors: Mapping[str, Factor], factor_id: Any, units: str, key: str) -> Factor:
    factor = factors.get(factor_id) if isinstance(factor_id, str) else None
    if factor is None:
        raise _error(key, f"unknown factor {factor_id!r}")
    if factor.unit not in units.split("|"):
        raise _error(
            key, f"factor {factor_id!r} is per {factor.unit}; expected per {units.replace('|', ' or ')}"
        )
    return factor


def _table(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise _error(key, "must be a non-empty table")
    return value


def parse_parameters(methodology: Mapping[str, Any], factors: Mapping[str, Factor]) -> dict[str, Parameter]:
    parameters: dict[str, Parameter] = {}
    for name, spec in methodology.get("parameters", {}).items():
        key = f"parameters.{name}"
        if name in factors:
            raise _error(key, "a parameter may not share its id with a factor")
        table = _table(spec, key)
        unknown = sorted(set(table) - PARAMETER_KEYS)
        if unknown:
            raise _error(key, f"unknown keys {unknown}")
        status = _text(table, "status", key)
        if status not in ("verified", "derived", "provisional"):
            raise _error(f"{key}.status", f"{status!r} is not verified, derived or provisional")
        derivation = _text(table, "derivation", key, required=status == "derived")
        parameters[name] = Parameter(
            id=name,
            value=_decimal(table.get("value"), f"{key}.value", positive=False),
            unit=_text(table, "unit", key),
            description=_text(table, "description", key),
            source=Source(
                _text(table, "publisher", key),
                _text(table, "document", key),
                _text(table, "table", key, required=False),
                _text(table, "url", key, required=False),
            ),
            status=status,
            derivation=derivation,
        )
    return parameters


def _check_derivation(
    stated: Decimal, item_id: str, expression: str, values: Mapping[str, Decimal]
) -> str | None:
    """The problem with a derivation, or None when the stated value is its rounded result."""
    try:
        result, names = evaluate(expression, values.__getitem__)
    except DerivationError as exc:
        return f"derivation {expression!r}: {exc}"
    if item_id in names:
        return f"derivation {expression!r} refers to the value it derives"
    exponent = stated.as_tuple().exponent
    assert isinstance(exponent, int)
    rounded = result.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN)
    if rounded != stated:
        return f"value {stated} does not match its derivation {expression} = {result.normalize()}"
    return None


def check_derivations(
    factors: Mapping[str, Factor], parameters: Mapping[str, Parameter], rows: Mapping[str, int]
) -> None:
    values = {**{f.id: f.value_kg for f in factors.values()}, **{p.id: p.value for p in parameters.values()}}
    for factor in factors.values():
        if factor.derivation:
            problem = _check_derivation(factor.value_kg, factor.id, factor.derivation, values)
            if problem:
                raise FactorSetError(FACTORS_FILE, f"row {rows[factor.id]}: {problem}")
    for parameter in parameters.values():
        if parameter.derivation:
            problem = _check_derivation(parameter.value, parameter.id, parameter.derivation, values)
            if problem:
                raise _error(f"parameters.{parameter.id}.derivation", problem)


def _check_rule(
    key: str,
    expected: str,
    value: Any,
    methodology: Mapping[str, Any],
    factors: Mapping[str, Factor],
    parameters: Mapping[str, Parameter],
) -> None:
    if expected == _DECIMAL:
        _decimal(value, key)
    elif expected == _INT:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise _error(key, f"{value!r} must be a positive integer")
    elif expected == _TEXT:
        if not isinstance(value, str):
            raise _error(key, "must be a string")
    elif expected == _BOOL:
        if not isinstance(value, bool):
            raise _error(key, "must be true or false")
    elif expected == _SITE:
        if value not in ("office", "home"):
            raise _error(key, f"{value!r} must be office or home")
    elif expected == _BASELINE:
        if value not in methodology.get("baselines", {}):
            raise _error(key, f"{value!r} is not a defined baseline")
    elif expected == _PARAM:
        parameter = parameters.get(value) if isinstance(value, str) else None
        if parameter is None:
            raise _error(key, f"unknown parameter {value!r}")
        if not parameter.unit.startswith("kWh/"):
            raise _error(key, f"parameter {value!r} is in {parameter.unit}; expected kWh per km")
    elif expected.startswith("table:"):
        for name, factor_id in _table(value, key).items():
            _factor(factors, factor_id, expected.removeprefix("table:"), f"{key}.{name}")
    elif expected == "bands":
        _check_bands(key, value, factors)
    elif expected == "materials":
        for name, spec in _table(value, key).items():
            _check_material(f"{key}.{name}", _table(spec, f"{key}.{name}"), factors)
    else:
        _factor(factors, value, expected, key)


def _check_bands(key: str, bands: Any, factors: Mapping[str, Factor]) -> None:
    if not isinstance(bands, list) or not bands:
        raise _error(key, "must be a non-empty array of tables")
    previous = Decimal(0)
    for i, band in enumerate(bands):
        where = f"{key}[{i}]"
        if not isinstance(band, dict) or set(band) != {"max_distance_km", "factor", "rf_factor"}:
            raise _error(where, "needs exactly max_distance_km, factor and rf_factor")
        limit = _decimal(band["max_distance_km"], f"{where}.max_distance_km")
        if limit <= previous:
            raise _error(f"{where}.max_distance_km", "bands must be in increasing distance")
        previous = limit
        _factor(factors, band["factor"], "pkm", f"{where}.factor")
        _factor(factors, band["rf_factor"], "pkm", f"{where}.rf_factor")


def _check_material(key: str, spec: dict[str, Any], factors: Mapping[str, Factor]) -> None:
    allowed = {"landfill", "recycling", "primary", "closed_loop", "incineration", "other"}
    if not {"landfill", "recycling"} <= set(spec) <= allowed:
        raise _error(key, "needs landfill and recycling, and optionally primary with closed_loop")
    if ("primary" in spec) != ("closed_loop" in spec):
        raise _error(key, "primary and closed_loop go together")
    for name, factor_id in spec.items():
        _factor(factors, factor_id, "t", f"{key}.{name}")


def _check_activity(
    name: str,
    rules: Any,
    methodology: Mapping[str, Any],
    factors: Mapping[str, Factor],
    parameters: Mapping[str, Parameter],
) -> None:
    key = f"activities.{name}"
    rules = _table(rules, key)
    kind = rules.get("kind")
    entry = activity_types.REGISTRY[name]
    if kind not in entry.calculators:
        raise _error(f"{key}.kind", f"{kind!r} is not one of {sorted(entry.calculators)}")
    required, optional = KIND_KEYS[kind]
    missing = sorted(set(required) - set(rules))
    if missing:
        raise _error(key, f"missing {missing}")
    unknown = sorted(set(rules) - set(required) - set(optional) - {"kind"})
    if unknown:
        raise _error(key, f"unknown keys {unknown}")
    for rule, value in rules.items():
        if rule != "kind":
            expected = required.get(rule) or optional[rule]
            _check_rule(f"{key}.{rule}", expected, value, methodology, factors, parameters)
    expected_category = SCOPE3_CATEGORY_BY_KIND.get(kind)
    if expected_category is not None and rules["scope3_category"] != expected_category:
        raise _error(f"{key}.scope3_category", f"must be {expected_category} for {kind} activities")
    if "scope3_category" in rules and rules["scope3_category"] not in entry.scope3_categories:
        allowed = ", ".join(map(str, entry.scope3_categories)) or "none"
        raise _error(f"{key}.scope3_category", f"{name} may fall only in Scope 3 categories: {allowed}")
    if ("min_occupants" in rules) != ("max_occupants" in rules):
        raise _error(key, "min_occupants and max_occupants go together")
    if entry.promised_options is not None:
        option_key, promised = entry.promised_options
        lacking = sorted(promised - set(rules.get(option_key, {})))
        if lacking:
            raise _error(f"{key}.{option_key}", f"lacks {lacking}, which the API accepts")


BASELINE_KEYS = {
    "substitute": {"factor", "occupancy", "description", "description_zh", "city"},
    "reductions": {"kind", "modes", "fallback", "description", "description_zh", "city"},
}


def _check_baseline(
    key: str, spec: Mapping[str, Any], baselines: Mapping[str, Any], factors: Mapping[str, Factor]
) -> None:
    kind = spec.get("kind", "substitute")
    if kind not in BASELINE_KEYS:
        raise _error(f"{key}.kind", f"{kind!r} is not substitute or reductions")
    unknown = sorted(set(spec) - BASELINE_KEYS[kind] - {"kind"})
    if unknown:
        raise _error(key, f"unknown keys {unknown}")
    if kind == "substitute":
        _factor(factors, spec.get("factor"), "pkm|vkm", f"{key}.factor")
        _decimal(spec.get("occupancy", "1"), f"{key}.occupancy")
        return
    # A city methodology's own per-mode credits; modes it does not cover use the fallback.
    for mode, factor_id in _table(spec.get("modes"), f"{key}.modes").items():
        if mode not in activity_types.REGISTRY:
            raise _error(f"{key}.modes.{mode}", "is not an activity type")
        _factor(factors, factor_id, "pkm|trip", f"{key}.modes.{mode}")
    fallback = baselines.get(str(spec.get("fallback")))
    if not isinstance(fallback, dict) or fallback.get("kind", "substitute") != "substitute":
        raise _error(f"{key}.fallback", f"{spec.get('fallback')!r} must name a substitute baseline")


def _check_grid(methodology: Mapping[str, Any], factors: Mapping[str, Factor]) -> None:
    grid = _table(methodology.get("grid"), "grid")
    regions = _table(grid.get("regions"), "grid.regions")
    for region, factor_id in regions.items():
        _factor(factors, factor_id, "kWh", f"grid.regions.{region}")
    if grid.get("default_region") not in regions:
        raise _error("grid.default_region", f"{grid.get('default_region')!r} is not in grid.regions")


def _effective_from(methodology: Mapping[str, Any]) -> datetime:
    raw = methodology.get("effective_from")
    try:
        effective_from = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        effective_from = None
    if effective_from is None or effective_from.tzinfo is None:
        raise _error("effective_from", f"{raw!r} must be an ISO 8601 time with a UTC offset, as a string")
    return effective_from


def check_methodology(
    methodology: Mapping[str, Any], factors: Mapping[str, Factor], parameters: Mapping[str, Parameter]
) -> datetime:
    """Checks the whole methodology; returns its effective date."""
    unknown = sorted(set(methodology) - TOP_LEVEL_KEYS)
    if unknown:
        raise _error("(top level)", f"unknown keys {unknown}")
    version = methodology.get("version")
    if not isinstance(version, str) or not VERSION_PATTERN.fullmatch(version):
        raise _error("version", f"{version!r} must be 1–64 of A–Z, a–z, 0–9, '.', '_', '-'")
    effective_from = _effective_from(methodology)
    baselines = _table(methodology.get("baselines"), "baselines")
    for name, spec in baselines.items():
        _check_baseline(f"baselines.{name}", _table(spec, f"baselines.{name}"), baselines, factors)
    if methodology.get("default_baseline") not in baselines:
        raise _error("default_baseline", f"{methodology.get('default_baseline')!r} is not a defined baseline")
    _check_grid(methodology, factors)
    activities = _table(methodology.get("activities"), "activities")
    registry = activity_types.REGISTRY
    not_supported = sorted(set(activities) - set(registry))
    if not_supported:
        raise _error("activities", f"unknown activity types {not_supported}")
    uncovered = [
        t for t, entry in registry.items() if t not in activities and entry.required_by(effective_from)
    ]
    if uncovered:
        raise _error("activities", f"every activity type needs rules; missing {uncovered}")
    for name, rules in activities.items():
        _check_activity(name, rules, methodology, factors, parameters)
    schema = methodology.get("schema", 1)
    if schema not in SCHEMAS:
        raise _error("schema", f"{schema!r} is not one of {list(SCHEMAS)}")
    if schema >= 2:
        _check_waste_treatment(methodology, factors)
    elif "waste_treatment" in methodology:
        raise _error("waste_treatment", "needs schema = 2")
    return effective_from


MIX_SHARES = ("landfill", "incineration", "other")


def _check_waste_treatment(methodology: Mapping[str, Any], factors: Mapping[str, Factor]) -> None:
    """Schema 2: recycling is credited against the local treatment mix (shares summing to 1),
    so every material needs a factor for each treatment the mix names."""
    treatment = _table(methodology.get("waste_treatment"), "waste_treatment")
    mixes = _table(treatment.get("mixes"), "waste_treatment.mixes")
    default = treatment.get("default_region")
    if default not in mixes:
        raise _error("waste_treatment.default_region", f"{default!r} is not in waste_treatment.mixes")
    for region, mix in mixes.items():
        key = f"waste_treatment.mixes.{region}"
        mix = _table(mix, key)
        unknown = sorted(set(mix) - {*MIX_SHARES, "source"})
        if unknown or not set(MIX_SHARES) <= set(mix):
            raise _error(key, f"needs exactly {list(MIX_SHARES)} (shares) and source; unknown {unknown}")
        shares = [_decimal(mix[name], f"{key}.{name}", positive=False) for name in MIX_SHARES]
        if sum(shares) != 1:
            raise _error(key, f"shares add up to {sum(shares)}, not 1")
        _text(mix, "source", key)
    materials = methodology["activities"]["recycling"]["materials"]
    for name, spec in materials.items():
        for treatment_name in ("incineration", "other"):
            if treatment_name not in spec:
                raise _error(
                    f"activities.recycling.materials.{name}",
                    f"schema 2 credits against the treatment mix: {treatment_name} factor required",
                )
