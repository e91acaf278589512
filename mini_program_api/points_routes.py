"""Employee-facing points routes: balance, history, catalogue, redemptions, leaderboards."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Annotated

import segno
from fastapi import APIRouter, Body, Query, Response

from backend.api.deps import IdempotencyKeyDep, PrincipalDep, RuntimeDep
from backend.bootstrap.runtime import Runtime
from backend.domain.points import vouchers as voucher_rules
from backend.domain.points.points_rules import IssuanceRules
from backend.services.points import leaderboards, points, points_rules, rewards
from backend.services.points.points import HistoryLine
from mini_program_api.points_schemas import (
    ActivityRef,
    DepartmentBoardPublic,
    DepartmentEntryPublic,
    ExpiringPoints,
    HistoryItem,
    HistoryPage,
    LeaderboardEntry,
    LeaderboardOptIn,
    LeaderboardPublic,
    LeaderboardStatus,
    PointsBalance,
    RedemptionCreate,
    RedemptionPage,
    RedemptionPublic,
    RewardList,
    RewardPublic,
    RewardRef,
)

router = APIRouter(prefix="/mp/v1", tags=["mini-program: points"])

EXPIRY_LOOK_AHEAD_DAYS = 30
"""How far ahead the balance warns about expiring points (a month: time to spend them)."""
LEADERBOARD_TOP = 20
PeriodQuery = Annotated[
    str | None, Query(description="A month, YYYY-MM (park calendar); default: this month.")
]


def _park_rules(runtime: Runtime) -> IssuanceRules:
    return points_rules.park_rules(runtime.db, runtime.issuance.rules_defaults)


@router.get("/points", response_model=PointsBalance, summary="My carbon points balance / 我的碳积分")
def get_points(runtime: RuntimeDep, principal: PrincipalDep) -> PointsBalance:
    expiry_months = _park_rules(runtime).expiry_months
    now = datetime.now(UTC)
    summary = points.summary(runtime.db, principal.subject, expiry_months, now, EXPIRY_LOOK_AHEAD_DAYS)
    expiring = None
    if summary.expiring_points > 0 and summary.expiring_by is not None:
        expiring = ExpiringPoints(points=summary.expiring_points, by=summary.expiring_by)
    return PointsBalance(
        balance=summary.balance,
        earned=summary.earned,
        redeemed=summary.redeemed,
        expired=summary.expired,
        corrected=summary.corrected,
        expiring=expiring,
    )


def _history_item(line: HistoryLine) -> HistoryItem:
    t = line.transfer
    activity = None
    if line.activity is not None:
        a = line.activity
        activity = ActivityRef(
            id=a.id, type=a.type, occurred_at=a.occurred_at.astimezone(UTC), co2e_avoided_g=a.co2e_avoided_g
        )
    reward = None
    if line.reward is not None:
        reward = RewardRef(
            id=line.reward.id,
            name=line.reward.name,
            name_zh=line.reward.name_zh,
            redemption_id=t.redemption_id,
        )
    return HistoryItem(
        transfer_id=t.id,
        at=t.created_at.astimezone(UTC),
        kind=t.kind,  # type: ignore[arg-type]
        amount=line.amount,
        balance_after=line.balance_after,
        reason_code=t.reason_code,
        reverses=t.reverses_id,
        activity=activity,
        reward=reward,
        leaf_index=t.leaf_index,
    )


@router.get(
    "/points/history", response_model=HistoryPage, summary="My points history, newest first / 积分明细"
)
def get_history(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=points.MAX_PAGE_SIZE)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HistoryPage:
    lines, total, balance = points.history(runtime.db, principal.subject, limit, offset)
    return HistoryPage(
        items=[_history_item(line) for line in lines],
        total=total,
        limit=limit,
        offset=offset,
        balance=balance,
    )


@router.get("/rewards", response_model=RewardList, summary="Rewards I can redeem now / 积分商城")
def get_rewards(runtime: RuntimeDep, principal: PrincipalDep) -> RewardList:
    entries = rewards.catalogue(runtime.db, principal.subject, principal.org, datetime.now(UTC))
    return RewardList(items=[RewardPublic.model_validate(entry) for entry in entries])


@router.post(
    "/redemptions",
    status_code=201,
    response_model=RedemptionPublic,
    responses={
        200: {"model": RedemptionPublic, "description": "A replay of an earlier request with the same key"},
        404: {"description": "No such reward open to your company"},
        409: {"description": "Out of stock, redemption limit reached, or reward not available now"},
        422: {"description": "Not enough points, or invalid input"},
    },
    summary="Redeem a reward / 兑换奖品",
)
def create_redemption(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    body: Annotated[RedemptionCreate, Body()],
    response: Response,
    idempotency_key: IdempotencyKeyDep,
) -> RedemptionPublic:
    result = rewards.redeem(
        runtime.db, runtime.subject_key, principal, body.reward_id, idempotency_key, datetime.now(UTC)
    )
    if not result.created:
        response.status_code = 200
    return RedemptionPublic.model_validate(result.view)


@router.get("/redemptions", response_model=RedemptionPage, summary="My redemptions, newest first / 我的兑换")
def list_redemptions(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=rewards.MAX_PAGE_SIZE)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> RedemptionPage:
    views, total = rewards.my_redemptions(runtime.db, principal.subject, limit, offset)
    return RedemptionPage(
        items=[RedemptionPublic.model_validate(v) for v in views], total=total, limit=limit, offset=offset
    )


@router.get("/redemptions/{redemption_id}", response_model=RedemptionPublic, summary="One of my redemptions")
def get_redemption(runtime: RuntimeDep, principal: PrincipalDep, redemption_id: str) -> RedemptionPublic:
    row, reward = rewards.get_redemption(runtime.db, principal.subject, redemption_id)
    return RedemptionPublic.model_validate(rewards.RedemptionView.of(row, reward))


@router.get(
    "/redemptions/{redemption_id}/qr",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}}},
    summary="My voucher as a signed QR code / 兑换券二维码",
)
def get_voucher_qr(runtime: RuntimeDep, principal: PrincipalDep, redemption_id: str) -> Response:
    """An SVG QR code of ``CLV1.<code>.<expires>.<signature>``: the merchant's page checks the
    park's signature (``GET /api/v1/vouchers/key``) before it asks the server."""
    row, _reward = rewards.get_redemption(runtime.db, principal.subject, redemption_id)
    expires_at = voucher_rules.ends_at(row.created_at, row.expires_at)
    text = voucher_rules.signed_text(row.voucher_code, expires_at)
    svg = io.BytesIO()
    segno.make_qr(f"{text}.{runtime.voucher_signer.sign(text)}", error="m").save(
        svg, kind="svg", scale=6, border=2, title=row.voucher_code
    )
    return Response(svg.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.post(
    "/redemptions/{redemption_id}/cancel",
    response_model=RedemptionPublic,
    responses={409: {"description": "The cancellation window has passed"}},
    summary="Cancel my redemption for a refund / 取消兑换并退还积分",
)
def cancel_redemption(runtime: RuntimeDep, principal: PrincipalDep, redemption_id: str) -> RedemptionPublic:
    result = rewards.cancel(runtime.db, runtime.subject_key, principal, redemption_id, datetime.now(UTC))
    return RedemptionPublic.model_validate(result.view)


# --- Leaderboards ----------------------------------------------------------------------------------


def _status(runtime: Runtime, principal: PrincipalDep) -> LeaderboardStatus:
    row = leaderboards.opted_in(runtime.db, principal)
    if row is None:
        return LeaderboardStatus(opted_in=False, alias=None, display_name=None, company=None, department=None)
    name = row.alias or leaderboards.pseudonym(runtime.subject_key, principal.subject)
    return LeaderboardStatus(
        opted_in=True, alias=row.alias, display_name=name, company=row.org_id, department=row.department_id
    )


@router.get("/leaderboards/opt-in", response_model=LeaderboardStatus, summary="Am I on the leaderboards?")
def get_opt_in(runtime: RuntimeDep, principal: PrincipalDep) -> LeaderboardStatus:
    return _status(runtime, principal)


@router.put(
    "/leaderboards/opt-in",
    response_model=LeaderboardStatus,
    summary="Appear on leaderboards under a pseudonym / 加入排行榜",
)
def put_opt_in(
    runtime: RuntimeDep, principal: PrincipalDep, body: Annotated[LeaderboardOptIn, Body()]
) -> LeaderboardStatus:
    leaderboards.opt_in(runtime.db, principal, body.alias, datetime.now(UTC))
    return _status(runtime, principal)


@router.delete("/leaderboards/opt-in", status_code=204, summary="Leave the leaderboards / 退出排行榜")
def delete_opt_in(runtime: RuntimeDep, principal: PrincipalDep) -> Response:
    leaderboards.opt_out(runtime.db, principal)
    return Response(status_code=204)


def _board(runtime: Runtime, principal: PrincipalDep, scope: str, period: str | None) -> LeaderboardPublic:
    settings = runtime.settings
    label, since, until = leaderboards.period_window(
        period, datetime.now(UTC), _park_rules(runtime).utc_offset_min
    )
    result = leaderboards.board(
        runtime.db,
        runtime.subject_key,
        principal,
        scope,
        since,
        until,
        settings.min_group_size,
        LEADERBOARD_TOP,
    )

    def entry(e: leaderboards.Entry) -> LeaderboardEntry:
        return LeaderboardEntry(rank=e.rank, name=e.name, points=e.points, me=e.me)

    return LeaderboardPublic(
        scope=scope,  # type: ignore[arg-type]
        period=label,
        available=result.available,
        reason=result.reason,
        members=result.members,
        min_group=settings.min_group_size,
        entries=[entry(e) for e in result.entries],
        me=entry(result.me) if result.me else None,
    )


@router.get("/leaderboards/company", response_model=LeaderboardPublic, summary="My company's leaderboard")
def company_board(
    runtime: RuntimeDep, principal: PrincipalDep, period: PeriodQuery = None
) -> LeaderboardPublic:
    return _board(runtime, principal, "company", period)


@router.get(
    "/leaderboards/department", response_model=LeaderboardPublic, summary="My department's leaderboard"
)
def department_board(
    runtime: RuntimeDep, principal: PrincipalDep, period: PeriodQuery = None
) -> LeaderboardPublic:
    return _board(runtime, principal, "department", period)


@router.get(
    "/leaderboards/departments",
    response_model=DepartmentBoardPublic,
    summary="Departments of my company, by points per member / 部门排行",
)
def departments_board(
    runtime: RuntimeDep, principal: PrincipalDep, period: PeriodQuery = None
) -> DepartmentBoardPublic:
    label, since, until = leaderboards.period_window(
        period, datetime.now(UTC), _park_rules(runtime).utc_offset_min
    )
    min_group = runtime.settings.min_group_size
    entries, too_small = leaderboards.departments(runtime.db, principal, since, until, min_group)
    return DepartmentBoardPublic(
        period=label,
        min_group=min_group,
        departments=[DepartmentEntryPublic(**vars(e)) for e in entries],
        departments_too_small=too_small,
    )
