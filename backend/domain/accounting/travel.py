"""Travel: avoided emissions against a baseline per passenger-km, and actual commuting (Scope 3
category 7) or business-travel (category 6) emissions.

Eligibility is part of the methodology: a trip shorter than the mode's ``min_distance_km`` keeps
its inventory emissions but earns no avoided credit (a 300 m walk does not replace a motorised
trip), and a duration implying an implausible speed is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from backend.domain.accounting.calculation import (
    CLAIM_NOTICE,
    SCOPE3_BUSINESS_TRAVEL,
    Calculation,
    Quantities,
    any_provisional,
    at_least_zero,
    by_gas,
    choose,
    entry,
    gas_basis,
    read_count,
    rule_decimal,
    to_grams,
)
from backend.domain.accounting.factors import Baseline, Factor, FactorSet, Parameter
from backend.domain.accounting.units import DISTANCE, DURATION, Measured, plain, read_quantity
from backend.domain.errors import ActivityRejected, InvalidInput

MINUTES_PER_HOUR = Decimal(60)
SPEED_DECIMALS = Decimal("0.1")


def _distance(quantities: Quantities, rules: dict[str, Any], activity_type: str) -> Measured:
    measured = read_quantity(quantities, DISTANCE, "distance_km", "distance")
    assert measured is not None
    max_km = rule_decimal(rules, "max_distance_km", "20000")
    if measured.value > max_km:
        # The same refusal, and rule name, as the recognition screen's
        # (backend/domain/recording/recognition.py):
        # a client sees one kind of answer for an implausible trip, whichever check caught it.
        reason = f"must be at most {plain(max_km)} km for {activity_type}"
        raise ActivityRejected(measured.field, reason, "mode_distance")
    return measured


def _check_speed(
    quantities: Quantities, distance_km: Decimal, rules: dict[str, Any], activity_type: str
) -> dict[str, str]:
    duration = read_quantity(quantities, DURATION, "duration_min", "duration", required=False)
    if duration is None:
        return {}
    speed_kmh = distance_km * MINUTES_PER_HOUR / duration.value
    max_speed = rule_decimal(rules, "max_speed_kmh", "1000")
    if speed_kmh > max_speed:
        raise ActivityRejected(
            duration.field,
            f"{plain(distance_km)} km in {duration.given} is {speed_kmh.quantize(SPEED_DECIMALS)} km/h, "
            f"faster than the {plain(max_speed)} km/h plausible for {activity_type}",
            "mode_speed",
        )
    return {"duration_min": plain(duration.value)}


def _purpose_category(quantities: Quantities, rules: dict[str, Any]) -> tuple[str, int]:
    purpose = str(quantities.get("purpose") or "commute")
    if purpose not in ("commute", "business"):
        raise InvalidInput("purpose", "must be commute or business")
    category = SCOPE3_BUSINESS_TRAVEL if purpose == "business" else int(rules["scope3_category"])
    return purpose, category


def _baseline(
    factor_set: FactorSet, rules: dict[str, Any], park_baseline: str, activity_type: str
) -> tuple[Baseline, str]:
    fixed = rules.get("baseline")
    if fixed:
        return factor_set.baseline(str(fixed)), str(rules.get("baseline_reason", ""))
    chosen = factor_set.baseline(park_baseline)
    if chosen.kind == "reductions" and activity_type not in chosen.reductions:
        # A city methodology credits only the modes it covers; the others take the set's stated
        # fallback (the national conservative default), and the record says so.
        assert chosen.fallback is not None
        reason = (
            f"the {chosen.name} methodology ({chosen.city}) does not cover {activity_type}; "
            f"its stated fallback {chosen.fallback} applies"
        )
        return factor_set.baseline(chosen.fallback), reason
    return chosen, ""


VEHICLE_OWNERS = ("personal", "company")


def _vehicle_owner(quantities: Quantities, rules: dict[str, Any], factor_set: FactorSet) -> str:
    """Whose vehicle it was: a company-owned vehicle's emissions are the company's Scope 1 (fuel)
    or Scope 2 (electricity), never Scope 3 category 6 or 7."""
    owner = quantities.get("vehicle_owner")
    if owner is None:
        return "personal"
    if owner not in VEHICLE_OWNERS:
        raise InvalidInput("vehicle_owner", "must be personal or company")
    if owner == "company" and not rules.get("company_vehicle"):
        raise InvalidInput(
            "vehicle_owner", f"company vehicles are not a choice for this activity under {factor_set.version}"
        )
    return str(owner)


def _vehicle_factor(
    quantities: Quantities, rules: dict[str, Any], factor_set: FactorSet
) -> tuple[Factor, Decimal, dict[str, str]]:
    """The actual factor and the people sharing it (a per-vehicle factor is split by occupants)."""
    inputs: dict[str, str] = {}
    occupants: int | None = None
    if "default_occupants" in rules:
        # One explicit default (schema 2 taxis): the per-vehicle factor ÷ the people sharing it,
        # the employee alone unless they say otherwise.
        given = quantities.get("occupants")
        occupants = (
            read_count(quantities, "occupants", int(rules.get("max_occupants", 8)))
            if given is not None
            else int(rules["default_occupants"])
        )
        factor = factor_set.factor(rules["shared_factor"])
        inputs["occupants"] = str(occupants)
        if given is None:
            inputs["occupants_default"] = "true"
        return factor, Decimal(occupants), inputs
    if "min_occupants" in rules:
        occupants = read_count(
            quantities, "occupants", int(rules["max_occupants"]), minimum=int(rules["min_occupants"])
        )
    elif "shared_factor" in rules and quantities.get("occupants") is not None:
        occupants = read_count(quantities, "occupants", int(rules.get("max_occupants", 8)))
    if "fuel_factors" in rules:
        fuel = choose(quantities, "fuel", rules["fuel_factors"], default="petrol")
        factor = factor_set.factor(rules["fuel_factors"][fuel])
        inputs["fuel"] = fuel
    elif occupants is not None and "shared_factor" in rules:
        factor = factor_set.factor(rules["shared_factor"])
    else:
        factor = factor_set.factor(rules["actual_factor"])
    sharing = Decimal(occupants) if occupants and factor.unit == "vkm" else Decimal(1)
    if occupants is not None:
        inputs["occupants"] = str(occupants)
    return factor, sharing, inputs


def _trip(
    activity_type: str,
    quantities: Quantities,
    rules: dict[str, Any],
    baseline: Baseline,
    actual_kg_per_km: Decimal,
    applied: list[tuple[Factor | Parameter, str]],
    formula_actual: str,
    extra_inputs: dict[str, str],
    baseline_reason: str,
    factor_set: FactorSet | None = None,
    per_gas: list[tuple[Factor, Decimal]] | None = None,
) -> Calculation:
    if factor_set is not None and factor_set.schema >= 2:
        return _trip_v2(
            activity_type,
            quantities,
            rules,
            baseline,
            actual_kg_per_km,
            applied,
            formula_actual,
            extra_inputs,
            baseline_reason,
            factor_set,
            per_gas or [],
        )
    if quantities.get("vehicle_owner") not in (None, "personal"):
        raise InvalidInput("vehicle_owner", "company vehicles are recorded from park-default-2027.1 on")
    assert baseline.factor is not None
    measured = _distance(quantities, rules, activity_type)
    distance_km = measured.value
    inputs = {"distance_km": plain(distance_km), **extra_inputs}
    if measured.field != "distance_km":
        inputs["distance"] = measured.given
    inputs.update(_check_speed(quantities, distance_km, rules, activity_type))
    purpose, category = _purpose_category(quantities, rules)
    inputs["purpose"] = purpose
    inputs["baseline_occupancy"] = plain(baseline.occupancy)

    baseline_kg = distance_km * baseline.factor.value_kg / baseline.occupancy
    actual_kg = distance_km * actual_kg_per_km
    min_km = rule_decimal(rules, "min_distance_km", "0")
    credited = distance_km >= min_km
    avoided_kg = at_least_zero(baseline_kg - actual_kg) if credited else Decimal(0)
    notes = []
    if not credited:
        notes.append(
            f"trips shorter than {plain(min_km)} km earn no avoided-emission credit "
            "(they do not replace a motorised trip)"
        )
    elif baseline_kg <= actual_kg:
        notes.append("no avoided credit: this trip emits at least as much as the baseline")
    if baseline_reason:
        notes.append(f"baseline {baseline.name}: {baseline_reason}")
    factors = [*applied, (baseline.factor, "baseline")]
    return Calculation(
        co2e_avoided_g=to_grams(avoided_kg),
        co2e_scope3_g=to_grams(actual_kg),
        scope3_category=category,
        baseline=baseline.name,
        inputs=inputs,
        factors=[entry(item, role) for item, role in factors],
        formula=(
            f"actual = {formula_actual}; baseline = distance_km × baseline ÷ baseline_occupancy; "
            "avoided = max(0, baseline − actual), 0 below min_distance_km; scope3 = actual"
        ),
        credited=credited,
        note="; ".join(notes),
        gas_basis=gas_basis([item for item, _ in factors]),
    )


def distance_trip(
    activity_type: str, quantities: Quantities, factor_set: FactorSet, park_baseline: str
) -> Calculation:
    rules = factor_set.rules(activity_type)
    baseline, reason = _baseline(factor_set, rules, park_baseline, activity_type)
    factor, sharing, inputs = _vehicle_factor(quantities, rules, factor_set)
    shared = sharing != 1 or "default_occupants" in rules
    formula = "distance_km × actual ÷ occupants" if shared else "distance_km × actual"
    return _trip(
        activity_type,
        quantities,
        rules,
        baseline,
        factor.value_kg / sharing,
        [(factor, "actual")],
        formula,
        inputs,
        reason,
        factor_set,
        [(factor, 1 / sharing)],
    )


def electric_trip(
    activity_type: str, quantities: Quantities, factor_set: FactorSet, park_baseline: str
) -> Calculation:
    rules = factor_set.rules(activity_type)
    baseline, reason = _baseline(factor_set, rules, park_baseline, activity_type)
    consumption = factor_set.parameter(rules["consumption_parameter"])
    region = grid_region(quantities, factor_set)
    grid = factor_set.grid_factor(region)
    return _trip(
        activity_type,
        quantities,
        rules,
        baseline,
        consumption.value * grid.value_kg,
        [(consumption, "consumption"), (grid, "grid")],
        "distance_km × consumption (kWh/km) × grid (kg/kWh)",
        {"region": region},
        reason,
        factor_set,
        [(grid, consumption.value)],
    )


def _trip_v2(
    activity_type: str,
    quantities: Quantities,
    rules: dict[str, Any],
    baseline: Baseline,
    actual_kg_per_km: Decimal,
    applied: list[tuple[Factor | Parameter, str]],
    formula_actual: str,
    extra_inputs: dict[str, str],
    baseline_reason: str,
    factor_set: FactorSet,
    per_gas: list[tuple[Factor, Decimal]],
) -> Calculation:
    """Schema 2: city methodologies' own credits, company vehicles, gases, provisional values."""
    measured = _distance(quantities, rules, activity_type)
    distance_km = measured.value
    inputs = {"distance_km": plain(distance_km), **extra_inputs}
    if measured.field != "distance_km":
        inputs["distance"] = measured.given
    inputs.update(_check_speed(quantities, distance_km, rules, activity_type))
    purpose, category = _purpose_category(quantities, rules)
    inputs["purpose"] = purpose
    owner = _vehicle_owner(quantities, rules, factor_set)
    if rules.get("company_vehicle"):
        inputs["vehicle_owner"] = owner
    actual_kg = distance_km * actual_kg_per_km
    min_km = rule_decimal(rules, "min_distance_km", "0")
    credited = distance_km >= min_km
    notes: list[str] = []
    reduction = baseline.reductions.get(activity_type) if baseline.kind == "reductions" else None
    if reduction is not None:
        per_trip = reduction.per == "trip"
        credit_kg = reduction.factor.value_kg if per_trip else distance_km * reduction.factor.value_kg
        avoided_kg = credit_kg if credited else Decimal(0)
        factors = [*applied, (reduction.factor, "reduction")]
        formula_avoided = (
            "avoided = the city methodology's credit per trip"
            if per_trip
            else "avoided = distance_km × reduction (the city methodology's credit per pkm)"
        )
    else:
        assert baseline.factor is not None
        inputs["baseline_occupancy"] = plain(baseline.occupancy)
        baseline_kg = distance_km * baseline.factor.value_kg / baseline.occupancy
        avoided_kg = at_least_zero(baseline_kg - actual_kg) if credited else Decimal(0)
        if credited and baseline_kg <= actual_kg:
            notes.append("no avoided credit: this trip emits at least as much as the baseline")
        factors = [*applied, (baseline.factor, "baseline")]
        formula_avoided = (
            "baseline = distance_km × baseline ÷ baseline_occupancy; avoided = max(0, baseline − actual)"
        )
    if not credited:
        notes.append(
            f"trips shorter than {plain(min_km)} km earn no avoided-emission credit "
            "(they do not replace a motorised trip)"
        )
    if baseline_reason:
        notes.append(f"baseline {baseline.name}: {baseline_reason}")
    scope3_g = to_grams(actual_kg)
    separately: dict[str, int] = {}
    if owner == "company":
        key = "scope2_g" if any(role == "grid" for _, role in applied) else "scope1_g"
        separately[key] = scope3_g
        notes.append(
            "company-owned vehicle: its fuel (Scope 1) or electricity (Scope 2) is the company's own, "
            "reported there and kept out of Scope 3"
        )
    provisional = any_provisional([item for item, _ in factors])
    if provisional and avoided_kg > 0:
        notes.append("a provisional value shapes this credit: it earns no points until verified")
    items = [item for item, _ in factors]
    return Calculation(
        co2e_avoided_g=to_grams(avoided_kg),
        co2e_scope3_g=0 if owner == "company" else scope3_g,
        scope3_category=None if owner == "company" else category,
        baseline=baseline.name,
        inputs=inputs,
        factors=[entry(item, role) for item, role in factors],
        formula=(
            f"actual = {formula_actual}; {formula_avoided}; 0 below min_distance_km; "
            "scope3 = actual (0 for a company-owned vehicle: Scope 1/2)"
        ),
        credited=credited,
        note="; ".join(notes),
        reported_separately=separately,
        gas_basis=gas_basis(items),
        scope3_by_gas=by_gas([(f, q * distance_km) for f, q in per_gas], scope3_g)
        if owner != "company"
        else {"CO2": 0, "CH4": 0, "N2O": 0, "gwp": "-"},
        provisional=provisional,
        claim_notice=CLAIM_NOTICE if avoided_kg > 0 else None,
    )


