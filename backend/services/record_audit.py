"""What an auditor checks beyond the Merkle tree: stored records against their leaves, and totals.

The tree proves the *leaves* are what was anchored. Reports and balances, however, are computed
from the database's records (the read model). :class:`RecordAudit` walks the leaves in order
beside the records the server serves for them and names every record whose stored fields differ
from what was logged, every logged record without a stored one, and every checkpoint whose
anchored totals (meta document) the leaves do not add up to. Pure: no I/O, no framework.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.domain.activities import normalize
from backend.domain.errors import CarbonLedgerError
from backend.domain.factors import FactorSet

ACTIVITY_FIELDS = (
    "type",
    "org",
    "dept",
    "source",
    "quantities",
    "co2e_avoided_g",
    "co2e_scope3_g",
    "scope3_category",
    "calculation",
)
"""Body fields of an activity leaf that the stored record must repeat exactly."""
LOGGED_IF_PRESENT = ("points",)
"""Fields compared only when the leaf carries them: activities logged since the points ledger
carry no points (their issuance is a ``points_transfer`` record of its own)."""
TOTAL_KEYS = ("activities", "co2e_avoided_g", "co2e_scope3_g", "points_issued", "reversals")


ENVELOPE_KEYS = frozenset({"v", "kind", "id", "salt", "subject", "body"})


def decode_leaf(leaf: bytes) -> dict[str, Any] | None:
    """The record envelope a leaf holds, or None for bytes that are not one."""
    try:
        record = json.loads(leaf)
    except ValueError:
        return None
    if not isinstance(record, dict) or not record.keys() >= ENVELOPE_KEYS:
        return None
    return record


def describe(index: int, record: dict[str, Any] | None) -> str:
    if record is None:
        return f"leaf {index}"
    return f"leaf {index} ({record.get('kind')} record {record.get('id')})"


def _same_instant(a: Any, b: Any) -> bool:
    try:
        return datetime.fromisoformat(str(a)) == datetime.fromisoformat(str(b))
    except ValueError:
        return False


def _activity_differences(body: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    differences = [
        f"{name}: logged {body.get(name)!r}, stored {stored.get(name)!r}"
        for name in (*ACTIVITY_FIELDS, *(f for f in LOGGED_IF_PRESENT if f in body))
        if body.get(name) != stored.get(name)
    ]
    if not _same_instant(body.get("occurred_at"), stored.get("occurred_at")):
        differences.append(
            f"occurred_at: logged {body.get('occurred_at')}, stored {stored.get('occurred_at')}"
        )
    logged_set = (body.get("factor_set") or {}).get("version")
    if logged_set != stored.get("factor_set"):
        differences.append(f"factor_set: logged {logged_set!r}, stored {stored.get('factor_set')!r}")
    return differences


def _correction_differences(body: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    differences = []
    if (body.get("corrects") or {}).get("id") != stored.get("activity_id"):
        differences.append(
            f"corrects: logged {(body.get('corrects') or {}).get('id')}, stored {stored.get('activity_id')}"
        )
    if body.get("reason_code") != stored.get("reason_code"):
        differences.append(
            f"reason_code: logged {body.get('reason_code')!r}, stored {stored.get('reason_code')!r}"
        )
    note = stored.get("note")
    if "note_sha256" in body:  # logged before notes were committed to under the person's key
        note_hash = None if note is None else "0x" + hashlib.sha256(str(note).encode()).hexdigest()
        if body.get("note_sha256") != note_hash:
            differences.append("note: the stored note does not hash to the logged note_sha256")
    elif body.get("note") != note:
        differences.append("note: the stored note's commitment is not the logged one")
    return differences


def record_differences(record: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """How a stored activity or correction differs from its logged envelope (empty: it matches)."""
    if stored.get("kind") != record.get("kind") or stored.get("id") != record.get("id"):
        return [f"the stored record is {stored.get('kind')} {stored.get('id')}"]
    body = record.get("body") or {}
    if record.get("kind") == "correction":
        return _correction_differences(body, stored)
    differences = _activity_differences(body, stored)
    if stored.get("subject") != record.get("subject"):
        differences.append("subject: the stored owner is not the logged one")
    if stored.get("status") not in (body.get("status"), "reversed"):
        differences.append(f"status: logged {body.get('status')!r}, stored {stored.get('status')!r}")
    return differences


@dataclass
class Totals:
    activities: int = 0
    co2e_avoided_g: int = 0
    co2e_scope3_g: int = 0
    points_issued: int = 0
    reversals: int = 0
    points_logged: bool = True
    """Whether every activity leaf so far carried its points (see :data:`LOGGED_IF_PRESENT`)."""

    def add(self, record: dict[str, Any]) -> None:
        body = record.get("body") or {}
        if record.get("kind") == "activity":
            self.activities += 1
            self.co2e_avoided_g += int(body.get("co2e_avoided_g", 0))
            self.co2e_scope3_g += int(body.get("co2e_scope3_g", 0))
            self.points_logged = self.points_logged and "points" in body
            self.points_issued += int(body.get("points", 0))
        elif record.get("kind") == "correction" and body.get("action") == "reversal":
            reversed_ = body.get("reversed") or {}
            self.activities -= 1
            self.reversals += 1
            self.co2e_avoided_g += int(reversed_.get("co2e_avoided_g", 0))
            self.co2e_scope3_g += int(reversed_.get("co2e_scope3_g", 0))
            self.points_issued += int(reversed_.get("points", 0))

    def as_dict(self) -> dict[str, int]:
        """The totals the leaves determine (points only while activities logged them)."""
        return {key: getattr(self, key) for key in TOTAL_KEYS if key != "points_issued" or self.points_logged}


@dataclass
class RecordAudit:
    """Feed it every leaf in order (:meth:`leaf`), then call :meth:`finish`; read ``problems``."""

    records: Iterator[dict[str, Any]]
    problems: list[str] = field(default_factory=list)
    compared: int = 0
    totals: Totals = field(default_factory=Totals)
    _pending: dict[str, Any] | None = None
    _reversed_rows: set[str] = field(default_factory=set)
    _reversed_logged: set[str] = field(default_factory=set)

    def _next_record(self) -> dict[str, Any] | None:
        if self._pending is None:
            self._pending = next(self.records, None)
        return self._pending

    def leaf(self, index: int, record: dict[str, Any] | None) -> None:
        stored = self._next_record()
        while stored is not None and int(stored["leaf_index"]) < index:
            self._orphan(stored)
            stored = self._next_record()
        if record is not None:
            self.totals.add(record)
        kind = None if record is None else record.get("kind")
        if kind not in ("activity", "correction"):
            return
        assert record is not None
        if kind == "correction":
            self._reversed_logged.add(str((record.get("body") or {}).get("corrects", {}).get("id")))
        if stored is None or int(stored["leaf_index"]) != index:
            self.problems.append(f"{describe(index, record)}: no stored record (deleted from the database?)")
            return
        self._pending = None
        self.compared += 1
        self._compare(index, record, stored)

    def _orphan(self, stored: dict[str, Any]) -> None:
        self.problems.append(
            f"stored {stored.get('kind')} {stored.get('id')} names leaf {stored['leaf_index']}, "
            "which holds another record or is not in the log"
        )
        self._pending = None

    def _compare(self, index: int, record: dict[str, Any], stored: dict[str, Any]) -> None:
        if record.get("kind") == "activity" and stored.get("status") == "reversed":
            self._reversed_rows.add(str(stored.get("id")))
        for difference in record_differences(record, stored):
            self.problems.append(
                f"{describe(index, record)}: stored record differs from the logged one: {difference}"
            )

    def check_totals(self, seq: Any, size: int, meta: str | None) -> None:
        """Compares the totals anchored in a checkpoint's meta with the leaves replayed so far."""
        try:
            document = json.loads(meta) if meta else None
        except ValueError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("totals"), dict):
            return
        anchored = document["totals"]
        replayed = self.totals.as_dict()
        if document.get("v") == 1:  # before corrections existed
            replayed.pop("reversals")
        for key, value in replayed.items():
            if key in anchored and anchored[key] != value:
                self.problems.append(
                    f"checkpoint {seq} (tree size {size}): anchored total {key} is {anchored[key]}, "
                    f"the logged records add up to {value}"
                )

    def finish(self) -> None:
        stored = self._next_record()
        while stored is not None:
            self._orphan(stored)
            stored = self._next_record()
        for activity in sorted(self._reversed_rows - self._reversed_logged):
            self.problems.append(f"activity {activity} is marked reversed but no correction was logged")
        for activity in sorted(self._reversed_logged - self._reversed_rows):
            self.problems.append(f"activity {activity} was reversed in the log but its stored status is not")


