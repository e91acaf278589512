"""The running application's collaborators, built once at start-up and shared by routes and jobs."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from backend.adapters.chain import LedgerChain
from backend.adapters.database import Database
from backend.services.activities import IssuancePolicy
from backend.services.anchoring import AnchorPolicy, AnchorTarget
from backend.services.chain_identity import ChainGuard, ExpectedChain
from backend.services.points_rules import points_defaults
from backend.settings import Settings

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

    @property
    def issuance(self) -> IssuancePolicy:
        return IssuancePolicy(
            points_per_kg=self.settings.points_per_kg_avoided,
            subject_key=self.subject_key,
            max_age=timedelta(days=self.settings.max_activity_age_days),
            clock_skew=timedelta(seconds=self.settings.clock_skew_s),
            points_rules=points_defaults(self.settings),
            baseline=self.settings.baseline,
        )

    @property
    def anchor_policy(self) -> AnchorPolicy:
        return AnchorPolicy(
            batch_leaves=self.settings.anchor_batch_leaves, max_wait_s=self.settings.anchor_max_wait_s
        )


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
