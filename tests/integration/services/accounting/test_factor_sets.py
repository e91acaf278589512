"""Publishing factor sets against real SQLite and PostgreSQL: stored, logged, in force in order,
and never changing a result computed under an earlier set."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.adapters.orm import ActivityRow, LogLeafRow
from backend.adapters.orm_factors import FactorSetRow
from backend.domain.accounting.activities import normalize
from backend.domain.accounting.factors import FactorSet
from backend.domain.errors import Conflict, InvalidInput
from backend.services.accounting import factor_recompute, factor_sets
from backend.services.anchoring.anchoring import checkpoint_meta
from backend.services.recording.activities import Caller, IssuancePolicy, record_activity
from emission_factors.loader import SETS_DIR, FactorSetError, load_builtin_set

BUILTIN = "park-default-2026.1"
NEW = "park-2026.2"
POLICY = IssuancePolicy(
    points_per_kg=100, subject_key=b"k" * 32, max_age=timedelta(days=366), clock_skew=timedelta(minutes=5)
)
ALICE = Caller("alice", "acme")
BEFORE = datetime(2026, 11, 20, 8, 10, tzinfo=UTC)
EFFECTIVE = datetime(2026, 12, 1, tzinfo=UTC)
AFTER = datetime(2026, 12, 2, 8, 10, tzinfo=UTC)
OPERATOR = "0x" + "ab" * 32


def _texts(tmp_path: Path, effective: datetime = EFFECTIVE, version: str = NEW) -> tuple[str, str]:
    """The built-in set as a new version whose metro uses the China-grid factor (0.08334)."""
    directory = tmp_path / version
    shutil.copytree(SETS_DIR / BUILTIN, directory, dirs_exist_ok=True)
    toml = (directory / "methodology.toml").read_text()
    toml = toml.replace(f'version = "{BUILTIN}"', f'version = "{version}"')
    toml = toml.replace(
        'effective_from = "2026-01-01T00:00:00+08:00"', f'effective_from = "{effective.isoformat()}"'
    )
    toml = toml.replace('actual_factor = "rail.metro.cn-beijing"', 'actual_factor = "rail.metro.cn-grid"')
    return (directory / "factors.csv").read_text(), toml


def _candidate(tmp_path: Path, effective: datetime = EFFECTIVE, version: str = NEW) -> FactorSet:
    return factor_sets.parse_upload(*_texts(tmp_path, effective, version))


def _publish(db: Database, candidate: FactorSet, now: datetime = BEFORE) -> factor_sets.Published:
    return factor_sets.publish(db, candidate, publisher=OPERATOR, origin="cli", now=now)


def _metro(when: datetime, km: str = "12.4") -> dict[str, object]:
    return {"type": "metro", "occurred_at": when.isoformat(), "distance_km": km, "purpose": "commute"}


def _record(db: Database, key: str, when: datetime, now: datetime) -> ActivityRow:
    return record_activity(db, ALICE, key, _metro(when), when, POLICY, now=now).row


def test_publish_stores_logs_and_replays(db: Database, tmp_path: Path) -> None:
    candidate = _candidate(tmp_path)
    first = _publish(db, candidate)
    assert first.created and first.info.leaf_index == 0 and first.info.origin == "cli"
    with db.read_sessions() as session:
        leaf = SqlLogStore(session).leaf(0)
        row = session.get(FactorSetRow, NEW)
    assert leaf is not None and leaf.kind == "factor_set" and leaf.record_id == NEW
    body = json.loads(leaf.leaf)["body"]
    assert body["sha256"] == "0x" + candidate.content_hash and body["effective_from"] == EFFECTIVE.isoformat()
    assert row is not None and row.content_hash == candidate.content_hash and row.published_by == OPERATOR

    again = _publish(db, candidate)
    assert not again.created and again.info.leaf_index == 0
    with pytest.raises(Conflict, match="already exists with other content"):
        _publish(db, _candidate(tmp_path, EFFECTIVE + timedelta(days=1)))
    with pytest.raises(Conflict):
        _publish(db, _candidate(tmp_path, EFFECTIVE, version=BUILTIN))
    infos, in_force = factor_sets.list_sets(db, AFTER)
    # park-default-2027.1 is scheduled (2027-01-01): listed after the operator's set
    assert [i.factor_set.version for i in infos] == [BUILTIN, NEW, "park-default-2027.1"] and in_force == NEW
    assert factor_sets.list_sets(db, BEFORE)[1] == BUILTIN
    with db.read_sessions() as session:
        assert SqlLogStore(session).size() == 1


def test_activities_use_the_set_in_force_and_old_results_never_change(db: Database, tmp_path: Path) -> None:
    early = _record(db, "key-before-1", BEFORE, now=BEFORE)
    # under the built-in set: 12.4 × 0.0467 = 0.57908 → 579 g avoided; 12.4 × 0.0614 → 761 g
    assert (early.factor_set, early.co2e_avoided_g, early.co2e_scope3_g) == (BUILTIN, 579, 761)
    candidate = _candidate(tmp_path)
    _publish(db, candidate, now=BEFORE + timedelta(days=1))

    late = _record(db, "key-after-01", AFTER, now=AFTER)
    # under the new set: metro 0.08334; avoided 12.4 × (0.1081 − 0.08334) = 0.307024 → 307 g;
    # Scope 3 12.4 × 0.08334 = 1.033416 → 1033 g
    assert (late.factor_set, late.co2e_avoided_g, late.co2e_scope3_g) == (NEW, 307, 1033)
    # reported late but occurred before the new set took effect: still the built-in set
    backdated = _record(db, "key-backdated", EFFECTIVE - timedelta(hours=1), now=AFTER)
    assert (backdated.factor_set, backdated.co2e_avoided_g) == (BUILTIN, 579)

    with db.read_sessions() as session:
        stored = session.get(ActivityRow, early.id)
    assert stored is not None and (stored.co2e_avoided_g, stored.factor_set) == (579, BUILTIN)
    # the earlier set still reproduces the stored result exactly
    again = normalize("metro", stored.quantities, load_builtin_set(BUILTIN))
    assert (again.co2e_avoided_g, again.co2e_scope3_g) == (stored.co2e_avoided_g, stored.co2e_scope3_g)


def test_recompute_previews_without_applying(db: Database, tmp_path: Path) -> None:
    for i, km in enumerate(["12.4", "3", "0.4"]):
        record_activity(db, ALICE, f"key-rc-{i:05d}", _metro(BEFORE, km), BEFORE, POLICY, now=BEFORE)
    report = factor_recompute.recompute(db, _candidate(tmp_path), baseline=None)
    metro = report.by_type["metro"]
    # 12.4 km: 579 → 307 g, 761 → 1033 g; 3 km: 140 (140.1) → 74 (74.28) g, 184 → 250 g;
    # 0.4 km: no credit either way, 25 (24.56) → 33 (33.336) g Scope 3
    assert (metro.activities, metro.changed, metro.not_computable) == (3, 3, 0)
    assert (metro.avoided_before_g, metro.avoided_after_g) == (579 + 140, 307 + 74)
    assert (metro.scope3_before_g, metro.scope3_after_g) == (761 + 184 + 25, 1033 + 250 + 33)
    assert report.samples[0]["co2e_avoided_g"] == [579, 307]
    assert report.public()["applied"] is False
    with db.read_sessions() as session:
        stored = session.execute(select(func.sum(ActivityRow.co2e_avoided_g))).scalar_one()
    assert stored == 579 + 140
    since = factor_recompute.recompute(db, _candidate(tmp_path), baseline=None, since=AFTER)
    assert since.totals.activities == 0


def test_a_set_cannot_take_effect_out_of_order(db: Database, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        _publish(db, _candidate(tmp_path, datetime(2025, 6, 1, tzinfo=UTC)))
    assert err.value.field == "effective_from" and BUILTIN in err.value.reason
    _record(db, "key-order-01", BEFORE, now=BEFORE)
    with pytest.raises(InvalidInput) as err:
        _publish(db, _candidate(tmp_path, BEFORE - timedelta(days=1)))
    assert err.value.field == "effective_from" and "computed under earlier sets" in err.value.reason
    with db.read_sessions() as session:
        assert session.execute(select(func.count()).select_from(FactorSetRow)).scalar_one() == 0
        assert SqlLogStore(session).size() == 2  # the activity and its points transfer; no factor_set leaf


def test_checkpoint_meta_carries_published_set_hashes(db: Database, tmp_path: Path) -> None:
    candidate = _candidate(tmp_path)
    _publish(db, candidate)
    with db.read_sessions() as session:
        meta = json.loads(checkpoint_meta(session, 1))
    assert meta["factor_sets"][NEW] == "0x" + candidate.content_hash
    assert meta["factor_sets"][BUILTIN] == "0x" + load_builtin_set(BUILTIN).content_hash


def test_tampered_stored_content_is_detected(db: Database, tmp_path: Path) -> None:
    _publish(db, _candidate(tmp_path))
    factor_sets._PARSED.clear()
    with db.write_sessions() as session, session.begin():
        content = session.execute(select(FactorSetRow.content)).scalar_one()
        tampered = content.replace('"0.08334"', '"0.01"')
        assert tampered != content
        session.execute(update(FactorSetRow).values(content=tampered))
    with pytest.raises(FactorSetError):
        factor_sets.find(db, NEW)


def test_concurrent_publications_of_one_version_store_once(db: Database, tmp_path: Path) -> None:
    candidate = _candidate(tmp_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: _publish(db, candidate), range(6)))
    assert sum(r.created for r in results) == 1
    with db.read_sessions() as session:
        assert session.execute(select(func.count()).select_from(LogLeafRow)).scalar_one() == 1


def test_invalid_upload_names_file_and_row(tmp_path: Path) -> None:
    factors_csv, toml = _texts(tmp_path)
    lines = factors_csv.splitlines()
    lines[2] = lines[2].replace(",vkm,", ",parsec,", 1)
    with pytest.raises(InvalidInput) as err:
        factor_sets.parse_upload("\n".join(lines), toml)
    assert err.value.field == "factors_csv"
    assert err.value.reason.startswith("factors.csv: row 3: unit 'parsec'")
    with pytest.raises(InvalidInput) as err:
        factor_sets.parse_upload(
            factors_csv, toml.replace('default_baseline = "city_mode_mix"', "default_baseline =")
        )
    assert err.value.field == "methodology_toml" and "methodology.toml" in err.value.reason