def _digest(value: Any) -> str | None:
    """A logged or anchored SHA-256 as bare lowercase hex, or None when it is not one."""
    if not isinstance(value, str):
        return None
    digest = value.removeprefix("0x").lower()
    return digest if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest) else None


@dataclass
class FactorSetAudit:
    """Checks every factor-set hash the log and its checkpoints state (issue: verify-log checks
    factor set hashes). One version has one content hash everywhere: in its publication leaf, in
    every activity computed with it and in every anchored checkpoint's meta; a built-in version's
    hash is the one its release pinned (``emission_factors/sets/SHA256SUMS``), so a server running
    an edited built-in set is caught even when its log and chain are consistent. An activity must
    name a set that is built in, published in the log, or anchored. Pure: feed leaves in order."""

    pins: dict[str, str]
    """Released built-in sets: version → hex SHA-256 (the auditor's own copy of the pins)."""
    superseded: dict[str, frozenset[str]] = field(default_factory=dict)
    """Earlier content of built-in sets revised before they took effect: accepted in anchored
    metas (the set was scheduled then), never on an activity."""
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    _claims: dict[str, tuple[str, str]] = field(default_factory=dict)
    _published: set[str] = field(default_factory=set)
    _anchored: set[str] = field(default_factory=set)
    _unpublished_use: dict[str, str] = field(default_factory=dict)

    def _claim(self, version: str, value: Any, where: str, *, scheduled: bool = False) -> None:
        digest = _digest(value)
        if digest is None:
            self.problems.append(f"{where}: factor set {version} is named without a SHA-256")
            return
        self.checked += 1
        if digest in self.superseded.get(version, ()):
            if not scheduled:
                self.problems.append(
                    f"{where}: factor set {version} has SHA-256 {digest}, content that was revised "
                    "before it took effect, so nothing may have been computed with it"
                )
            return
        pinned = self.pins.get(version)
        if pinned is not None and digest != pinned:
            self.problems.append(
                f"{where}: factor set {version} has SHA-256 {digest}, but the released built-in set "
                f"is pinned at {pinned} (an edited built-in set)"
            )
            return
        first = self._claims.setdefault(version, (digest, where))
        if first[0] != digest:
            self.problems.append(
                f"{where}: factor set {version} has SHA-256 {digest}, but {first[1]} gave {first[0]}"
            )

    def leaf(self, index: int, record: dict[str, Any] | None) -> None:
        if record is None:
            return
        body = record.get("body") or {}
        if record.get("kind") == "factor_set":
            version = str(body.get("version") or record.get("id"))
            self._claim(version, body.get("sha256"), describe(index, record))
            self._published.add(version)
        elif record.get("kind") == "activity" and isinstance(body.get("factor_set"), dict):
            version = str(body["factor_set"].get("version"))
            if "sha256" in body["factor_set"]:
                self._claim(version, body["factor_set"]["sha256"], describe(index, record))
            if version not in self.pins and version not in self._published:
                self._unpublished_use.setdefault(version, describe(index, record))

    def checkpoint(self, seq: Any, size: int, meta: str | None) -> None:
        try:
            document = json.loads(meta) if meta else None
        except ValueError:
            return
        if not isinstance(document, dict) or not isinstance(document.get("factor_sets"), dict):
            return
        for version, value in sorted(document["factor_sets"].items()):
            self._claim(str(version), value, f"checkpoint {seq} (tree size {size})", scheduled=True)
            self._anchored.add(str(version))

    def finish(self) -> None:
        for version, where in sorted(self._unpublished_use.items()):
            if version not in self._published and version not in self._anchored:
                self.problems.append(
                    f"{where}: computed with factor set {version}, which is neither a released "
                    "built-in set this tool knows nor published in the log nor anchored"
                )


