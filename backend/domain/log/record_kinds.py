"""The typed body of every kind of logged record, and the envelope that carries it.

One dataclass per record kind says exactly which fields its leaf holds. Services build these, never
dict literals; :func:`encode` is the one place a record becomes leaf bytes (canonical JSON, RFC 8785,
via :func:`backend.domain.canonical.canonical_json`) and :func:`decode` the one place leaf bytes become
a record again. docs/record-format.md describes the same format for verifiers written elsewhere.

Versions (the envelope's ``v``):

* ``1``: bodies as the services wrote them before they were typed. The activity body carried
  ``points`` until the points ledger gave issuance its own record, without a version change, so a
  version-1 body is decoded leniently: missing fields read as null, extra fields are kept aside.
* ``2``: the typed bodies below. A version-2 body must hold exactly its kind's fields.

Free text a person typed belongs in the database, where it can be erased; a body holds a
commitment to it (a correction's ``note``, a review's and a restatement's ``reason``: HMACs under
the person's own key, which erasure destroys; a sign-off's ``statement``, under the auditor's).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from backend.domain.canonical import canonical_json
from backend.domain.log.records import new_salt

FORMAT_VERSION = 2
"""The envelope version new records are written in."""
SUPPORTED_VERSIONS = (1, 2)
ENVELOPE_FIELDS = ("v", "kind", "id", "salt", "subject", "body")


class RecordFormatError(ValueError):
    """Bytes that are not a record of a supported version and kind."""


@dataclass(frozen=True, kw_only=True)
class Body:
    """A record kind's body. ``KIND`` is the envelope's ``kind``; ``RENAMED`` maps a field to its
    JSON name where that is a Python keyword."""

    KIND: ClassVar[str]
    RENAMED: ClassVar[dict[str, str]] = {}

    @classmethod
    def json_names(cls) -> tuple[str, ...]:
        return tuple(cls.RENAMED.get(f.name, f.name) for f in dataclasses.fields(cls))

    def to_json(self) -> dict[str, Any]:
        return {self.RENAMED.get(f.name, f.name): getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, document: dict[str, Any], *, strict: bool = True) -> Self:
        names = {cls.RENAMED.get(f.name, f.name): f.name for f in dataclasses.fields(cls)}
        if strict:
            missing = sorted(set(names) - document.keys())
            extra = sorted(document.keys() - set(names))
            if missing or extra:
                raise RecordFormatError(
                    f"{cls.KIND} body: "
                    + "; ".join(
                        part
                        for part in (
                            f"missing {', '.join(missing)}" if missing else "",
                            f"unexpected {', '.join(extra)}" if extra else "",
                        )
                        if part
                    )
                )
        return cls(**{python: document.get(name) for name, python in names.items()})


@dataclass(frozen=True, kw_only=True)
class ActivityBody(Body):
    """An activity as recorded: what, when, whose company, its figures and how they were computed.
    Its points are not here: issuance is a ``points_transfer`` record of its own."""

    KIND: ClassVar[str] = "activity"
    type: str
    occurred_at: str
    recorded_at: str
    org: str | None
    dept: str | None
    source: str
    quantities: dict[str, Any]
    status: str
    """``accepted`` or ``flagged`` (waiting for review); later states come from later records."""
    co2e_avoided_g: int
    co2e_scope3_g: int
    scope3_category: int | None
    factor_set: dict[str, Any]
    """``{"version": ..., "sha256": "0x..."}`` of the set the figures were computed with."""
    calculation: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class PointsTransferBody(Body):
    """A move of points between two accounts (issuance, award, redemption, refund, correction, expiry,
    allocation). An employee's account is written ``employee`` (the envelope's subject says whose)."""

    KIND: ClassVar[str] = "points_transfer"
    kind: str
    debit: str
    credit: str
    amount: int
    reason_code: str | None
    reverses: str | None
    activity: str | None
    redemption: str | None
    org: str | None
    details: dict[str, Any]
    at: str


@dataclass(frozen=True, kw_only=True)
class CorrectionBody(Body):
    """A reversal of an activity: the activity record it corrects (id, leaf index, leaf hash), why,
    who (role and a commitment), and the negated figures. Its points are taken back by a
    ``points_transfer`` of kind ``correction`` named in ``points_transfer`` (null when none were
    issued)."""

    KIND: ClassVar[str] = "correction"
    action: str
    corrects: dict[str, Any]
    reason_code: str
    superseded_by: str | None
    note: str | None
    """Commitment to the operator's note (HMAC under the employee's key), or null."""
    actor: dict[str, Any]
    org: str | None
    reversed: dict[str, Any]
    points_transfer: str | None
    recorded_at: str


@dataclass(frozen=True, kw_only=True)
class ReviewBody(Body):
    """A company admin's decision on a flagged activity: it moves the activity to ``status``."""

    KIND: ClassVar[str] = "review"
    activity: str
    activity_leaf: int | None
    decision: str
    status: str
    reason: str | None
    org: str | None
    reviewer: str
    points: int
    decided_at: str


@dataclass(frozen=True, kw_only=True)
class FactorSetBody(Body):
    """A factor set published for use from ``effective_from``, pinned by its content hash."""

    KIND: ClassVar[str] = "factor_set"
    version: str
    effective_from: str
    description: str
    sha256: str
    default_baseline: str | None
    baselines: list[str]
    factor_count: int
    parameter_count: int
    origin: str | None
    published_at: str


