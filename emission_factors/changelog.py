"""What changed between two factor sets: factors added, removed and changed (field by field), and
the methodology's changes (baselines, grid, treatment mixes, activity rules), so a reader of a new
version sees exactly what differs from the one before (GET /api/v1/factor-sets/{a}/diff/{b},
docs/factor-set-changelog.md)."""

from __future__ import annotations

from typing import Any

from backend.domain.accounting.factors import FactorSet
from emission_factors.loader import REQUIRED_COLUMNS

FACTOR_FIELDS = tuple(name for name in REQUIRED_COLUMNS if name not in ("id", "notes"))
"""A factor's fields a changelog compares: every required column but its id and free notes."""


PROVENANCE_FIELDS = ("document_status", "document_sha256", "read_from")
"""Compared where both sets state provenance (the second file format)."""


def _row(factor_set: FactorSet, factor_id: str) -> dict[str, str]:
    factor = factor_set.factors[factor_id]
    provenance = {}
    if factor.provenance is not None:
        provenance = {
            "document_status": factor.provenance.document_status,
            "document_sha256": factor.provenance.document_sha256,
            "read_from": factor.provenance.read_from,
        }
    return {
        **provenance,
        "activity": factor.activity,
        "unit": factor.unit,
        "value": str(factor.value_kg),
        "gas_basis": factor.gas_basis,
        "gwp": factor.gwp,
        "scope": factor.scope,
        "region": factor.region,
        "year": str(factor.year),
        "publisher": factor.source.publisher,
        "document": factor.source.document,
        "table": factor.source.table,
        "url": factor.source.url,
        "status": factor.status,
        "derivation": factor.derivation,
    }


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


SKIPPED_KEYS = frozenset({"version", "description", "description_zh"})


def diff_sets(before: FactorSet, after: FactorSet) -> dict[str, Any]:
    """The changes from ``before`` to ``after`` (both validated sets)."""
    old_ids, new_ids = set(before.factors), set(after.factors)
    changed = []
    for factor_id in sorted(old_ids & new_ids):
        a, b = _row(before, factor_id), _row(after, factor_id)
        compared = [*FACTOR_FIELDS, *(f for f in PROVENANCE_FIELDS if f in a and f in b)]
        fields = {f: {"before": a[f], "after": b[f]} for f in compared if a[f] != b[f]}
        if fields:
            changed.append({"id": factor_id, "changes": fields})
    old_m = {k: v for k, v in _flatten(before.methodology).items() if k.split(".")[0] not in SKIPPED_KEYS}
    new_m = {k: v for k, v in _flatten(after.methodology).items() if k.split(".")[0] not in SKIPPED_KEYS}
    methodology = [
        {"key": key, "before": old_m.get(key), "after": new_m.get(key)}
        for key in sorted(set(old_m) | set(new_m))
        if old_m.get(key) != new_m.get(key)
    ]
    return {
        "from": {"version": before.version, "sha256": "0x" + before.content_hash},
        "to": {"version": after.version, "sha256": "0x" + after.content_hash},
        "effective_from": {"from": before.effective_from.isoformat(), "to": after.effective_from.isoformat()},
        "factors_added": [after.factors[i].public() for i in sorted(new_ids - old_ids)],
        "factors_removed": [before.factors[i].public() for i in sorted(old_ids - new_ids)],
        "factors_changed": changed,
        "methodology_changed": methodology,
        "default_baseline": {"before": before.default_baseline, "after": after.default_baseline},
    }
