"""Emission factors and factor sets: the methodology every activity is computed with.

A factor set is versioned data (``emission_factors/sets/<version>/``, or a version an operator
published into the database); the loader turns it into these plain objects. Values are
:class:`~decimal.Decimal` in kg of the stated gas basis per unit, exactly as published, so nothing
is lost to binary floating point before the one rounding step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Source:
    publisher: str
    document: str
    table: str
    url: str = ""

    def cite(self) -> str:
        parts = [self.publisher, self.document]
        if self.table:
            parts.append(self.table)
        return ", ".join(parts)


@dataclass(frozen=True)
class Factor:
    id: str
    activity: str
    unit: str
    """Denominator of the factor, e.g. ``pkm`` (passenger-km), ``vkm``, ``kWh``, ``t``."""
    value_kg: Decimal
    """kg of ``gas_basis`` per ``unit``."""
    gas_basis: str
    """``CO2`` or ``CO2e``."""
    gwp: str
    """GWP set behind a CO2e value (``AR5``, ``AR6``), or ``-`` for CO2 only."""
    scope: str
    """``direct`` (tank-to-wheel / generation), ``wtt`` (well-to-tank) or ``lifecycle``."""
    region: str
    year: int
    source: Source
    status: str
    """How the value was checked (``verified``, ``derived``, ``provisional``)."""
    derivation: str = ""
    """For derived values: the expression over other factors and parameters that gives the value."""
    notes: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "value": str(self.value_kg),
            "unit": f"kg {self.gas_basis}/{self.unit}",
            "gas_basis": self.gas_basis,
            "gwp": self.gwp,
            "scope": self.scope,
            "region": self.region,
            "year": self.year,
            "source": self.source.cite(),
            "status": self.status,
            "derivation": self.derivation,
        }


@dataclass(frozen=True)
class Parameter:
    """A non-emission quantity behind derived factors (kWh/km, kg per item), with its source."""

    id: str
    value: Decimal
    unit: str
    description: str
    source: Source
    status: str
    derivation: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "value": str(self.value),
            "unit": self.unit,
            "gas_basis": "-",
            "gwp": "-",
            "scope": "-",
            "region": "-",
            "year": 0,
            "source": self.source.cite(),
            "status": self.status,
            "derivation": self.derivation,
        }


@dataclass(frozen=True)
class Baseline:
    name: str
    factor: Factor
    occupancy: Decimal
    description: str


@dataclass(frozen=True)
class FactorSet:
    version: str
    effective_from: datetime
    description: str
    factors: dict[str, Factor]
    methodology: dict[str, Any] = field(default_factory=dict)
    """Per-activity rules: which factor is actual, which is the baseline, eligibility bands."""
    content_hash: str = ""
    """SHA-256 (hex) of the set's canonical content; anchored in every checkpoint's meta."""
    parameters: dict[str, Parameter] = field(default_factory=dict)
    content: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The methodology document and factor rows exactly as hashed, for storage and display."""

    def factor(self, factor_id: str) -> Factor:
        try:
            return self.factors[factor_id]
        except KeyError:
            raise LookupError(f"factor set {self.version} has no factor {factor_id!r}") from None

    def parameter(self, parameter_id: str) -> Parameter:
        try:
            return self.parameters[parameter_id]
        except KeyError:
            raise LookupError(f"factor set {self.version} has no parameter {parameter_id!r}") from None

    def rules(self, activity_type: str) -> dict[str, Any]:
        activities: dict[str, Any] = self.methodology.get("activities", {})
        try:
            rules: dict[str, Any] = activities[activity_type]
        except KeyError:
            raise LookupError(f"factor set {self.version} has no methodology for {activity_type!r}") from None
        return rules

    @property
    def default_baseline(self) -> str:
        return str(self.methodology["default_baseline"])

    @property
    def baseline_names(self) -> list[str]:
        return sorted(self.methodology.get("baselines", {}))

    def baseline(self, name: str) -> Baseline:
        try:
            spec = self.methodology["baselines"][name]
        except KeyError:
            raise LookupError(f"factor set {self.version} has no baseline {name!r}") from None
        return Baseline(
            name=name,
            factor=self.factor(spec["factor"]),
            occupancy=Decimal(str(spec.get("occupancy", "1"))),
            description=str(spec.get("description", "")),
        )

    @property
    def grid_regions(self) -> dict[str, str]:
        regions: dict[str, str] = self.methodology.get("grid", {}).get("regions", {})
        return regions

    @property
    def default_grid_region(self) -> str:
        return str(self.methodology.get("grid", {}).get("default_region", "national"))

    def grid_factor(self, region: str) -> Factor:
        try:
            return self.factor(self.grid_regions[region])
        except KeyError:
            raise LookupError(f"factor set {self.version} has no grid factor for region {region!r}") from None

    def public_summary(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "description": self.description,
            "sha256": "0x" + self.content_hash,
            "default_baseline": self.default_baseline,
            "baselines": self.baseline_names,
            "factor_count": len(self.factors),
        }
