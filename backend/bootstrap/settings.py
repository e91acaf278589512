"""Configuration: one pydantic-settings ``Settings`` behind a cached :func:`get_settings`.

Every variable is prefixed ``CARBON_`` and may come from the environment or a ``.env`` file.
Outside ``CARBON_ENV=local`` the application refuses the well-known development secrets and keys
(see :meth:`Settings.check_production_safety`).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, DotEnvSettingsSource, SettingsConfigDict

from backend.adapters import voucher_keys
from backend.bootstrap import key_safety
from backend.domain.errors import ConfigurationError

DEV_TOKEN_SECRET = "carbon-ledger-local-development-secret-do-not-use"  # noqa: S105 (public on purpose)
"""Signing secret for tokens in local mode. It is public, so it is refused outside local mode."""

ChainProfileName = Literal["anvil", "besu-qbft", "external"]

REMOVED_VARIABLES = {
    "CARBON_SCOPE3_MIN_GROUP_SIZE": "CARBON_MIN_GROUP_SIZE",
    "CARBON_LEADERBOARD_MIN_GROUP": "CARBON_MIN_GROUP_SIZE",
}
"""Variables that once set a rule and are gone, with the one that replaced them: refused rather than
ignored, so a park that set one does not silently get the default."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARBON_", env_file=".env", extra="ignore")

    env: str = "local"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path("./var")
    database_url: str | None = None
    """Any SQLAlchemy URL; defaults to a SQLite file in the data directory."""
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """FULL survives power loss with every acknowledged write; NORMAL trades that for speed."""
    sequencing: Literal["inline", "queued"] = "inline"
    """``inline``: each recording transaction appends its own leaves (the only choice on SQLite);
    ``queued`` (PostgreSQL): API processes store records without a leaf index and one elected
    sequencer appends them to the log in large batches (docs/scaling.md)."""

    chain_profile: ChainProfileName = "anvil"
    anvil_port: int = Field(default=8545, ge=1, le=65535)
    anvil_chain_id: int = 31337
    anvil_state_interval_s: int = Field(default=5, ge=1, le=86_400)
    """Seconds between the managed Anvil's own state dumps (the ledger also persists the node's
    state before it counts a checkpoint confirmed, so a kill between dumps loses no checkpoint)."""
    chain_rpc_url: str | None = None
    public_rpc_url: str | None = None
    """JSON-RPC URL of the chain as phones and browsers reach it (published at ``GET /mp/v1/chain``
    for the phone page's receipt verifier); unset: the RPC URL the server itself uses. The node
    must allow cross-origin requests (Anvil does by default; Besu: ``--rpc-http-cors-origins``)."""
    chain_confirmations: int | None = Field(default=None, ge=1, le=100)
    """Confirmations before a checkpoint counts as anchored; the profile's default when unset."""
    anchoring_key: str | None = None
    """Hex private key of the anchoring account; in local mode Anvil's first dev key is used."""
    anchoring_key_file: Path | None = None

    anchor_interval_s: float = Field(default=2.0, gt=0, le=3600)
    """How often the scheduler looks for unanchored leaves."""
    anchor_max_wait_s: float = Field(default=0.0, ge=0, le=86_400)
    """Anchor once the oldest unanchored leaf has waited this long (0: at every tick)."""
    anchor_batch_leaves: int = Field(default=1000, ge=1, le=10_000_000)
    """Anchor at once when this many leaves are waiting, whatever the wait."""
    anchor_replace_after_blocks: int = Field(default=10, ge=1, le=10_000)
    """An anchor transaction still pending after this many blocks (fees below an EIP-1559 chain's
    base fee) is replaced by the same one with higher fees."""
    scheduler_enabled: bool = True
    """Whether this process runs background jobs; each runs only in the process holding its role's
    lease (an API process beside a ``carbon-ledger worker`` may turn them off)."""
    role_lease_s: float = Field(default=15.0, ge=1.0, le=600.0)
    """How long a role's lease lasts without renewal: a dead holder's roles move after at most this."""

    token_secret: str = DEV_TOKEN_SECRET
    subject_key: str | None = None
    """Key of the salted subject commitments in the log (hex); generated in the data dir if unset."""

    points_per_kg_avoided: int = Field(default=100, ge=0, le=1_000_000)
    """Carbon points issued per kg CO2e avoided, rounded down (1 point per 10 g by default)."""
    max_activity_age_days: int = Field(default=366, ge=1, le=3660)
    clock_skew_s: int = Field(default=300, ge=0, le=3600)

    # --- Scope 3 reporting, park-platform feed and managers' dashboard (issue 7) ---
    scope3_timezone: str = "Asia/Shanghai"
    """IANA time zone whose calendar months, quarters and years the reporting periods follow."""
    park_platform_url: str | None = None
    """Where closed periods' totals (and scheduled snapshots) are POSTed; unset: kept in the outbox."""
    park_platform_secret: str | None = None
    """HMAC-SHA256 key of the feed's signature header; a public dev key is used in local mode."""
    feed_schedule_cron: str = ""
    """Crontab (5 fields, park time zone) of provisional snapshot pushes, e.g. ``0 2 * * *``; empty: off."""
    feed_snapshot_period: Literal["month", "quarter", "year"] = "month"
    """Which open period a scheduled snapshot covers (the one containing the push time)."""
    feed_poll_interval_s: float = Field(default=5.0, gt=0, le=3600)
    """How often the outbox is checked for deliveries that are due."""
    feed_backoff_base_s: float = Field(default=2.0, gt=0, le=3600)
    feed_backoff_max_s: float = Field(default=3600.0, gt=0, le=86_400)
    """Retry n waits min(base × 2^(n-1), max) seconds: a down platform is retried for ever, gently."""
    feed_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # --- Operations (issue 9): logs, metrics, contract administration ---
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"
    """One JSON object per line (for a log shipper), or plain text; ``auto``: text when standard
    output is a terminal, JSON otherwise (a service manager, a pipe, a file)."""
    metrics_token: str | None = None
    """Bearer token Prometheus must send to ``/metrics``; unset, ``/metrics`` is open (restrict it
    at the reverse proxy). Metrics hold aggregates only, never personal data."""
    admin_key_file: Path | None = None
    """Key file of the ledger contract's admin, used only by ``carbon-ledger chain grant-anchorer`` /
    ``revoke-anchorer``; unset, the anchoring key (which deployed the contract) is used."""
    # --- Carbon points (issue 5): defaults under the park's rules document, expiry, rewards ---------
    points_company_max_per_kg: int = Field(default=1_000, ge=0, le=1_000_000)
    """The highest points-per-kg rate a company's overrides may set, unless the park's rules
    document sets ``company_max_points_per_kg``."""
    points_employee_daily_cap: int | None = Field(default=None, ge=0, le=10**9)
    """Points one employee may earn per day (park calendar); unset: no cap unless the park sets one."""
    points_employee_monthly_cap: int | None = Field(default=None, ge=0, le=10**9)
    points_daily_count_cap: int | None = Field(default=None, ge=0, le=10_000)
    """Rewarded actions per activity type per employee per day; unset: no cap."""
    points_cooldown_s: int = Field(default=0, ge=0, le=7 * 86_400)
    """Minimum time between two rewarded actions of the same type by one employee (0: none)."""
    points_expiry_months: int = Field(default=0, ge=0, le=120)
    """Points expire this many months after they were earned (0: never)."""
    points_utc_offset_min: int = Field(default=480, ge=-720, le=840)
    """The park's calendar for daily and monthly caps (UTC+8 by default)."""
    points_expiry_interval_s: float = Field(default=3600.0, gt=0, le=86_400)
    """How often the scheduler looks for points to expire."""
    redemption_cancel_window_s: int = Field(default=86_400, ge=0, le=30 * 86_400)
    """Default time during which an employee may cancel a redemption for a refund."""
    # --- Emission factors and baselines (issue 3) ---
    baseline: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,63}(,[a-z][a-z0-9_]{0,63}){0,7}$")
    """The park's avoided-emission baseline, or comma-separated choices in order of preference
    (the first the factor set in force defines applies): ``national_conservative`` (the default of
    park-default-2027.1), the city methodologies ``shenzhen``, ``hubei``, ``beijing``,
    ``petrol_car_solo`` (aggressive), and ``city_mode_mix`` (park-default-2026.1 only), e.g.
    ``shenzhen,city_mode_mix``. Unset: each factor set's default."""
    # --- identity, permissions, integrations and recognition (issue 6) ---
    access_token_ttl_s: int = Field(default=900, ge=60, le=86_400)
    revocation_refresh_s: float = Field(default=1.0, gt=0, le=60)
    """How often each process reloads the list of ended sign-ins (signed out, disabled) from the
    database; the process that ends a sign-in applies it at once."""
    """Lifetime of access tokens from sign-in; short, because they are not revocable."""
    refresh_token_ttl_s: int = Field(default=30 * 86_400, ge=3600, le=366 * 86_400)
    """Lifetime of a sign-in (its refresh tokens rotate on each use within it)."""
    identity_provider: Literal["dev", "wechat"] = "dev"
    """``wechat``: code-to-session with the mini-program's app id and secret; ``dev``: the login
    code ``dev:<id>`` stands for the user ``<id>`` (local mode only)."""
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_timeout_s: float = Field(default=5.0, gt=0, le=60)
    min_group_size: int = Field(default=5, ge=2, le=1000)
    """No aggregate (aggregates, Scope 3 summaries and exports, explanations, the dashboard, the
    park-platform feed, closes, leaderboards) shows a group with fewer distinct people than this."""
    webhook_tolerance_s: int = Field(default=300, ge=10, le=3600)
    """Accepted age of a webhook delivery's timestamp; older (or future) deliveries are refused."""
    employee_activities_per_hour: int = Field(default=20, ge=1, le=10_000)
    employee_activities_per_day: int = Field(default=60, ge=1, le=100_000)
    recognition_bands: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Per-mode overrides of the plausibility bands, JSON, e.g. ``{"walk": {"max_kmh": 10}}``."""
    self_report_auto_max_g: int = Field(default=2000, ge=0)
    evidenced_auto_max_g: int = Field(default=10_000, ge=0)
    self_report_daily_auto: int = Field(default=4, ge=0)

    # --- Standard verification formats (issue 16): C2SP checkpoints, tiles, witnesses ---
    log_origin: str | None = Field(default=None, pattern=r"^[^\s+]{1,255}$")
    """The log's identity in its C2SP checkpoints (first line, and the signing key's name): a
    schema-less URL such as ``ledger.park.example/log``, ideally where ``/checkpoint`` is served.
    Unset: ``carbon-ledger.local/<random>``, chosen once and kept in the log key file."""
    log_key_file: Path | None = None
    """The log's checkpoint-signing keys (Ed25519); unset: ``log-signing.json`` in the data dir."""
    log_entries_public: bool = False
    """Serve the tiles' entry bundles (``/tile/entries/…``) without a token. Entries carry no
    personal data by design, but like the other audit routes they need an auditor's token unless
    the park opens them here. Hash tiles, checkpoints and the verifier key are always public."""
    witnesses: list[dict[str, str]] = Field(default_factory=list, max_length=32)
    """Witnesses the log submits each new checkpoint to, JSON: ``[{"url": "http://…",
    "vkey": "<name>+<id>+<key>"}]`` (the URL is the witness's submission prefix)."""
    witness_timeout_s: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.data_dir = self.data_dir.resolve()
        return self

    @model_validator(mode="after")
    def _refuse_removed_variables(self) -> Settings:
        names = {name.upper() for name in [*os.environ, *DotEnvSettingsSource(type(self)).env_vars]}
        found = [
            f"{old} was removed: set {new} instead" for old, new in REMOVED_VARIABLES.items() if old in names
        ]
        if found:
            raise ValueError("; ".join(found))
        return self

    @property
    def is_local(self) -> bool:
        return self.env == "local"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'carbon-ledger.sqlite3'}"

    def check_sequencing(self) -> None:
        """Queued sequencing needs a database several processes share with row locks: PostgreSQL."""
        if self.sequencing == "queued" and self.resolved_database_url.startswith("sqlite"):
            raise ConfigurationError(
                "CARBON_SEQUENCING=queued 需要 PostgreSQL / needs PostgreSQL (CARBON_DATABASE_URL); "
                "with SQLite use the default CARBON_SEQUENCING=inline"
            )

    @property
    def resolved_rpc_url(self) -> str:
        if self.chain_rpc_url:
            return self.chain_rpc_url
        if self.chain_profile != "anvil":
            raise ConfigurationError(
                f"CARBON_CHAIN_RPC_URL is required for chain profile {self.chain_profile}"
            )
        return f"http://127.0.0.1:{self.anvil_port}"

    @property
    def resolved_log_key_file(self) -> Path:
        return self.log_key_file or self.data_dir / "log-signing.json"

    @property
    def voucher_key_file(self) -> Path:
        return self.data_dir / voucher_keys.KEY_FILE

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "deployment.json"

    def check_production_safety(self) -> None:
        """Refuse the public development secrets outside local mode."""
        if self.is_local:
            return
        problems = []
        if self.token_secret == DEV_TOKEN_SECRET or len(self.token_secret) < 32:
            problems.append("CARBON_TOKEN_SECRET must be set to a private value of at least 32 characters")
        elif (
            bits := key_safety.estimated_entropy_bits(self.token_secret)
        ) < key_safety.MIN_SECRET_ENTROPY_BITS:
            problems.append(
                f"CARBON_TOKEN_SECRET has too little entropy (about {bits:.0f} bits, at least "
                f"{key_safety.MIN_SECRET_ENTROPY_BITS} needed): generate one, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        if not (self.anchoring_key or self.anchoring_key_file):
            problems.append("CARBON_ANCHORING_KEY or CARBON_ANCHORING_KEY_FILE must be set")
        problems += key_safety.anchoring_key_problems(self.anchoring_key, self.anchoring_key_file)
        if self.resolved_log_key_file.exists():
            problems += key_safety.key_file_problems(self.resolved_log_key_file, "the log signing key file")
        if self.voucher_key_file.exists():
            problems += key_safety.key_file_problems(self.voucher_key_file, "the voucher signing key file")
        if self.identity_provider == "dev":
            problems.append("CARBON_IDENTITY_PROVIDER=dev signs anyone in; use wechat")
        elif not (self.wechat_app_id and self.wechat_app_secret):
            problems.append("CARBON_WECHAT_APP_ID and CARBON_WECHAT_APP_SECRET must be set")
        if problems:
            raise ConfigurationError(f"refusing to start with CARBON_ENV={self.env}: " + "; ".join(problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