@dataclass
class RecomputeAudit:
    """Recomputes every activity from its logged quantities with the factor set it names (ISO
    14064-3 recalculation), where the auditor holds that set (the released built-in sets; an
    operator's published set is counted as not recomputed), and checks the set named is the one in
    force at ``occurred_at`` among the sets known at that leaf. Feed leaves in order."""

    sets: dict[str, FactorSet]
    """Sets the auditor trusts, by version (the built-in sets their pins vouch for)."""
    problems: list[str] = field(default_factory=list)
    recomputed: int = 0
    not_recomputed: int = 0
    _effective: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._effective = {v: s.effective_from for v, s in self.sets.items()}

    def leaf(self, index: int, record: dict[str, Any] | None) -> None:
        if record is None:
            return
        body = record.get("body") or {}
        if record.get("kind") == "factor_set":
            try:
                self._effective[str(body.get("version"))] = datetime.fromisoformat(
                    str(body["effective_from"])
                )
            except (KeyError, ValueError):
                self.problems.append(f"{describe(index, record)}: no readable effective_from")
            return
        if record.get("kind") != "activity":
            return
        version = str((body.get("factor_set") or {}).get("version"))
        self._check_in_force(index, record, body, version)
        factor_set = self.sets.get(version)
        if factor_set is None:
            self.not_recomputed += 1
            return
        calculation = body.get("calculation") or {}
        baseline = calculation.get("baseline") if isinstance(calculation, dict) else None
        logged = (body.get("co2e_avoided_g"), body.get("co2e_scope3_g"), body.get("scope3_category"))
        try:
            calc = normalize(
                str(body.get("type")), dict(body.get("quantities") or {}), factor_set, baseline=baseline
            )
        except CarbonLedgerError as exc:
            self.problems.append(
                f"{describe(index, record)}: cannot be recomputed with {version}: {exc.detail}"
            )
            return
        self.recomputed += 1
        again = (calc.co2e_avoided_g, calc.co2e_scope3_g, calc.scope3_category)
        if again != logged:
            self.problems.append(
                f"{describe(index, record)}: recomputed with {version} (baseline {baseline}) it gives "
                f"avoided {again[0]} g, Scope 3 {again[1]} g, category {again[2]}; the leaf says "
                f"avoided {logged[0]} g, Scope 3 {logged[1]} g, category {logged[2]}"
            )

    def _check_in_force(self, index: int, record: dict[str, Any], body: dict[str, Any], version: str) -> None:
        if version not in self._effective:
            return  # a set this tool does not know: the hash check names it when it matters
        try:
            occurred = datetime.fromisoformat(str(body.get("occurred_at")))
        except ValueError:
            return
        in_force = [(at, v) for v, at in self._effective.items() if at <= occurred]
        expected = max(in_force)[1] if in_force else None
        if expected != version:
            self.problems.append(
                f"{describe(index, record)}: computed with factor set {version}, but the set in force "
                f"at {occurred.isoformat()} was {expected}"
            )
