"""Which factor set is in force at a given time, and the publication of new versions.

Activities are computed with the set in effect at ``occurred_at`` and store its version and hash,
so results never change silently when a new set is published. Sets take effect in order: a new
version must start after every earlier set and after every activity already recorded, so each
stored result stays the one its set in force gives. Previews of a new set's effect on stored
activities live in :mod:`backend.services.accounting.factor_recompute`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm import ActivityRow
from backend.adapters.orm_factors import FactorSetRow
from backend.domain.accounting.factors import FactorSet
from backend.domain.canonical import canonical_json
from backend.domain.errors import Conflict, InvalidInput, NotFound
from backend.domain.log.record_kinds import FactorSetBody, encode
from emission_factors.loader import (
    FACTORS_FILE,
    FactorSetError,
    build_factor_set,
    builtin_versions,
    load_builtin_set,
    parse_texts,
)

MAX_FILE_CHARS = 1_000_000
"""Upper bound of each uploaded file: a curated factor library is tens of kilobytes."""
_PARSED: dict[str, FactorSet] = {}
"""Published sets parsed once per process, keyed by content hash (content never changes)."""


@dataclass(frozen=True)
class SetInfo:
    factor_set: FactorSet
    origin: str
    """``builtin`` (shipped with the code), ``api`` or ``cli`` (published by an operator)."""
    published_at: datetime | None = None
    leaf_index: int | None = None

    def public(self, in_force: str | None) -> dict[str, Any]:
        return {
            **self.factor_set.public_summary(),
            "origin": self.origin,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "leaf_index": self.leaf_index,
            "in_force": self.factor_set.version == in_force,
        }


@dataclass(frozen=True)
class Published:
    info: SetInfo
    created: bool


def _from_row(row: FactorSetRow) -> FactorSet:
    cached = _PARSED.get(row.content_hash)
    if cached is not None:
        return cached
    factor_set = build_factor_set(json.loads(row.content))
    if factor_set.content_hash != row.content_hash:
        raise FactorSetError(f"factor_sets/{row.version}", "stored content does not match its hash")
    _PARSED[row.content_hash] = factor_set
    return factor_set


def _info(row: FactorSetRow) -> SetInfo:
    return SetInfo(_from_row(row), row.origin, row.published_at, row.leaf_index)


def _builtin_infos() -> list[SetInfo]:
    return [SetInfo(load_builtin_set(v), "builtin") for v in builtin_versions()]


def _published_infos(session: Session) -> list[SetInfo]:
    rows = session.execute(select(FactorSetRow).order_by(FactorSetRow.effective_from)).scalars()
    return [_info(row) for row in rows]


def all_infos(session: Session | None = None) -> list[SetInfo]:
    infos = _builtin_infos() + (_published_infos(session) if session is not None else [])
    return sorted(infos, key=lambda i: i.factor_set.effective_from)


def all_sets(session: Session | None = None) -> list[FactorSet]:
    """Every set, built-in and (given a session) published, in order of effect."""
    return [info.factor_set for info in all_infos(session)]


def set_in_force(at: datetime, session: Session | None = None) -> FactorSet:
    return SetsInForce(session).at(at)


class SetsInForce:
    """The set in force at any time, for many times (a batch of activities): the published sets'
    dates read once; a set's content is read only when it is needed and not parsed already."""

    def __init__(self, session: Session | None = None) -> None:
        self._session = session
        self._published: list[tuple[datetime, str, str]] = []
        """(effective_from, version, content_hash), latest first."""
        if session is not None:
            stmt = select(FactorSetRow.effective_from, FactorSetRow.version, FactorSetRow.content_hash)
            rows = session.execute(stmt.order_by(FactorSetRow.effective_from.desc()))
            self._published = [(effective, version, digest) for effective, version, digest in rows]

    def _load(self, version: str, content_hash: str) -> FactorSet:
        cached = _PARSED.get(content_hash)
        if cached is not None:
            return cached
        assert self._session is not None
        row = self._session.get(FactorSetRow, version)
        if row is None:
            raise NotFound(f"factor set {version} not found")
        return _from_row(row)

    def at(self, at: datetime) -> FactorSet:
        candidates = _builtin_sets_until(at)
        latest = next(((v, h) for effective, v, h in self._published if effective <= at), None)
        if latest is not None:
            candidates.append(self._load(*latest))
        if not candidates:
            raise InvalidInput("occurred_at", f"no emission factor set is in force at {at.isoformat()}")
        return max(candidates, key=lambda s: s.effective_from)


def _builtin_sets_until(at: datetime) -> list[FactorSet]:
    return [info.factor_set for info in _builtin_infos() if info.factor_set.effective_from <= at]


def find(db: Database, version: str) -> SetInfo:
    with db.read_sessions() as session:
        row = session.get(FactorSetRow, version)
        if row is not None:
            return _info(row)
    if version in builtin_versions():
        return SetInfo(load_builtin_set(version), "builtin")
    raise NotFound(f"factor set {version} not found")


