"""The domain's error hierarchy.

One root (:class:`CarbonLedgerError`) with narrow subclasses that also inherit the builtin they
refine, so callers can catch either. The HTTP layer maps each class to a status and an RFC 9457
problem type in one table (``backend/api/problems.py``); routes never build error responses.
Every error carries a bilingual title (Simplified Chinese and English) for user-facing text.
"""

from __future__ import annotations


class CarbonLedgerError(Exception):
    """Root of every error the ledger raises on purpose."""

    title_en = "Carbon ledger error"
    title_zh = "碳账本错误"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(CarbonLedgerError, ValueError):
    """Input that fails validation; ``field`` names the offending field (dotted path)."""

    title_en = "Invalid input"
    title_zh = "输入无效"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(CarbonLedgerError, LookupError):
    title_en = "Not found"
    title_zh = "未找到"


class Conflict(CarbonLedgerError):
    title_en = "Conflict"
    title_zh = "冲突"


class IdempotencyConflict(Conflict):
    """The same idempotency key was used with a different request body."""

    title_en = "Idempotency key reused with a different request"
    title_zh = "幂等键已用于不同的请求"


class Unauthenticated(CarbonLedgerError, PermissionError):
    title_en = "Authentication required"
    title_zh = "需要身份认证"


class PermissionDenied(CarbonLedgerError, PermissionError):
    title_en = "Permission denied"
    title_zh = "无权访问"


class ProofError(CarbonLedgerError, ValueError):
    """A Merkle inclusion or consistency proof does not verify, or cannot be built."""

    title_en = "Proof does not verify"
    title_zh = "证明校验失败"


class ChainError(CarbonLedgerError, RuntimeError):
    """The chain could not be reached or refused a transaction."""

    title_en = "Blockchain unavailable"
    title_zh = "区块链不可用"


class ChainMismatch(ChainError):
    """The chain is not the one the ledger anchored to (new genesis, missing contract or history)."""

    title_en = "Blockchain is not the anchored chain"
    title_zh = "区块链与已锚定的链不一致"


class ConfigurationError(CarbonLedgerError, RuntimeError):
    title_en = "Configuration error"
    title_zh = "配置错误"


# --- Carbon points and rewards -------------------------------------------------------------------


class TransferConflict(IdempotencyConflict):
    """A transfer id was already used with other fields (TigerBeetle's ``exists_with_different_*``)."""

    title_en = "Transfer id already used with different fields"
    title_zh = "转账编号已用于不同的转账"


class InsufficientPoints(CarbonLedgerError, ValueError):
    """The debit would take an account that may not overdraw (an employee's) below zero."""

    title_en = "Not enough points"
    title_zh = "积分不足"

    def __init__(self, detail: str, balance: int, required: int) -> None:
        super().__init__(detail)
        self.extensions = {"balance": balance, "required": required}


class OutOfStock(Conflict):
    title_en = "Reward out of stock"
    title_zh = "奖品已兑完"


class RedemptionLimitReached(Conflict):
    title_en = "Redemption limit reached for this reward"
    title_zh = "已达到该奖品的兑换上限"


class RewardUnavailable(Conflict):
    """The reward exists but cannot be redeemed now (inactive or outside its validity window)."""

    title_en = "Reward not available now"
    title_zh = "奖品当前不可兑换"


class CancellationClosed(Conflict):
    """The redemption can no longer be cancelled (its window has passed or the voucher was used)."""

    title_en = "Redemption can no longer be cancelled"
    title_zh = "兑换已无法取消"


class ReversalNotAllowed(Conflict):
    """The transfer cannot be reversed (its kind is not correctable, or it is already fully reversed)."""

    title_en = "Transfer cannot be reversed"
    title_zh = "该转账无法冲正"


# --- identity, integrations and recognition (issue 6) ---


class ActivityRejected(InvalidInput):
    """A recognition rule refused the activity (implausible for its mode, or a duplicate)."""

    title_en = "Activity not accepted"
    title_zh = "行为未被认可"

    def __init__(self, field: str, reason: str, rule: str) -> None:
        super().__init__(field, reason)
        self.rule = rule


class RateLimited(CarbonLedgerError):
    """Too many requests from one employee or one source; retry after ``retry_after_s``."""

    title_en = "Too many requests"
    title_zh = "请求过于频繁"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class NotEnrolled(PermissionDenied):
    """A signed-in person who is not bound to an employee of the park (no invitation redeemed)."""

    title_en = "Not enrolled: redeem an invitation code"
    title_zh = "尚未登记：请使用邀请码"


class SignatureInvalid(Unauthenticated):
    title_en = "Signature does not verify"
    title_zh = "签名校验失败"


class ReplayRejected(Conflict):
    """A signed delivery seen before (the same signature within the timestamp window)."""

    title_en = "Replayed delivery rejected"
    title_zh = "重放请求被拒绝"


class DatabaseUnavailable(CarbonLedgerError, RuntimeError):
    """The database could not be reached (a lost connection, a failover): nothing was recorded
    by this request, and the same request with the same idempotency key may be sent again."""

    title_en = "Database unavailable"
    title_zh = "数据库暂不可用"

    retry_after_s = 1


class UpstreamError(CarbonLedgerError, RuntimeError):
    """An outside service we depend on (the identity provider) failed or is unreachable."""

    title_en = "Upstream service unavailable"
    title_zh = "上游服务不可用"


# --- vouchers at the till (issue 18) ---


class VoucherUsed(Conflict):
    """A voucher is good for one use; this one was used already."""

    title_en = "Voucher already used"
    title_zh = "兑换券已使用"


class VoucherCancelled(Conflict):
    """The employee cancelled the redemption (and got the points back)."""

    title_en = "Voucher cancelled"
    title_zh = "兑换券已取消"


class VoucherExpired(Conflict):
    """The voucher's validity has ended."""

    title_en = "Voucher expired"
    title_zh = "兑换券已过期"
