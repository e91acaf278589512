"""An in-process API (FastAPI TestClient) over a real migrated database, without a chain, for the
identity, permission, integration and review tests."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from backend.adapters.database import Database
from backend.api.app import create_app
from backend.bootstrap.runtime import Runtime
from backend.bootstrap.settings import Settings
from backend.domain.log.checkpoints import AnchorTarget
from backend.services.identity import staff
from backend.services.identity.tokens import issue_token

with warnings.catch_warnings():
    # Starlette asks for its httpx fork; plain httpx (already a dependency) still works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

SUBJECT_KEY = bytes(range(32))
TARGET = AnchorTarget(31337, "0x" + "ab" * 20)


class Api:
    def __init__(self, db: Database, data_dir: Path, **settings: Any) -> None:
        self.settings = Settings(
            data_dir=data_dir, scheduler_enabled=False, subject_key=SUBJECT_KEY.hex(), **settings
        )
        self.runtime = Runtime(self.settings, db, chain=None, target=TARGET, subject_key=SUBJECT_KEY)
        self.app = create_app(self.runtime)
        self.client = TestClient(self.app, raise_server_exceptions=False)

    def token(self, role: str, subject: str, org: str | None = None, dept: str | None = None) -> str:
        return issue_token(self.settings.token_secret, role, subject, org, 3600, kind="dev", dept=dept)

    def auth(
        self, role: str, subject: str, org: str | None = None, dept: str | None = None
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, subject, org, dept)}"}


@contextmanager
def fast_password_hashing() -> Iterator[None]:
    """Argon2id at test cost (1 pass, 1 MiB): the same code path, milliseconds instead of 0.3 s."""
    saved = staff._hasher
    staff._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        yield
    finally:
        staff._hasher = saved