def list_sets(db: Database, now: datetime) -> tuple[list[SetInfo], str | None]:
    """Every set in order of effect, and the version in force ``now`` (None before the first)."""
    with db.read_sessions() as session:
        infos = all_infos(session)
    in_force = [i.factor_set.version for i in infos if i.factor_set.effective_from <= now]
    return infos, (in_force[-1] if in_force else None)


def parse_upload(
    factors_csv: str, methodology_toml: str, effective_from: datetime | None = None
) -> FactorSet:
    """Validates a set sent for publication; problems are 422s naming the file, row and cause."""
    for field, text in (("factors_csv", factors_csv), ("methodology_toml", methodology_toml)):
        if len(text) > MAX_FILE_CHARS:
            raise InvalidInput(field, f"longer than {MAX_FILE_CHARS} characters")
    try:
        content = parse_texts(factors_csv, methodology_toml)
        if effective_from is not None:
            if effective_from.tzinfo is None:
                raise InvalidInput("effective_from", "must carry a UTC offset")
            content["methodology"]["effective_from"] = effective_from.isoformat()
        return build_factor_set(content)
    except FactorSetError as exc:
        field = "factors_csv" if exc.file == FACTORS_FILE else "methodology_toml"
        raise InvalidInput(field, exc.detail) from None


def _check_order(session: Session, factor_set: FactorSet, now: datetime) -> None:
    # Built-in sets scheduled for later (a release ships them ahead of their date) do not block an
    # operator's correction in between: nothing has been computed with them yet.
    published = _published_infos(session)
    candidates = [i.factor_set for i in published] + [
        s for s in _builtin_sets_until(now) if s.effective_from <= now
    ]
    latest = max(candidates, key=lambda s: s.effective_from, default=None)
    if latest is not None and factor_set.effective_from <= latest.effective_from:
        raise InvalidInput(
            "effective_from",
            f"must be later than {latest.effective_from.isoformat()}, when {latest.version} took effect: "
            "sets take effect in order",
        )
    last_activity = session.execute(select(func.max(ActivityRow.occurred_at))).scalar_one_or_none()
    if last_activity is not None and factor_set.effective_from <= last_activity:
        raise InvalidInput(
            "effective_from",
            f"activities up to {last_activity.isoformat()} were computed under earlier sets; "
            "a new set must take effect after them, so no stored result would differ from its set in force",
        )


def _existing(session: Session, factor_set: FactorSet) -> SetInfo | None:
    row = session.get(FactorSetRow, factor_set.version)
    if row is None and factor_set.version not in builtin_versions():
        return None
    info = _info(row) if row is not None else SetInfo(load_builtin_set(factor_set.version), "builtin")
    if info.factor_set.content_hash != factor_set.content_hash:
        raise Conflict(
            f"factor set {factor_set.version} already exists with other content; publish a new version"
        )
    return info


def publish(
    db: Database,
    factor_set: FactorSet,
    *,
    publisher: str,
    origin: str,
    now: datetime,
    park_baseline: str | None = None,
) -> Published:
    """Stores and logs a new version; publishing the same version and content again is a no-op.

    ``publisher`` is the operator's salted subject commitment; ``park_baseline`` the park's
    ``CARBON_BASELINE``, which the new set must define.
    """
    choices = [c.strip() for c in (park_baseline or "").split(",") if c.strip()]
    if choices and not set(choices) & set(factor_set.baseline_names):
        raise InvalidInput(
            "methodology_toml",
            f"baselines: the park computes against {park_baseline!r} (CARBON_BASELINE), "
            f"which this set does not define",
        )
    try:
        with db.write_sessions() as session, session.begin():
            log = SqlLogStore(session)
            log.lock_head()
            existing = _existing(session, factor_set)
            if existing is not None:
                return Published(existing, created=False)
            _check_order(session, factor_set, now)
            body = FactorSetBody(
                **factor_set.public_summary(),
                parameter_count=len(factor_set.parameters),
                origin=origin,
                published_at=now.isoformat(),
            )
            leaf = encode(factor_set.version, publisher, body)
            (leaf_index,) = log.append([PendingLeaf("factor_set", factor_set.version, leaf)], now)
            row = FactorSetRow(
                version=factor_set.version,
                effective_from=factor_set.effective_from,
                content_hash=factor_set.content_hash,
                content=canonical_json(factor_set.content).decode(),
                description=factor_set.description[:500],
                origin=origin,
                published_by=publisher,
                published_at=now,
                leaf_index=leaf_index,
            )
            session.add(row)
        _PARSED[factor_set.content_hash] = factor_set
        return Published(SetInfo(factor_set, origin, now, leaf_index), created=True)
    except IntegrityError:
        # A concurrent publication of the same version won: same content is a replay.
        with db.read_sessions() as session:
            existing = _existing(session, factor_set)
        if existing is None:
            raise
        return Published(existing, created=False)
