"""The routes build their responses from the services' result types with ``from_attributes``: every
public field must be an attribute of the result type, and the values come through unchanged."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel

from backend.domain.states import ActivityStatus, RedemptionStatus
from backend.services.points.rewards import CatalogueEntry, RedemptionView
from backend.services.recording.activities import ActivityView
from mini_program_api.points_schemas import RedemptionPublic, RewardPublic
from mini_program_api.schemas import ActivityPublic


def _attributes(view: type) -> set[str]:
    return {f.name for f in fields(view)} | {
        name for name, value in vars(view).items() if isinstance(value, property)
    }


@pytest.mark.parametrize(
    ("view", "public"),
    [(ActivityView, ActivityPublic), (CatalogueEntry, RewardPublic), (RedemptionView, RedemptionPublic)],
)
def test_the_result_type_carries_every_public_field(view: type, public: type[BaseModel]) -> None:
    assert set(public.model_fields) <= _attributes(view)


BEIJING = timezone(timedelta(hours=8))
WHEN = datetime(2026, 3, 1, 8, 30, tzinfo=BEIJING)


def test_an_issued_redemption_shows_its_qr_code_and_utc_times() -> None:
    view = RedemptionView(
        id="r1",
        reward_id="w1",
        reward_name="Coffee",
        reward_name_zh="咖啡",
        voucher_code="CL-AAAA-BBBB-CCCC",
        price_points=100,
        status=RedemptionStatus.ISSUED,
        created_at=WHEN,
        cancellable_until=WHEN + timedelta(minutes=30),
        cancelled_at=None,
        expires_at=WHEN + timedelta(days=30),
        used_at=None,
        balance=5,
    )
    body = RedemptionPublic.model_validate(view).model_dump(mode="json")
    assert body["voucher_qr_url"] == "/mp/v1/redemptions/r1/qr" and body["status"] == "issued"
    assert body["created_at"] == "2026-03-01T00:30:00Z" and body["balance"] == 5
    used = RedemptionPublic.model_validate(
        RedemptionView(
            **{**{f.name: getattr(view, f.name) for f in fields(view)}, "status": RedemptionStatus.USED}
        )
    )
    assert used.voucher_qr_url is None and used.status == "used"


def test_an_activity_shows_its_receipt_and_recorded_time() -> None:
    calculation = {"baseline": None, "inputs": {}, "factors": [], "formula": "f", "rounding": "r"}
    calculation |= {"credited": True, "note": "n"}
    view = ActivityView(
        id="a1",
        type="cycling",
        status=ActivityStatus.FLAGGED,
        occurred_at=WHEN,
        recorded_at=WHEN.astimezone(UTC) + timedelta(minutes=1),
        quantities={"distance_km": "3.2"},
        co2e_avoided_g=410,
        co2e_scope3_g=0,
        scope3_category=None,
        points=0,
        factor_set="park-default-2026.1",
        calculation=calculation,
        leaf_index=7,
    )
    body = ActivityPublic.model_validate(view).model_dump(mode="json")
    assert body["receipt_url"] == "/mp/v1/activities/a1/receipt" and body["status"] == "flagged"
    assert body["occurred_at"] == "2026-03-01T00:30:00Z" and body["recorded_at"] == "2026-03-01T00:31:00Z"
    assert body["calculation"]["formula"] == "f" and body["leaf_index"] == 7
