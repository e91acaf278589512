"""Every activity type and the factor-set endpoints through the HTTP layer (FastAPI TestClient,
real database, no chain): validated schemas, 422s naming the field, operator-only publication."""

from __future__ import annotations

import shutil
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette suggests its httpx fork for the test client; the pinned httpx works as is.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from backend.adapters.database import Database
from backend.api.app import create_app
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import Settings
from backend.domain.accounting import activities as domain_activities
from backend.domain.recording.recognition import RecognitionRules
from backend.services.identity.tokens import issue_token
from emission_factors.loader import SETS_DIR, load_builtin_set
from mini_program_api import schemas
from tests.figures import figures as expected_figures
from tests.figures import in_force
from tests.figures import points as expected_points

BUILTIN = "park-default-2026.1"
SCHEDULED = "park-default-2027.1"
NOW = datetime.now(UTC)
WHEN = (NOW - timedelta(minutes=30)).isoformat()


class Api:
    def __init__(self, client: TestClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def headers(self, role: str = "employee", key: bool = False) -> dict[str, str]:
        token = issue_token(self.settings.token_secret, role, f"{role}-1", "acme", 3600, kind="dev")
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        return headers

    def post_activity(self, body: dict[str, Any]) -> Any:
        return self.client.post(
            "/mp/v1/activities", json={"occurred_at": WHEN, **body}, headers=self.headers(key=True)
        )


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path, scheduler_enabled=False, env="local")
    runtime = Runtime(settings=settings, db=db, chain=None, target=None, subject_key=b"k" * 32)
    with TestClient(create_app(runtime)) as client:
        yield Api(client, settings)


# (body, co2e_avoided_g, co2e_scope3_g, scope3_category): arithmetic in
# tests/unit/domain/accounting/test_worked_examples.py
EVERY_TYPE = [
    ({"type": "metro", "distance_km": 12.4}, 579, 761, 7),
    ({"type": "bus", "distance_km": 8}, 34, 831, 7),
    ({"type": "bus_electric", "distance_km": 8}, 215, 650, 7),
    ({"type": "rail", "distance_km": 120}, 216, 12756, 7),
    ({"type": "walk", "distance": 2500, "distance_unit": "m", "duration_min": 30}, 270, 0, 7),
    ({"type": "bike", "distance_km": 6}, 649, 0, 7),
    ({"type": "bike_shared", "distance_km": 3, "source_record_id": "meituan-42"}, 324, 0, 7),
    ({"type": "ebike", "distance_km": 10}, 975, 106, 7),
    ({"type": "ev", "distance_km": 20, "region": "southwest"}, 2124, 1130, 7),
    ({"type": "taxi", "distance_km": 10, "occupants": 2}, 41, 1040, 7),
    ({"type": "carpool", "distance_km": 20, "occupants": 3}, 2170, 1085, 7),
    ({"type": "flight", "distance_km": 1200}, 0, 90708, 6),
    ({"type": "recycling", "material": "paper", "weight_kg": 10}, 11598, 47, 5),
    ({"type": "second_hand", "item": "book", "weight": 500, "weight_unit": "g"}, 644, 0, None),
    ({"type": "no_disposables", "item": "cup", "count": 3}, 39, 0, None),
    ({"type": "clean_plate", "meals": 2}, 70, 0, None),
    ({"type": "energy_saving", "kwh": 10, "region": "south", "scope": "home"}, 4042, 0, None),
]


def test_every_activity_type_is_accepted(api: Api) -> None:
    review_above_g = RecognitionRules().evidenced_auto_max_g
    for n, (body, avoided, scope3, category) in enumerate(EVERY_TYPE):
        # An hour apart (the recognition screen refuses one trip reported twice) and with an
        # evidence reference (bare self-reports over 2 kg, or over four a day, wait for review).
        at = NOW - timedelta(hours=n + 1)
        response = api.post_activity({"occurred_at": at.isoformat(), "evidence_ref": f"photo:{n}", **body})
        assert response.status_code == 201, (body, response.text)
        activity = response.json()
        figures = (activity["co2e_avoided_g"], activity["co2e_scope3_g"], activity["scope3_category"])
        # the table holds 2026.1's figures; from 2027-01-01 the set then in force decides them
        expected = expected_figures(body, at, (avoided, scope3, category))
        assert figures == expected, body
        # Credited at once, 100 points per kg, unless it avoids more than a reference vouches for.
        credited = expected[0] <= review_above_g
        assert activity["status"] == ("accepted" if credited else "flagged"), body
        assert activity["factor_set"] == in_force(at)
        assert activity["points"] == (expected_points(body, at, expected[0]) if credited else 0)
        assert all(f["source"] and f["status"] for f in activity["calculation"]["factors"])
    listed = api.client.get("/mp/v1/activities?limit=100", headers=api.headers()).json()
    assert {a["type"] for a in listed["items"]} == {body["type"] for body, *_ in EVERY_TYPE}


INVALID = [
    ({"type": "metro", "distance": 3, "distance_unit": "ft"}, "distance_unit"),
    ({"type": "metro"}, "distance_km"),
    ({"type": "metro", "distance_km": 3, "distance": 3, "distance_unit": "km"}, "distance"),
    ({"type": "metro", "distance_km": 3, "speed": 40}, "speed"),
    ({"type": "walk", "distance_km": 10, "duration_min": 20}, "duration_min"),
    ({"type": "carpool", "distance_km": 10, "occupants": 1}, "occupants"),
    ({"type": "flight", "distance_km": 900, "purpose": "commute"}, "purpose"),
    ({"type": "flight", "distance_km": 20001}, "distance_km"),  # past every set's last band
    ({"type": "recycling", "material": "wood", "weight_kg": 1}, "material"),
    ({"type": "recycling", "material": "glass", "weight": 1, "weight_unit": "lb"}, "weight_unit"),
    ({"type": "no_disposables", "item": "straw", "count": 1}, "item"),
    ({"type": "clean_plate", "meals": 0}, "meals"),
    ({"type": "energy_saving", "kwh": 5, "region": "atlantis"}, "region"),
    ({"type": "energy_saving", "energy": 5, "energy_unit": "kcal"}, "energy_unit"),
    ({"type": "teleport", "distance_km": 5}, "type"),
]


