"""Operations over HTTP against `carbon-ledger serve`: backup while writing, restore, verify-log."""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from backend.bootstrap.settings import DEV_TOKEN_SECRET
from backend.services.identity.tokens import issue_token
from tests.e2e.conftest import LedgerServer
from tests.waiting import wait_for

pytestmark = pytest.mark.anvil

METRO = {"type": "metro", "occurred_at": "2026-11-20T08:10:00+08:00", "distance_km": 7.5}
MIN_BEFORE_BACKUP = 15


class HttpWriter(threading.Thread):
    """Posts activities until stopped; ``acked`` holds (subject, id) of every 201.

    Each post is a different employee's commute: one employee's same trip twice would be refused
    as a duplicate, and one employee is limited to CARBON_EMPLOYEE_ACTIVITIES_PER_HOUR."""

    def __init__(self, server: LedgerServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.tokens: dict[str, str] = {}
        self.acked: list[tuple[str, str]] = []
        self.stop = threading.Event()
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            while not self.stop.is_set():
                subject = f"ops-e2e-subject-{len(self.acked):04d}"
                # Issued in-process (same public dev secret as the server) to spare a CLI start each.
                token = self.tokens.setdefault(
                    subject, issue_token(DEV_TOKEN_SECRET, "employee", subject, "acme", 3600, kind="dev")
                )
                headers = {
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": str(uuid.uuid4()),
                }
                response = client.post("/mp/v1/activities", json=METRO, headers=headers)
                if response.status_code != 201:
                    self.failures.append(response.text)
                    return
                self.acked.append((subject, response.json()["id"]))

    def wait_for(self, count: int) -> None:
        def enough() -> bool:
            assert not self.failures, self.failures
            return len(self.acked) >= count

        wait_for(f"{count} acknowledged activities", enough, 60, 0.05)


def test_backup_while_writing_restore_and_verify_log(ledger_server: LedgerServer, tmp_path: Path) -> None:
    writer = HttpWriter(ledger_server)
    tokens = writer.tokens
    writer.start()
    try:
        writer.wait_for(MIN_BEFORE_BACKUP)
        acked_before = list(writer.acked)
        backup = ledger_server.cli("backup", str(tmp_path / "backup"), check=False)
        writer.wait_for(len(writer.acked) + 3)
    finally:
        writer.stop.set()
        writer.join()
        ledger_server.issued += [(token, subject) for subject, token in tokens.items()]
    assert backup.returncode == 0, backup.stderr
    assert "local Anvil chain state dumped after the database snapshot" in backup.stdout
    assert not writer.failures
    assert ledger_server.stop() == 0

    restored = LedgerServer(tmp_path / "restored")
    restore = restored.cli("restore", str(tmp_path / "backup"), check=False)
    assert restore.returncode == 0, restore.stderr
    # The compiled contract is a cache, not state (never backed up); reuse it to save a compile.
    shutil.copytree(ledger_server.data_dir / "build", restored.data_dir / "build")
    restored.start()
    try:
        auditor = issue_token(DEV_TOKEN_SECRET, "auditor", "ops-auditor-1", None, 3600, kind="dev")
        restored.issued.append((auditor, "ops-auditor-1"))
        verified = restored.verify_log(auditor)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        replayed = int(verified.stdout.split()[1])
        # An accepted activity logs one leaf, plus one for its points transfer when it earns points.
        assert len(acked_before) <= replayed < 2 * len(writer.acked)
        for subject, activity_id in acked_before:
            headers = {"Authorization": f"Bearer {tokens[subject]}"}
            assert (
                httpx.get(f"{restored.url}/mp/v1/activities/{activity_id}", headers=headers).status_code
                == 200
            )
        ready = httpx.get(f"{restored.url}/readyz").json()
        assert ready["checks"]["database"]["ok"] and ready["checks"]["migrations"]["ok"]
    finally:
        restored.stop()
    restored.issued += [(token, subject) for subject, token in tokens.items()]
    assert restored.log_leaks() == []
