"""Every activity type over HTTP, then a factor set published with the CLI taking effect, against a
running `carbon-ledger serve`: results, the log, the anchored meta and the auditor's replay."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from emission_factors.loader import SETS_DIR
from tests.e2e.conftest import LedgerServer
from tests.figures import figures, in_force
from tests.integration.api.test_factor_set_api import EVERY_TYPE, SCHEDULED

pytestmark = pytest.mark.anvil

BUILTIN = "park-default-2026.1"
NEW = "park-2026.2"


def _headers(token: str, key: bool = False) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return headers


def _post(server: LedgerServer, token: str, body: dict[str, Any], when: datetime) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/mp/v1/activities",
        json={"occurred_at": when.isoformat(), **body},
        headers=_headers(token, key=True),
    )
    assert response.status_code == 201, (body, response.text)
    activity: dict[str, Any] = response.json()
    return activity


def _new_set(tmp_path: Path) -> Path:
    directory = tmp_path / NEW
    shutil.copytree(SETS_DIR / BUILTIN, directory)
    toml = directory / "methodology.toml"
    text = toml.read_text().replace(f'version = "{BUILTIN}"', f'version = "{NEW}"')
    toml.write_text(
        text.replace('actual_factor = "rail.metro.cn-beijing"', 'actual_factor = "rail.metro.cn-grid"')
    )
    return directory


def _wait_anchored(server: LedgerServer, auditor: str, tree_size: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listing = httpx.get(f"{server.url}/audit/v1/checkpoints", headers=_headers(auditor)).json()
        covering = [c for c in listing["checkpoints"] if c["tree_size"] >= tree_size]
        if covering:
            checkpoint: dict[str, Any] = covering[0]
            return checkpoint
        time.sleep(0.3)
    raise AssertionError(f"tree size {tree_size} not anchored within 30 s")


def _hours_under_one_set(count: int) -> list[datetime]:
    """``count`` past times an hour apart (the recognition screen refuses one trip reported twice),
    all under one built-in set: in the first hours after a set takes effect, before that date."""
    now = datetime.now(UTC)
    times = [now - timedelta(hours=n + 1) for n in range(count)]
    while in_force(times[0]) != in_force(times[-1]):
        times = [t - timedelta(hours=1) for t in times]
    return times


def test_every_type_then_a_published_set_takes_effect(ledger_server: LedgerServer, tmp_path: Path) -> None:
    token = ledger_server.token(subject="emp-types")
    times = _hours_under_one_set(len(EVERY_TYPE))
    before = in_force(times[0])  # the set every activity below is computed under
    for at, (body, avoided, scope3, category) in zip(times, EVERY_TYPE, strict=True):
        activity = _post(ledger_server, token, body, at)
        got = (activity["co2e_avoided_g"], activity["co2e_scope3_g"], activity["scope3_category"])
        # the table holds 2026.1's figures; from 2027-01-01 the built-in set then in force decides
        assert got == figures(body, at, (avoided, scope3, category)), body
        assert activity["factor_set"] == in_force(at)

    effective = datetime.now(UTC) + timedelta(seconds=2)
    published = ledger_server.cli(
        "factors",
        "publish",
        str(_new_set(tmp_path)),
        "--effective-from",
        effective.isoformat(),
        "--operator",
        "ops-1",
    )
    assert published.stdout.startswith(f"published: {NEW}"), published.stdout + published.stderr
    listing = httpx.get(f"{ledger_server.url}/api/v1/factor-sets", headers=_headers(token)).json()
    # every published set, in order of its date: both built-in sets (2027.1 ships ahead of its
    # date) and the one just published
    items = listing["items"]
    dates = [datetime.fromisoformat(i["effective_from"]) for i in items]
    assert dates == sorted(dates)
    expected = {(BUILTIN, "builtin"), (SCHEDULED, "builtin"), (NEW, "cli")}
    assert {(i["version"], i["origin"]) for i in items} == expected
    assert next(d for i, d in zip(items, dates, strict=True) if i["version"] == NEW) == effective

    time.sleep(max(0.0, (effective - datetime.now(UTC)).total_seconds()) + 0.2)
    metro = _post(ledger_server, token, {"type": "metro", "distance_km": 12.4}, datetime.now(UTC))
    # metro 0.08334 kg/pkm: avoided 12.4 × (0.1081 − 0.08334) = 0.307024 kg → 307 g; Scope 3 1033 g
    assert (metro["factor_set"], metro["co2e_avoided_g"], metro["co2e_scope3_g"]) == (NEW, 307, 1033)
    listed = ledger_server.cli("factors", "list").stdout
    assert f"* {NEW}" in listed and f"  {BUILTIN}" in listed

    preview = json.loads(ledger_server.cli("factors", "recompute", "--with", before, "--json").stdout)
    assert preview["applied"] is False
    # only the trip computed under the new set would differ under the one before it (307 g → 579 g
    # under 2026.1)
    assert preview["by_type"]["metro"]["changed"] == 1
    before_g = figures({"type": "metro", "distance_km": 12.4}, times[0], (579, 0, None))[0]
    assert preview["largest_changes"][0]["co2e_avoided_g"] == [307, before_g]
    again = httpx.get(f"{ledger_server.url}/mp/v1/activities/{metro['id']}", headers=_headers(token)).json()
    assert again["co2e_avoided_g"] == 307

    auditor = ledger_server.token(role="auditor", subject="aud-1", org="")
    leaves = httpx.get(f"{ledger_server.url}/audit/v1/leaves", headers=_headers(auditor)).json()["leaves"]
    kinds = [json.loads(bytes.fromhex(leaf["leaf"][2:]))["kind"] for leaf in leaves]
    assert kinds.count("factor_set") == 1 and kinds.count("activity") == len(EVERY_TYPE) + 1
    _wait_anchored(ledger_server, auditor, len(leaves))
    verified = ledger_server.verify_log(auditor)
    assert verified.returncode == 0, verified.stdout + verified.stderr
