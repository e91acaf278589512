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

GASES = ("CO2", "CH4", "N2O")
"""The Kyoto gases a transport or waste factor splits into (kg CO2e of each gas per unit)."""
QUALITY_INDICATORS = ("technology", "time", "geography", "completeness", "reliability")
"""GHG Protocol Scope 3 Standard (2011), Table 7.6: the five data quality indicators."""
QUALITY_LABELS = {1: "very good", 2: "good", 3: "fair", 4: "poor"}
"""Scores of each indicator, 1 (very good) to 4 (poor), as the Standard's four levels."""


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
class Provenance:
    """Where a value comes from beyond its citation (second file format): whether the primary
    document is archived with the set (then its SHA-256), and where the value was read when not."""

    document_status: str
    """``archived``, ``not_archived``, ``not_identified`` or ``own_methodology``."""
    document_sha256: str = ""
    read_from: str = ""

    def public(self) -> dict[str, str]:
        out = {"document_status": self.document_status}
        if self.document_sha256:
            out["document_sha256"] = self.document_sha256
        if self.read_from:
            out["read_from"] = self.read_from
        return out


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
    gases: dict[str, Decimal] | None = None
    """kg CO2e of each gas (CO2, CH4, N2O) per unit, where the source splits the value."""
    quality: dict[str, int] | None = None
    """Data quality scores (1 very good … 4 poor) per indicator of :data:`QUALITY_INDICATORS`."""
    provenance: Provenance | None = None
    """The primary document's archive status and hash, and where the value was read."""

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
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
        # Sets without these columns (park-default-2026.1) keep the exact shape their results
        # were logged with.
        if self.gases is not None:
            out["gases"] = {gas: str(value) for gas, value in self.gases.items()}
        if self.quality is not None:
            out["data_quality"] = dict(self.quality)
        if self.provenance is not None:
            out.update(self.provenance.public())
        return out

    @property
    def is_proxy(self) -> bool:
        """Scored fair or poor on geography or technology: a stand-in (a UK factor used in China)."""
        return self.quality is not None and max(self.quality["geography"], self.quality["technology"]) >= 3


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
class Reduction:
    """A city methodology's credit for one mode: kg CO2 per passenger-km or per trip."""

    factor: Factor
    per: str
    """``pkm`` (× distance) or ``trip`` (a fixed credit per trip)."""


@dataclass(frozen=True)
class Baseline:
    name: str
    factor: Factor | None
    """The substitute's emission per pkm or vkm (``kind = "substitute"``), None for reductions."""
    occupancy: Decimal
    description: str
    kind: str = "substitute"
    """``substitute``: avoided = distance × baseline − actual; ``reductions``: a city methodology's
    own per-mode credit, avoided = distance × reduction (or a credit per trip)."""
    reductions: dict[str, Reduction] = field(default_factory=dict)
    fallback: str | None = None
    """For ``reductions``: the baseline used for modes the city methodology does not cover."""
    city: str = ""


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
        kind = str(spec.get("kind", "substitute"))
        if kind == "reductions":
            reductions = {
                mode: Reduction(self.factor(factor_id), self.factor(factor_id).unit)
                for mode, factor_id in spec.get("modes", {}).items()
            }
            return Baseline(
                name=name,
                factor=None,
                occupancy=Decimal(1),
                description=str(spec.get("description", "")),
                kind=kind,
                reductions=reductions,
                fallback=str(spec["fallback"]),
                city=str(spec.get("city", "")),
            )
        return Baseline(
            name=name,
            factor=self.factor(spec["factor"]),
            occupancy=Decimal(str(spec.get("occupancy", "1"))),
            description=str(spec.get("description", "")),
            city=str(spec.get("city", "")),
        )

    @property
    def schema(self) -> int:
        """1 for park-default-2026.1's format; 2 adds gases, data quality, city baselines, mixes."""
        return int(self.methodology.get("schema", 1))

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