def grid_region(quantities: Quantities, factor_set: FactorSet) -> str:
    region = quantities.get("region") or factor_set.default_grid_region
    if region not in factor_set.grid_regions:
        raise InvalidInput(
            "region",
            f"{region!r} is not a grid region of {factor_set.version}: "
            f"{', '.join(sorted(factor_set.grid_regions))}",
        )
    return str(region)


def flight(
    activity_type: str, quantities: Quantities, factor_set: FactorSet, _park_baseline: str
) -> Calculation:
    rules = factor_set.rules(activity_type)
    if quantities.get("purpose", "business") != "business":
        raise InvalidInput("purpose", "flights are recorded as business travel (Scope 3 category 6) only")
    bands = rules["bands"]
    measured = read_quantity(quantities, DISTANCE, "distance_km", "distance")
    assert measured is not None
    distance_km = measured.value
    band = next((b for b in bands if distance_km <= Decimal(str(b["max_distance_km"]))), None)
    if band is None:
        raise InvalidInput(
            measured.field,
            f"flights over {bands[-1]['max_distance_km']} km need a long-haul factor, "
            f"which {factor_set.version} does not have",
        )
    inputs = {
        "distance_km": plain(distance_km),
        "purpose": "business",
        "band_max_km": str(band["max_distance_km"]),
    }
    if measured.field != "distance_km":
        inputs["distance"] = measured.given
    inputs.update(_check_speed(quantities, distance_km, rules, activity_type))
    factor = factor_set.factor(band["factor"])
    with_rf = factor_set.factor(band["rf_factor"])
    v2 = factor_set.schema >= 2
    scope3_g = to_grams(distance_km * factor.value_kg)
    return Calculation(
        co2e_avoided_g=0,
        co2e_scope3_g=scope3_g,
        scope3_category=int(rules["scope3_category"]),
        baseline=None,
        inputs=inputs,
        factors=[entry(factor, "actual"), entry(with_rf, "radiative_forcing")],
        formula=(
            "scope3 = distance_km × actual (no radiative forcing); "
            "co2e_with_radiative_forcing = distance_km × radiative_forcing, reported separately; avoided = 0"
        ),
        credited=False,
        note="business flights count in Scope 3 category 6 only; they earn no avoided-emission credit",
        reported_separately={"co2e_with_radiative_forcing_g": to_grams(distance_km * with_rf.value_kg)},
        gas_basis=gas_basis([factor]),
        scope3_by_gas=by_gas([(factor, distance_km)], scope3_g) if v2 else None,
        provisional=False if v2 else None,
    )