def test_invalid_activities_are_422_naming_the_field(api: Api) -> None:
    invalid = list(INVALID)
    if in_force(NOW) == BUILTIN:  # 2026.1 has no long-haul band; 2027.1's reaches 20,000 km
        invalid.append(({"type": "flight", "distance_km": 9000}, "distance_km"))
    for body, field in invalid:
        response = api.post_activity(body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in response.json()["errors"]], (body, response.json())
    assert api.client.get("/mp/v1/activities", headers=api.headers()).json()["total"] == 0


def _upload(tmp_path: Path, version: str, effective: datetime) -> dict[str, str]:
    directory = tmp_path / version
    shutil.copytree(SETS_DIR / BUILTIN, directory)
    toml = (
        (directory / "methodology.toml")
        .read_text()
        .replace(f'version = "{BUILTIN}"', f'version = "{version}"')
    )
    toml = toml.replace('actual_factor = "rail.metro.cn-beijing"', 'actual_factor = "rail.metro.cn-grid"')
    return {
        "factors_csv": (directory / "factors.csv").read_text(),
        "methodology_toml": toml,
        "effective_from": effective.isoformat(),
    }


def test_factor_sets_listed_shown_published_and_applied(api: Api, tmp_path: Path) -> None:
    listing = api.client.get("/api/v1/factor-sets", headers=api.headers("employee"))
    assert listing.status_code == 200
    builtin, scheduled = listing.json()["items"]
    # park-default-2027.1 ships ahead of its date (2027-01-01); until then 2026.1 is in force
    expected = BUILTIN if load_builtin_set(SCHEDULED).effective_from > NOW else SCHEDULED
    assert listing.json()["in_force"] == expected
    assert listing.json()["baseline"] == load_builtin_set(expected).default_baseline
    assert builtin["origin"] == "builtin" and builtin["sha256"].startswith("0x")
    assert (scheduled["version"], scheduled["in_force"]) == (SCHEDULED, expected == SCHEDULED)

    detail = api.client.get(f"/api/v1/factor-sets/{BUILTIN}", headers=api.headers("auditor")).json()
    metro = next(f for f in detail["factors"] if f["id"] == "rail.metro.cn-beijing")
    assert (
        metro["publisher"] == "Beijing Municipal Commission of Transport"
        and metro["derivation"] == "1.35 / 22"
    )
    assert {p["id"] for p in detail["parameters"]} >= {"ev_kwh_per_vkm", "cup_mass_kg"}
    assert api.client.get("/api/v1/factor-sets/nope", headers=api.headers()).status_code == 404

    upload = _upload(tmp_path, "park-2026.2", NOW - timedelta(minutes=5))
    assert (
        api.client.post("/api/v1/factor-sets", json=upload, headers=api.headers("employee")).status_code
        == 403
    )
    broken = {**upload, "factors_csv": upload["factors_csv"].replace(",vkm,0.16272,", ",vkm,x,", 1)}
    bad = api.client.post("/api/v1/factor-sets", json=broken, headers=api.headers("operator"))
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"field": "factors_csv", "reason": "factors.csv: row 2: value 'x' is not a decimal number"}
    ]

    created = api.client.post("/api/v1/factor-sets", json=upload, headers=api.headers("operator"))
    assert created.status_code == 201, created.text
    assert created.json()["in_force"] and created.json()["origin"] == "api"
    replay = api.client.post("/api/v1/factor-sets", json=upload, headers=api.headers("operator"))
    assert replay.status_code == 200 and replay.json()["leaf_index"] == created.json()["leaf_index"]

    now = datetime.now(UTC).isoformat()
    activity = api.post_activity({"type": "metro", "distance_km": 12.4, "occurred_at": now}).json()
    # metro now 0.08334 kg/pkm: avoided 12.4 × (0.1081 − 0.08334) = 0.307024 → 307 g
    assert (activity["factor_set"], activity["co2e_avoided_g"]) == ("park-2026.2", 307)

    preview = api.client.get(f"/api/v1/factor-sets/{BUILTIN}/recompute", headers=api.headers("operator"))
    assert preview.status_code == 200
    # under the built-in set the 307 g metro trip would be 579 g: shown, not applied
    assert preview.json()["applied"] is False
    assert preview.json()["by_type"]["metro"]["avoided_after_g"] == 579
    assert (
        api.client.get(
            f"/api/v1/factor-sets/{BUILTIN}/recompute", headers=api.headers("employee")
        ).status_code
        == 403
    )


def test_openapi_documents_every_activity_type_and_the_factor_set_routes(api: Api) -> None:
    assert schemas.ACTIVITY_TYPES == domain_activities.ACTIVITY_TYPES
    document = api.client.get("/openapi.json").json()
    assert {"/api/v1/factor-sets", "/api/v1/factor-sets/{version}"} <= set(document["paths"])
    components = document["components"]["schemas"]
    for name in ("MetroTrip", "CarpoolTrip", "FlightTrip", "RecyclingCreate", "EnergySavingCreate"):
        assert name in components
    assert components["MetroTrip"]["properties"]["distance_unit"]["anyOf"][0]["enum"] == ["km", "m", "mi"]
