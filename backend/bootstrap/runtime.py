"""The running application's collaborators, built once at start-up and shared by routes and jobs."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from backend.adapters.chain import LedgerChain
from backend.adapters.database import Database
from backend.adapters.identity_providers import IdentityProvider, build_provider
from backend.adapters.log_keys import LogKeyStore
from backend.adapters.voucher_keys import VoucherSigner
from backend.bootstrap.settings import Settings
from backend.domain.log.checkpoints import AnchorTarget
from backend.domain.points.points_rules import IssuanceRules, TypeRule
from backend.domain.recording.recognition import RateLimit, RecognitionRules
from backend.services.anchoring.anchoring import AnchorPolicy
from backend.services.anchoring.chain_identity import ChainGuard, ExpectedChain
from backend.services.identity.identity import TokenPolicy
from backend.services.identity.revocation import RevocationList
from backend.services.recording.activities import IssuancePolicy
from backend.services.recording.recognition import Screening

SUBJECT_KEY_FILE = "subject-commitment.key"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    chain: LedgerChain | None
    target: AnchorTarget | None
    subject_key: bytes
    expected: ExpectedChain | None = None
    """What the deployment manifest promises about the chain (None without a chain)."""
    chain_guard: ChainGuard = field(default_factory=ChainGuard)
    revocations: RevocationList = field(default_factory=RevocationList)
    """Sign-ins ended within the last access-token lifetime: checked on every request."""

    def __post_init__(self) -> None:
        self.revocations.refresh_interval_s = self.settings.revocation_refresh_s

    def sign_ins_ended(self) -> None:
        """Applies sign-ins just ended in the database (logout, a disabled account) at once."""
        self.revocations.reload(self.db, self.settings.access_token_ttl_s)

    @cached_property
    def log_keys(self) -> LogKeyStore:
        """The log's checkpoint-signing keys (created on first use, like the subject key)."""
        return log_key_store(self.settings)

    _voucher_signer: VoucherSigner | None = field(default=None, repr=False)

    @property
    def voucher_signer(self) -> VoucherSigner:
        """The voucher-signing key, loaded (or created) from the data dir on first use."""
        if self._voucher_signer is None:
            self._voucher_signer = VoucherSigner.load_or_create(self.settings.data_dir)
        return self._voucher_signer

    @property
    def issuance(self) -> IssuancePolicy:
        return IssuancePolicy(
            points_per_kg=self.settings.points_per_kg_avoided,
            subject_key=self.subject_key,
            max_age=timedelta(days=self.settings.max_activity_age_days),
            clock_skew=timedelta(seconds=self.settings.clock_skew_s),
            points_rules=points_defaults(self.settings),
            baseline=self.settings.baseline,
            screening=self.screening,
        )

    @property
    def screening(self) -> Screening:
        s = self.settings
        rules = RecognitionRules(
            self_report_auto_max_g=s.self_report_auto_max_g,
            evidenced_auto_max_g=s.evidenced_auto_max_g,
            self_report_daily_auto=s.self_report_daily_auto,
        ).with_overrides(s.recognition_bands)
        return Screening(
            rules,
            RateLimit(s.employee_activities_per_hour, timedelta(hours=1)),
            RateLimit(s.employee_activities_per_day, timedelta(days=1)),
        )

    @property
    def tokens(self) -> TokenPolicy:
        s = self.settings
        return TokenPolicy(s.token_secret, s.access_token_ttl_s, s.refresh_token_ttl_s, self.subject_key)

    @property
    def identity_provider(self) -> IdentityProvider:
        s = self.settings
        return build_provider(
            s.identity_provider,
            app_id=s.wechat_app_id,
            app_secret=s.wechat_app_secret,
            api_base=s.wechat_api_base,
            timeout_s=s.wechat_timeout_s,
        )

    @property
    def anchor_policy(self) -> AnchorPolicy:
        return AnchorPolicy(
            batch_leaves=self.settings.anchor_batch_leaves,
            max_wait_s=self.settings.anchor_max_wait_s,
            replace_after_blocks=self.settings.anchor_replace_after_blocks,
        )


def points_defaults(settings: Settings) -> IssuanceRules:
    """The settings-level defaults (``CARBON_POINTS_*``), under whatever the park's document sets."""
    return IssuanceRules(
        points_per_kg=settings.points_per_kg_avoided,
        default_type=TypeRule(
            daily_count_cap=settings.points_daily_count_cap, cooldown_s=settings.points_cooldown_s or None
        ),
        employee_daily_points_cap=settings.points_employee_daily_cap,
        employee_monthly_points_cap=settings.points_employee_monthly_cap,
        expiry_months=settings.points_expiry_months,
        utc_offset_min=settings.points_utc_offset_min,
        company_max_points_per_kg=settings.points_company_max_per_kg,
    )


def log_key_store(settings: Settings) -> LogKeyStore:
    return LogKeyStore(settings.resolved_log_key_file, settings.log_origin)


def load_subject_key(settings: Settings) -> bytes:
    """The HMAC key of subject commitments: from settings, else a file created once in the data dir."""
    if settings.subject_key:
        return bytes.fromhex(settings.subject_key.removeprefix("0x"))
    path: Path = settings.data_dir / SUBJECT_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return bytes.fromhex(path.read_text().strip())
