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

from backend.domain.accounting.activities import normalize
from backend.domain.accounting.factors import FactorSet
from backend.domain.canonical import canonical_json, sha256_hex
from backend.domain.errors import CarbonLedgerError
from backend.domain.log import record_kinds

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
STORED_KINDS = frozenset(
    {"activity", "correction", "points_transfer", "review", "period_close", "period_signoff", "binding"}
)
"""Kinds whose every leaf has its stored record (row) in the database."""
LATEST_STORED_KINDS = frozenset({"points_rules"})
"""Kinds of which the database keeps only the latest record per scope."""
REACHABLE = {
    "flagged": {"flagged", "accepted", "rejected", "reversed"},
    "accepted": {"accepted", "reversed"},
}
"""Statuses a stored activity may have, given the status its own leaf logged (later records move it)."""


def decode_leaf(leaf: bytes) -> dict[str, Any] | None:
    """The record envelope a leaf holds, or None for bytes that are not one."""
    try:
        record = json.loads(leaf)
    except ValueError:
        return None
    if not isinstance(record, dict) or not record.keys() >= ENVELOPE_KEYS:
        return None
    return record


def format_problem(leaf: bytes, parsed: dict[str, Any] | None = None) -> str | None:
    """Why a leaf is not a well-formed record of its version (None: it is one); ``parsed`` is the
    leaf already parsed, if it was."""
    try:
        if parsed is None:
            record_kinds.decode(leaf)
        else:
            record_kinds.decode_document(parsed, leaf)
    except record_kinds.RecordFormatError as exc:
        return str(exc)
    return None


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


def _fields_differ(
    body: dict[str, Any], stored: dict[str, Any], pairs: tuple[tuple[str, str], ...]
) -> list[str]:
    return [
        f"{stored_name}: logged {body.get(logged)!r}, stored {stored.get(stored_name)!r}"
        for logged, stored_name in pairs
        if body.get(logged) != stored.get(stored_name)
    ]


TRANSFER_FIELDS = (
    ("kind", "transfer_kind"),
    ("debit", "debit"),
    ("credit", "credit"),
    ("amount", "amount"),
    ("reason_code", "reason_code"),
    ("reverses", "reverses"),
    ("activity", "activity"),
    ("redemption", "redemption"),
)
REVIEW_FIELDS = (("decision", "decision"), ("org", "org"))
CLOSE_FIELDS = (
    ("period", "period"),
    ("kind", "close_kind"),
    ("revision", "revision"),
    ("cutoff_tree_size", "cutoff_tree_size"),
    ("summary_sha256", "summary_sha256"),
)
SIGNOFF_FIELDS = (
    ("period", "period"),
    ("close", "close"),
    ("opinion", "opinion"),
    ("summary_sha256", "summary_sha256"),
)
RULES_FIELDS = (("scope", "scope"), ("version", "version"), ("document", "document"))
BINDING_FIELDS = (
    ("binding", "binding"),
    ("action", "action"),
    ("kind", "binding_kind"),
    ("consent_version", "consent_version"),
)


