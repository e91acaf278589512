"""The log's formats checked by an implementation not written here: Go's golang.org/x/mod/sumdb
``note`` and ``tlog`` packages (Debian's golang-golang-x-mod-dev), driven by
tests/interop/tlogcheck/main.go against the API over real HTTP.

Go verifies our checkpoint signatures, reads our tiles (checking every tile it reads against the
checkpoint's root), proves the first bundle's leaves and a consistency proof from its tiles alone,
and signs a note our verifier must accept. Our witnesses' cosignatures are checked there with Go's
crypto/ed25519 over the message the specification defines. Skipped, with the reason, when Go or
x/mod is missing (``make interop-deps`` installs them); under CI=1 a missing tool fails instead.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from backend.adapters.anvil import free_port
from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.domain.log import notes
from backend.services.log import witnessing
from tests.integration.api_harness import TARGET, Api
from tests.integration.tlog_support import grow
from tests.waiting import wait_for
from tests.witnesskit import WitnessServer

SOURCE = Path(__file__).parents[3] / "interop" / "tlogcheck" / "main.go"
GOPATH = Path("/usr/share/gocode")
X_MOD = GOPATH / "src" / "golang.org" / "x" / "mod" / "sumdb" / "tlog"


def _missing() -> str | None:
    if shutil.which("go") is None:
        return "the go toolchain is missing (make interop-deps installs Debian's golang-go)"
    if not X_MOD.is_dir():
        return "golang.org/x/mod is missing (make interop-deps installs golang-golang-x-mod-dev)"
    return None


@pytest.fixture(scope="module")
def tlogcheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"interoperability test cannot run under CI: {reason}")
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("go") / "tlogcheck"
    env = {
        **os.environ,
        "GO111MODULE": "off",  # GOPATH mode: Debian's packages under /usr/share/gocode, no downloads
        "GOPATH": str(GOPATH),
        "GOCACHE": str(out.parent / "cache"),
        "GOENV": "off",
        "GOFLAGS": "",
        "HOME": os.environ.get("HOME") or str(out.parent),
    }
    subprocess.run(["go", "build", "-o", str(out), str(SOURCE)], env=env, check=True, timeout=300)
    return out


class Served:
    """The API app behind a real HTTP server on a free port, in a thread."""

    def __init__(self, api: Api) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(api.app, host="127.0.0.1", port=self.port, log_config=None)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()

        def started() -> bool:
            assert self.thread.is_alive(), "the API server stopped while starting"
            return bool(self.server.started)

        wait_for("the API server to start", started, interval_s=0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Api:
    return Api(db, tmp_path / "park", log_origin="park.example/ledger")


def test_go_verifies_checkpoints_cosignatures_tiles_and_proofs(
    tlogcheck: Path, api: Api, db: Database, tmp_path: Path
) -> None:
    grow(db, TARGET, 70_000, anchored=[300, 70_000])  # partial tiles at levels 0, 1 and 2
    vkey = api.runtime.log_keys.signers()[0].verifier.vkey
    witness = WitnessServer(tmp_path / "w", "city.example/witness", [vkey]).start()
    try:
        with httpx.Client(timeout=30) as http:
            endpoints = witnessing.endpoints([{"url": witness.url, "vkey": witness.vkey}])
            outcomes = witnessing.submit_latest(
                db, TARGET, api.runtime.log_keys, endpoints, http, datetime.now(UTC)
            )
        assert [o.status for o in outcomes] == ["cosigned"]
        with Served(api) as served:
            env = {**os.environ, "AUTH": api.token("auditor", "a1")}
            result = subprocess.run(
                [str(tlogcheck), "verify", served.url, vkey, "300", witness.vkey],
                env=env, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
    finally:
        witness.stop()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    with db.read_sessions() as session:
        store = SqlLogStore(session)
        root, ours = store.root(70_000), store.consistency_proof(300, 70_000)
    assert lines[0] == f"checkpoint park.example/ledger 70000 {base64.b64encode(root).decode()}"
    assert lines[1].startswith("cosigned city.example/witness ")
    assert lines[2] == "records 256"
    go_proof = [base64.b64decode(x) for x in lines[lines.index("consistency") + 1 :]]
    assert go_proof == ours  # Go's proof from our tiles is the one our witnesses receive


def test_go_refuses_a_checkpoint_signed_by_another_key(
    tlogcheck: Path, api: Api, db: Database, tmp_path: Path
) -> None:
    grow(db, TARGET, 10, anchored=[5, 10])
    other = Api(db, tmp_path / "other", log_origin="park.example/ledger")  # another key, same name
    with Served(api) as served:
        result = subprocess.run(
            [str(tlogcheck), "verify", served.url, other.runtime.log_keys.signers()[0].verifier.vkey, "5"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 1
    assert "checkpoint does not verify" in result.stderr


def test_a_note_signed_by_go_verifies_here(tlogcheck: Path) -> None:
    checkpoint = notes.Checkpoint("park.example/ledger", 5, bytes(range(32)))
    result = subprocess.run(
        [str(tlogcheck), "sign", "park.example/ledger"],
        input=checkpoint.text().decode(), capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    vkey, signed = result.stdout.split("\n", 1)
    verifier = notes.parse_vkey(vkey)
    note = notes.parse_note(signed.encode())
    assert notes.parse_checkpoint_text(note.text) == checkpoint
    assert notes.verified_signers(note, [verifier]) == [verifier]
    with pytest.raises(notes.NoteError):
        notes.verified_signers(notes.parse_note(signed.replace("\n5\n", "\n6\n").encode()), [verifier])
