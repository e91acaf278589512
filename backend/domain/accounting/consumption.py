"""Waste, consumption and energy: recycling (Scope 3 category 5 when it is the company's waste),
second-hand goods, refused disposables, clean plates and metered electricity saved.

Recycling follows DEFRA's cut-off approach: avoided = landfill − recycling treatment, and the
optional credit for displacing virgin material is reported separately, never in ``avoided``.
Goods, disposables, meals and household energy are not emissions of the company, so their Scope 3
figure is 0 with no category.
"""

from __future__ import annotations

from decimal import Decimal

from backend.domain.accounting.calculation import (
    KG_PER_T,
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
from backend.domain.accounting.factors import Factor, FactorSet
from backend.domain.accounting.travel import grid_region
from backend.domain.accounting.units import ENERGY, WEIGHT, Measured, plain, read_quantity
from backend.domain.errors import InvalidInput

SITES = ("office", "home")


def _weight(quantities: Quantities, max_kg: Decimal, activity_type: str) -> Measured:
    measured = read_quantity(quantities, WEIGHT, "weight_kg", "weight")
    assert measured is not None
    if measured.value > max_kg:
        raise InvalidInput(
            measured.field, f"must be at most {plain(max_kg)} kg for one {activity_type} record"
        )
    return measured


def _site(quantities: Quantities, default: str = "office") -> str:
    site = quantities.get("scope") or default
    if site not in SITES:
        raise InvalidInput("scope", "must be office or home")
    return str(site)


def _quantity_inputs(measured: Measured, base_field: str) -> dict[str, str]:
    inputs = {base_field: plain(measured.value)}
    if measured.field != base_field:
        inputs[measured.field] = measured.given
    return inputs


def recycling(
    activity_type: str, quantities: Quantities, factor_set: FactorSet, _baseline: str
) -> Calculation:
    if factor_set.schema >= 2:
        return recycling_mix(activity_type, quantities, factor_set)
    rules = factor_set.rules(activity_type)
    materials = rules["materials"]
    material = choose(quantities, "material", materials)
    spec = materials[material]
    measured = _weight(quantities, rule_decimal(rules, "max_weight_kg", "1000"), activity_type)
    weight_t = measured.value / KG_PER_T
    landfill = factor_set.factor(spec["landfill"])
    treatment = factor_set.factor(spec["recycling"])
    site = _site(quantities)
    inputs = {**_quantity_inputs(measured, "weight_kg"), "weight_t": plain(weight_t), "material": material}
    inputs["scope"] = site
    applied = [(treatment, "actual"), (landfill, "baseline")]
    separately: dict[str, int] = {}
    formula = (
        "avoided = max(0, weight_t × (landfill − recycling)); scope3 = weight_t × recycling (office waste)"
    )
    if "primary" in spec:
        primary = factor_set.factor(spec["primary"])
        closed_loop = factor_set.factor(spec["closed_loop"])
        applied += [(primary, "displaced_primary"), (closed_loop, "closed_loop_source")]
        credit_kg = at_least_zero(weight_t * (primary.value_kg - closed_loop.value_kg))
        separately["virgin_displacement_credit_g"] = to_grams(credit_kg)
        formula += "; virgin_displacement_credit = weight_t × (primary − closed_loop), reported separately"
    office = site == "office"
    return Calculation(
        co2e_avoided_g=to_grams(at_least_zero(weight_t * (landfill.value_kg - treatment.value_kg))),
        co2e_scope3_g=to_grams(weight_t * treatment.value_kg) if office else 0,
        scope3_category=int(rules["scope3_category"]) if office else None,
        baseline="landfill",
        inputs=inputs,
        factors=[entry(item, role) for item, role in applied],
        formula=formula,
        credited=True,
        note="" if office else "household waste is not the company's: no Scope 3 emission",
        reported_separately=separately,
        gas_basis=gas_basis([item for item, _ in applied]),
    )


def reuse(activity_type: str, quantities: Quantities, factor_set: FactorSet, _baseline: str) -> Calculation:
    rules = factor_set.rules(activity_type)
    item = choose(quantities, "item", rules["items"])
    factor = factor_set.factor(rules["items"][item])
    measured = _weight(quantities, rule_decimal(rules, "max_weight_kg", "200"), activity_type)
    weight_t = measured.value / KG_PER_T
    return Calculation(
        co2e_avoided_g=to_grams(weight_t * factor.value_kg),
        co2e_scope3_g=0,
        scope3_category=None,
        baseline="new_purchase",
        inputs={**_quantity_inputs(measured, "weight_kg"), "weight_t": plain(weight_t), "item": item},
        factors=[entry(factor, "displaced_production")],
        formula="avoided = weight_t × primary material production (the new item not made); scope3 = 0",
        credited=True,
        note="counts only the material of the item not made new, not its manufacture; not a Scope 3 emission",
        gas_basis=gas_basis([factor]),
    )


def per_item(
    activity_type: str, quantities: Quantities, factor_set: FactorSet, _baseline: str
) -> Calculation:
    rules = factor_set.rules(activity_type)
    item = choose(quantities, "item", rules["items"])
    factor = factor_set.factor(rules["items"][item])
    count = read_count(quantities, "count", int(rules["max_count"]))
    return Calculation(
        co2e_avoided_g=to_grams(count * factor.value_kg),
        co2e_scope3_g=0,
        scope3_category=None,
        baseline="single_use_item",
        inputs={"item": item, "count": str(count)},
        factors=[entry(factor, "displaced_production")],
        formula="avoided = count × per-item factor; scope3 = 0",
        credited=True,
        note="not a Scope 3 emission of the company",
        gas_basis=gas_basis([factor]),
    )


def per_meal(
    activity_type: str, quantities: Quantities, factor_set: FactorSet, _baseline: str
) -> Calculation:
    rules = factor_set.rules(activity_type)
    factor = factor_set.factor(rules["factor"])
    meals = read_count(quantities, "meals", int(rules["max_meals"]))
    return Calculation(
        co2e_avoided_g=to_grams(meals * factor.value_kg),
        co2e_scope3_g=0,
        scope3_category=None,
        baseline="plate_waste",
        inputs={"meals": str(meals)},
        factors=[entry(factor, "avoided_waste")],
        formula="avoided = meals × per-meal factor; scope3 = 0",
        credited=True,
        note="counts the disposal of food not wasted, not its production; not a Scope 3 emission",
        gas_basis=gas_basis([factor]),
    )


def energy(activity_type: str, quantities: Quantities, factor_set: FactorSet, _baseline: str) -> Calculation:
    rules = factor_set.rules(activity_type)
    measured = read_quantity(quantities, ENERGY, "kwh", "energy")
    assert measured is not None
    max_kwh = rule_decimal(rules, "max_kwh", "10000")
    if measured.value > max_kwh:
        raise InvalidInput(measured.field, f"must be at most {plain(max_kwh)} kWh for one record")
    region = grid_region(quantities, factor_set)
    grid = factor_set.grid_factor(region)
    site = _site(quantities)
    inputs = {**_quantity_inputs(measured, "kwh"), "region": region, "scope": site}
    note = (
        "office electricity is the company's Scope 2, so the saving is not a Scope 3 item"
        if site == "office"
        else "household electricity is not the company's: no Scope 3 emission"
    )
    return Calculation(
        co2e_avoided_g=to_grams(measured.value * grid.value_kg),
        co2e_scope3_g=0,
        scope3_category=None,
        baseline="grid_electricity",
        inputs=inputs,
        factors=[entry(grid, "grid")],
        formula="avoided = kwh × grid (location-based, kg CO2/kWh); scope3 = 0",
        credited=True,
        note=note,
        gas_basis=gas_basis([grid]),
    )


MIX_TREATMENTS = ("landfill", "incineration", "other")


def waste_region(quantities: Quantities, factor_set: FactorSet) -> tuple[str, dict[str, str]]:
    treatment = factor_set.methodology["waste_treatment"]
    mixes: dict[str, dict[str, str]] = treatment["mixes"]
    region = quantities.get("region") or treatment["default_region"]
    if region not in mixes:
        raise InvalidInput(
            "region",
            f"{region!r} has no waste treatment mix in {factor_set.version}: {', '.join(sorted(mixes))}",
        )
    return str(region), mixes[str(region)]


def recycling_mix(activity_type: str, quantities: Quantities, factor_set: FactorSet) -> Calculation:
    """Schema 2: recycling credited against what the waste would otherwise have met, the local
    treatment mix (landfill, incineration, other), cut-off approach; household by default."""
    rules = factor_set.rules(activity_type)
    materials = rules["materials"]
    material = choose(quantities, "material", materials)
    spec = materials[material]
    measured = _weight(quantities, rule_decimal(rules, "max_weight_kg", "1000"), activity_type)
    weight_t = measured.value / KG_PER_T
    site = _site(quantities, str(rules.get("default_scope", "home")))
    region, mix = waste_region(quantities, factor_set)
    treatment = factor_set.factor(spec["recycling"])
    applied: list[tuple[Factor, str]] = [(treatment, "actual")]
    counterfactual = Decimal(0)
    for name in MIX_TREATMENTS:
        factor = factor_set.factor(spec[name])
        applied.append((factor, f"counterfactual_{name}"))
        counterfactual += Decimal(mix[name]) * factor.value_kg
    inputs = {
        **_quantity_inputs(measured, "weight_kg"),
        "weight_t": plain(weight_t),
        "material": material,
        "scope": site,
        "region": region,
        **{f"share_{name}": mix[name] for name in MIX_TREATMENTS},
    }
    separately: dict[str, int] = {}
    formula = (
        "counterfactual = share_landfill × landfill + share_incineration × incineration "
        "+ share_other × other; avoided = max(0, weight_t × (counterfactual − recycling)); "
        "scope3 = weight_t × recycling (office waste)"
    )
    if "primary" in spec:
        primary = factor_set.factor(spec["primary"])
        closed_loop = factor_set.factor(spec["closed_loop"])
        applied += [(primary, "displaced_primary"), (closed_loop, "closed_loop_source")]
        separately["virgin_displacement_credit_g"] = to_grams(
            at_least_zero(weight_t * (primary.value_kg - closed_loop.value_kg))
        )
        formula += "; virgin_displacement_credit = weight_t × (primary − closed_loop), reported separately"
    office = site == "office"
    scope3_g = to_grams(weight_t * treatment.value_kg) if office else 0
    avoided_kg = at_least_zero(weight_t * (counterfactual - treatment.value_kg))
    shaping = [f for f, role in applied if role == "actual" or role.startswith("counterfactual")]
    provisional = any_provisional(shaping)
    notes = [f"counterfactual: the {region} treatment mix ({mix['source']})"]
    notes.append(
        "office waste logged by employees: Scope 3 category 5"
        if office
        else "household waste is not the company's: no Scope 3 emission"
    )
    if provisional and avoided_kg > 0:
        notes.append("a provisional value shapes this credit: it earns no points until verified")
    return Calculation(
        co2e_avoided_g=to_grams(avoided_kg),
        co2e_scope3_g=scope3_g,
        scope3_category=int(rules["scope3_category"]) if office else None,
        baseline="treatment_mix",
        inputs=inputs,
        factors=[entry(item, role) for item, role in applied],
        formula=formula,
        credited=True,
        note="; ".join(notes),
        reported_separately=separately,
        gas_basis=gas_basis([item for item, _ in applied]),
        scope3_by_gas=by_gas([(treatment, weight_t)] if office else [], scope3_g),
        provisional=provisional,
    )
