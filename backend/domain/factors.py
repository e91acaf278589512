"""Emission factors and factor sets: the methodology every activity is computed with.

A factor set is versioned data (``emission_factors/sets/<version>/``); the loader turns it into
these plain objects. Values are :class:`~decimal.Decimal` in kg of the stated gas basis per unit,
exactly as published, so nothing is lost to binary floating point before the one rounding step.
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
    """``direct`` (tank-to-wheel / generation) or ``wtt`` (well-to-tank)."""
    region: str
    year: int
    source: Source
    status: str
    """How the value was checked (``verified``, ``derived``, ``provisional``)."""
    derivation: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "value": str(self.value_kg),
            "unit": f"kg {self.gas_basis}/{self.unit}",
            "gas_basis": self.gas_basis,
            "gwp": self.gwp,
            "region": self.region,
            "year": self.year,
            "source": self.source.cite(),
            "status": self.status,
        }


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

    def factor(self, factor_id: str) -> Factor:
        try:
            return self.factors[factor_id]
        except KeyError:
            raise LookupError(f"factor set {self.version} has no factor {factor_id!r}") from None

    def rules(self, activity_type: str) -> dict[str, Any]:
        activities: dict[str, Any] = self.methodology.get("activities", {})
        try:
            rules: dict[str, Any] = activities[activity_type]
        except KeyError:
            raise LookupError(f"factor set {self.version} has no methodology for {activity_type!r}") from None
        return rules
