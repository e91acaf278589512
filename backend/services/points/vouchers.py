"""Use cases at the till: a merchant looks a voucher up and marks it used, once.

Marking a voucher used is one write transaction under the log head lock: the redemption row is
read (``FOR UPDATE`` on PostgreSQL), checked (this merchant's, not used, not cancelled, not
expired), marked ``used`` and logged as a ``voucher_use`` leaf naming the redemption, the reward
and the merchant — no employee, no subject commitment. A used voucher can no longer be cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.adapters.database import Database
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.adapters.orm_points import RedemptionRow, RewardRow
from backend.domain.errors import NotFound, PermissionDenied
from backend.domain.log.record_kinds import VoucherUseBody, encode
from backend.domain.points import vouchers as rules
from backend.domain.states import RedemptionStatus
from backend.services.identity.tokens import Principal
from backend.services.points.points import is_postgres


@dataclass(frozen=True)
class Voucher:
    redemption: RedemptionRow
    reward: RewardRow


def _find(session: Session, code: str, *, lock: bool) -> tuple[RedemptionRow, RewardRow]:
    stmt = select(RedemptionRow).where(RedemptionRow.voucher_code == code)
    if lock and is_postgres(session):
        stmt = stmt.with_for_update()
    row = session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no voucher {code}")
    reward = session.get(RewardRow, row.reward_id)
    assert reward is not None
    return row, reward


def look_up(db: Database, merchant: Principal, text: str) -> Voucher:
    """The voucher a typed code or a scanned QR text names, if it is this merchant's."""
    code = rules.normalize_code(text)
    with db.read_sessions() as session:
        row, reward = _find(session, code, lock=False)
        if reward.merchant is None or reward.merchant != merchant.org:
            raise PermissionDenied(f"voucher {code} is not accepted by merchant {merchant.org}")
        return Voucher(row, reward)


def use(db: Database, merchant: Principal, text: str, now: datetime) -> Voucher:
    """Marks the voucher used by ``merchant``: single use, logged; refused when used, cancelled,
    expired or another merchant's."""
    code = rules.normalize_code(text)
    with db.write_sessions() as session, session.begin():
        log = SqlLogStore(session)
        log.lock_head()
        row, reward = _find(session, code, lock=True)
        expires_at = rules.ends_at(row.created_at, row.expires_at)
        rules.check_usable(code, row.status, expires_at, row.used_at, reward.merchant, merchant.org, now)
        body = VoucherUseBody(
            redemption=row.id, reward=reward.id, merchant=merchant.org, used_at=now.isoformat()
        )
        leaf = encode(row.id, None, body)
        (leaf_index,) = log.append([PendingLeaf("voucher_use", row.id, leaf)], now)
        row.status, row.used_at, row.used_by = RedemptionStatus.USED, now, merchant.org
        row.use_leaf_index = leaf_index
        return Voucher(row, reward)