@dataclass(frozen=True, kw_only=True)
class PeriodCloseBody(Body):
    """A reporting period closed (``kind`` ``close``) or restated (``restatement``, superseding the
    previous revision, with ``changes``: per Scope 3 category the figures before and after)."""

    KIND: ClassVar[str] = "period_close"
    period: str
    kind: str
    revision: int
    supersedes: str | None
    reason: str | None
    cutoff_tree_size: int
    closed_at: str
    closed_by_role: str
    summary_sha256: str
    summary: dict[str, Any] | None
    """Null when the summary would make the leaf too large for a tile entry (65,535 bytes): the
    audit records then serve it, and ``summary_sha256`` vouches for it."""
    changes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class PeriodSignoffBody(Body):
    """An auditor's sign-off of one revision of a period close: which close (id, leaf index, summary
    hash) and the opinion. The auditor is the envelope's subject commitment."""

    KIND: ClassVar[str] = "period_signoff"
    period: str
    close: str
    close_leaf: int
    revision: int
    summary_sha256: str
    opinion: str
    statement: str | None
    """Commitment to the auditor's statement (HMAC under the auditor's key), or null."""
    signed_at: str


@dataclass(frozen=True, kw_only=True)
class ChainMoveBody(Body):
    """The log's checkpoints moved to another contract or chain."""

    KIND: ClassVar[str] = "chain_move"
    RENAMED: ClassVar[dict[str, str]] = {"from_": "from"}
    mode: str
    reasons: list[str]
    from_: dict[str, Any] | None
    to: dict[str, Any]
    reanchored: dict[str, Any]
    started_at: str
    completed_at: str


@dataclass(frozen=True, kw_only=True)
class PointsRulesBody(Body):
    """A new version of the park's or a company's points rules document."""

    KIND: ClassVar[str] = "points_rules"
    scope: str
    version: int
    document: dict[str, Any]
    at: str


@dataclass(frozen=True, kw_only=True)
class BindingBody(Body):
    """An employee binds a data-source account (transit card, bike account…) with their consent,
    or withdraws that consent. No account number: the envelope's subject says whose binding it is,
    ``binding`` which one."""

    KIND: ClassVar[str] = "binding"
    binding: str
    action: str
    """``bind`` (consent given) or ``revoke`` (consent withdrawn)."""
    kind: str
    consent_version: str
    at: str


@dataclass(frozen=True, kw_only=True)
class VoucherUseBody(Body):
    """A merchant accepted a redeemed voucher: it is used (single use)."""

    KIND: ClassVar[str] = "voucher_use"
    redemption: str
    reward: str
    merchant: str | None
    used_at: str


@dataclass(frozen=True, kw_only=True)
class ErasureBody(Body):
    """A person's personal data and key material were erased (no subject: nothing links it to them)."""

    KIND: ClassVar[str] = "erasure"
    basis: str
    erased_by_role: str
    erased_at: str


BODY_TYPES: dict[str, type[Body]] = {
    t.KIND: t
    for t in (
        ActivityBody,
        PointsTransferBody,
        CorrectionBody,
        ReviewBody,
        FactorSetBody,
        PeriodCloseBody,
        PeriodSignoffBody,
        ChainMoveBody,
        PointsRulesBody,
        BindingBody,
        VoucherUseBody,
        ErasureBody,
    )
}
RECORD_KINDS = frozenset(BODY_TYPES)


@dataclass(frozen=True)
class Record:
    """A decoded leaf: the envelope's fields, the typed body, and (version 1) body fields that the
    type does not name."""

    v: int
    kind: str
    id: str
    salt: str
    subject: str | None
    body: Body
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The envelope as a JSON document (a version-1 body with its extra fields)."""
        return {
            "v": self.v,
            "kind": self.kind,
            "id": self.id,
            "salt": self.salt,
            "subject": self.subject,
            "body": {**self.body.to_json(), **self.extra},
        }


def encode(record_id: str, subject: str | None, body: Body, salt: str | None = None) -> bytes:
    """The leaf bytes of a new record (current version; a fresh salt unless given)."""
    envelope = {
        "v": FORMAT_VERSION,
        "kind": body.KIND,
        "id": record_id,
        "salt": new_salt() if salt is None else salt,
        "subject": subject,
        "body": body.to_json(),
    }
    return canonical_json(envelope)


def decode(leaf: bytes) -> Record:
    """The record a leaf holds; :class:`RecordFormatError` says why bytes are not one."""
    try:
        document = json.loads(leaf)
    except ValueError as exc:
        raise RecordFormatError(f"not JSON: {exc}") from None
    return decode_document(document, leaf)


def decode_document(document: Any, leaf: bytes) -> Record:
    """:func:`decode` for a leaf already parsed (``document``) from its bytes (``leaf``)."""
    if not isinstance(document, dict):
        raise RecordFormatError("not a JSON object")
    missing = [name for name in ENVELOPE_FIELDS if name not in document]
    if missing:
        raise RecordFormatError(f"envelope: missing {', '.join(missing)}")
    extra = sorted(document.keys() - set(ENVELOPE_FIELDS))
    if extra:
        raise RecordFormatError(f"envelope: unexpected {', '.join(extra)}")
    version, kind, body = document["v"], document["kind"], document["body"]
    if version not in SUPPORTED_VERSIONS or type(version) is not int:
        raise RecordFormatError(f"envelope version {version!r} is not one of {SUPPORTED_VERSIONS}")
    if kind not in BODY_TYPES:
        raise RecordFormatError(f"unknown record kind {kind!r}")
    if not isinstance(body, dict):
        raise RecordFormatError("body: not a JSON object")
    body_type = BODY_TYPES[kind]
    strict = version >= 2
    if strict and canonical_json(document) != leaf:
        raise RecordFormatError("not in canonical form (RFC 8785)")
    typed = body_type.from_json(body, strict=strict)
    rest = {} if strict else {k: v for k, v in body.items() if k not in body_type.json_names()}
    return Record(version, kind, str(document["id"]), str(document["salt"]), document["subject"], typed, rest)