def _close_differences(body: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    differences = _fields_differ(body, stored, CLOSE_FIELDS)
    summary = stored.get("summary")
    if summary is not None and sha256_hex(canonical_json(summary)) != body.get("summary_sha256"):
        differences.append("summary: the stored summary does not hash to the logged summary_sha256")
    if summary is None and body.get("summary") is None:
        differences.append("summary: the leaf leaves it out for its size and nothing stored holds it")
    return differences


def record_differences(record: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """How a stored record differs from its logged envelope (empty: it matches)."""
    if stored.get("kind") != record.get("kind") or stored.get("id") != record.get("id"):
        return [f"the stored record is {stored.get('kind')} {stored.get('id')}"]
    body = record.get("body") or {}
    kind = record.get("kind")
    if kind == "correction":
        return _correction_differences(body, stored)
    if kind == "points_transfer":
        differences = _fields_differ(body, stored, TRANSFER_FIELDS)
        if "employee" in (body.get("debit"), body.get("credit")) and stored.get("subject") != record.get(
            "subject"
        ):
            differences.append("subject: the stored employee account is not the logged one")
        return differences
    if kind == "review":
        return _fields_differ(body, stored, REVIEW_FIELDS)
    if kind == "period_close":
        return _close_differences(body, stored)
    if kind == "period_signoff":
        return _fields_differ(body, stored, SIGNOFF_FIELDS)
    if kind == "points_rules":
        return _fields_differ(body, stored, RULES_FIELDS)
    if kind == "binding":
        differences = _fields_differ(body, stored, BINDING_FIELDS)
        if stored.get("subject") != record.get("subject"):
            differences.append("subject: the stored employee is not the logged one")
        return differences
    differences = _activity_differences(body, stored)
    if stored.get("subject") != record.get("subject"):
        differences.append("subject: the stored owner is not the logged one")
    if stored.get("status") not in REACHABLE.get(str(body.get("status")), {body.get("status"), "reversed"}):
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


def account_key(name: str | None, subject: str | None) -> str:
    """How replay names an account: an employee's by the leaf's subject commitment."""
    return f"employee:{subject}" if name == "employee" else str(name)


@dataclass
class Replay:
    """The ledger's state as the leaves determine it: every activity's status and earned points,
    every account's totals, every redemption, the latest points rules per scope."""

    activities: dict[str, list[Any]] = field(default_factory=dict)
    """Activity → [status, points earned, its leaf index, stored status, stored points]: one entry
    per activity (a few hundred bytes), the stored figures filled in when its record is compared."""
    accounts: dict[str, list[int]] = field(default_factory=dict)
    """Account → [debits, credits]."""
    redemptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)
    """Scope → leaf index of its latest rules record."""
    closes: dict[str, str] = field(default_factory=dict)
    """Period close → the summary hash it logged."""
    bindings: dict[str, bool] = field(default_factory=dict)
    """Binding → whether its consent stands (the last ``binding`` record was ``bind``)."""

    def apply(self, index: int, record: dict[str, Any]) -> None:
        kind, body = record.get("kind"), record.get("body") or {}
        if kind == "activity":
            activity = str(record.get("id"))
            # version 1 bodies carried the points the activity earned
            self.activities[activity] = [
                str(body.get("status")),
                int(body.get("points") or 0),
                index,
                None,
                None,
            ]
        elif kind == "review":
            self.activity_entry(str(body.get("activity")))[0] = str(body.get("status"))
        elif kind == "correction" and body.get("action") == "reversal":
            self.activity_entry(str((body.get("corrects") or {}).get("id")))[0] = "reversed"
        elif kind == "points_transfer":
            self._transfer(record, body)
        elif kind == "points_rules":
            self.rules[str(body.get("scope"))] = index
        elif kind == "period_close":
            self.closes[str(record.get("id"))] = str(body.get("summary_sha256"))
        elif kind == "binding":
            self.bindings[str(body.get("binding"))] = body.get("action") == "bind"
        elif kind == "voucher_use":
            self.redemptions.setdefault(str(body.get("redemption")), {})["used"] = True

    def signoff_problem(self, record: dict[str, Any]) -> str | None:
        """Why a sign-off does not sign a close logged before it (None: it does)."""
        body = record.get("body") or {}
        logged = self.closes.get(str(body.get("close")))
        if logged is None:
            return f"signs off close {body.get('close')}, which is not logged before it"
        if logged != body.get("summary_sha256"):
            signed = body.get("summary_sha256")
            return f"signs off summary {signed}, but close {body.get('close')} logged {logged}"
        return None

    def activity_entry(self, activity: str) -> list[Any]:
        """The activity's entry (a record naming an activity not logged before gets one)."""
        entry = self.activities.get(activity)
        if entry is None:
            entry = self.activities[activity] = [None, 0, -1, None, None]
        return entry

    def _transfer(self, record: dict[str, Any], body: dict[str, Any]) -> None:
        amount = int(body.get("amount") or 0)
        subject = record.get("subject")
        self.accounts.setdefault(account_key(body.get("debit"), subject), [0, 0])[0] += amount
        self.accounts.setdefault(account_key(body.get("credit"), subject), [0, 0])[1] += amount
        transfer_kind, activity, redemption = body.get("kind"), body.get("activity"), body.get("redemption")
        if transfer_kind == "issuance" and activity:
            self.activity_entry(str(activity))[1] += amount
        if redemption and transfer_kind == "redemption":
            entry = self.redemptions.setdefault(str(redemption), {"refund_transfer_id": None})
            entry.update(price_points=amount, transfer_id=record.get("id"))
        elif redemption and transfer_kind == "refund":
            entry = self.redemptions.setdefault(str(redemption), {})
            entry["refund_transfer_id"] = record.get("id")


@dataclass
class RecordAudit:
    """Feed it every leaf in order (:meth:`leaf`), then call :meth:`finish`; read ``problems``.

    ``records`` are the stored records in leaf order; ``accounts`` and ``redemptions`` the stored
    points accounts and redemptions (any order), compared at the end with what the leaves replay to.
    """

    records: Iterator[dict[str, Any]]
    accounts: Iterator[dict[str, Any]] | None = None
    redemptions: Iterator[dict[str, Any]] | None = None
    problems: list[str] = field(default_factory=list)
    compared: int = 0
    totals: Totals = field(default_factory=Totals)
    replay: Replay = field(default_factory=Replay)
    _pending: dict[str, Any] | None = None
    _stored_rules: dict[str, int] = field(default_factory=dict)
    _stored_bindings: dict[str, tuple[int, bool]] = field(default_factory=dict)

    def _next_record(self) -> dict[str, Any] | None:
        if self._pending is None:
            self._pending = next(self.records, None)
        return self._pending

    def leaf(self, index: int, record: dict[str, Any] | None, leaf: bytes | None = None) -> None:
        stored = self._next_record()
        while stored is not None and int(stored["leaf_index"]) < index:
            self._orphan(stored)
            stored = self._next_record()
        if leaf is not None and record is not None:  # an envelope: it must be a well-formed record
            problem = format_problem(leaf, record)
            if problem is not None:
                self.problems.append(f"{describe(index, record)}: not a well-formed record: {problem}")
        if record is None:
            return
        self.totals.add(record)
        self.replay.apply(index, record)
        kind = record.get("kind")
        if kind == "period_signoff" and (problem := self.replay.signoff_problem(record)) is not None:
            self.problems.append(f"{describe(index, record)}: {problem}")
        at_index = stored is not None and int(stored["leaf_index"]) == index
        if kind not in STORED_KINDS and not (kind in LATEST_STORED_KINDS and at_index):
            return
        if stored is None or not at_index:
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
        kind = record.get("kind")
        if kind == "activity":
            entry = self.replay.activity_entry(str(record.get("id")))
            entry[3], entry[4] = str(stored.get("status")), int(stored.get("points") or 0)
        elif kind == "points_rules":
            self._stored_rules[str(stored.get("scope"))] = index
        elif kind == "binding" and not stored.get("erased"):
            # An erasure ends its person's bindings without a record of each (the erasure record
            # names no one, and binding records would link it to them): not compared then.
            self._stored_bindings[str(stored.get("binding"))] = (index, bool(stored.get("active")))
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
        self._check_activities()
        for binding, (index, active) in sorted(self._stored_bindings.items()):
            if active != self.replay.bindings.get(binding, active):
                logged = "active" if self.replay.bindings[binding] else "revoked"
                self.problems.append(
                    f"{describe(index, {'kind': 'binding', 'id': binding})}: stored binding is "
                    f"{'active' if active else 'revoked'}, the logged records make it {logged}"
                )
        for scope, index in sorted(self.replay.rules.items()):
            if scope in self._stored_rules and self._stored_rules[scope] != index:
                self.problems.append(
                    f"points rules {scope}: the stored rules are those of leaf {self._stored_rules[scope]}, "
                    f"the latest logged are leaf {index}"
                )
        if self.accounts is not None:
            self._check_accounts(self.accounts)
        if self.redemptions is not None:
            self._check_redemptions(self.redemptions)

    def _check_activities(self) -> None:
        for activity, (derived, earned, index, status, points) in self.replay.activities.items():
            if status is None:  # no stored record compared (named already)
                continue
            where = describe(index, {"kind": "activity", "id": activity})
            if derived is not None and status != derived:
                self.problems.append(
                    f"{where}: stored status {status!r}, the logged records make it {derived!r}"
                )
            if points != earned:
                self.problems.append(
                    f"{where}: stored points {points}, the logged issuance transfers add up to {earned}"
                )

    def _check_accounts(self, accounts: Iterator[dict[str, Any]]) -> None:
        logged = dict(self.replay.accounts)
        for account in accounts:
            name = str(account.get("account"))
            debits, credits = logged.pop(name, [0, 0])
            stored = (int(account.get("debits") or 0), int(account.get("credits") or 0))
            if stored != (debits, credits):
                self.problems.append(
                    f"points account {name}: stored debits {stored[0]}, credits {stored[1]} "
                    f"(balance {stored[1] - stored[0]}); the logged transfers give debits {debits}, "
                    f"credits {credits} (balance {credits - debits})"
                )
        for name, (debits, credits) in sorted(logged.items()):
            self.problems.append(
                f"points account {name}: logged transfers give debits {debits}, credits {credits}, "
                "but no such account is stored"
            )

    def _check_redemptions(self, redemptions: Iterator[dict[str, Any]]) -> None:
        logged = dict(self.replay.redemptions)
        for stored in redemptions:
            name = str(stored.get("id"))
            derived = logged.pop(name, None)
            if derived is None or "transfer_id" not in derived:
                self.problems.append(f"redemption {name}: stored, but no redemption transfer was logged")
                continue
            cancelled = derived.get("refund_transfer_id") is not None
            differences = [
                f"{key}: logged {derived.get(key)!r}, stored {stored.get(key)!r}"
                for key in ("price_points", "transfer_id", "refund_transfer_id")
                if derived.get(key) != stored.get(key)
            ]
            used = bool(derived.get("used"))
            if used != (stored.get("status") == "used"):
                differences.append(
                    f"status: stored {stored.get('status')!r}, "
                    f"the logged records make it {'used' if used else 'not used'}"
                )
            if cancelled != (stored.get("status") == "cancelled"):
                differences.append(
                    f"status: stored {stored.get('status')!r}, "
                    f"the logged records make it {'cancelled' if cancelled else 'not cancelled'}"
                )
            for difference in differences:
                self.problems.append(
                    f"redemption {name}: stored redemption differs from the log: {difference}"
                )
        for name in sorted(logged):
            self.problems.append(f"redemption {name}: logged, but no stored redemption")


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
