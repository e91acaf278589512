"""The auditor's three outcomes, through the real command line against real servers on free ports:
valid (0), invalid — evidence of tampering (1), could not verify (2, with the reason in one line).

A closed port, a wrong token, an answer that is not the API's and the wrong chain must never read
as "invalid": they say nothing about the data.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from backend.adapters.anvil import AnvilProcess, free_port
from backend.adapters.contract_compiler import ContractArtifact
from backend.api.app import create_app
from backend.bootstrap.runtime import Runtime
from backend.domain.canonical import canonical_json
from backend.entrypoints.cli.main import main
from backend.entrypoints.worker.scheduler import anchoring_job
from backend.services.log.receipts import receipt_for_leaf
from tests.integration import chainkit
from tests.integration.ops_support import serving

pytestmark = pytest.mark.anvil


@dataclass(frozen=True)
class Served:
    runtime: Runtime
    api: str
    rpc: str
    token: str
    receipt: Path


@pytest.fixture(scope="module")
def served(ledger_artifact: ContractArtifact, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A ledger with anchored records, its API served by uvicorn on a free port, its own Anvil."""
    workdir = tmp_path_factory.mktemp("audit-outcomes")
    anvil = AnvilProcess(port=free_port(), state_path=None, log_path=workdir / "anvil.log")
    anvil.start()
    try:
        url = f"sqlite:///{workdir / 'ledger.sqlite3'}"
        runtime = chainkit.runtime_for(
            chainkit.settings_for(workdir / "var", url, anvil.rpc_url, points_per_kg=100), ledger_artifact
        )
        chainkit.record(runtime, 6)
        anchoring_job(runtime)
        assert runtime.target is not None
        receipt = receipt_for_leaf(runtime.db, runtime.target, 0)
        assert isinstance(receipt, dict)
        receipt_file = workdir / "receipt.json"
        receipt_file.write_text(json.dumps(receipt))
        with serving(create_app(runtime)) as client:
            yield Served(runtime, str(client.base_url), anvil.rpc_url, chainkit.token(runtime), receipt_file)
        runtime.db.dispose()
    finally:
        anvil.stop()


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _log(
    served: Served, *, api: str | None = None, rpc: str | None = None, token: str | None = None
) -> list[str]:
    return [
        "audit",
        "verify-log",
        "--api",
        api or served.api,
        "--rpc",
        rpc or served.rpc,
        "--token",
        token if token is not None else served.token,
        "--quiet",
    ]


# --- verify-log ------------------------------------------------------------------------------


def test_log_valid(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, *_log(served))
    assert code == 0, out
    assert out.startswith("valid: ") and "1 checkpoint matches the chain" in out


def test_log_api_unreachable(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    closed = _closed_port_url()
    code, out = _run(capsys, *_log(served, api=closed))
    assert code == 2, out
    assert out.startswith("could not verify: API unreachable: " + closed) and "invalid" not in out
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out


def test_log_rpc_unreachable(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    closed = _closed_port_url()
    code, out = _run(capsys, *_log(served, rpc=closed))
    assert code == 2, out
    assert out.startswith(f"could not verify: RPC unreachable: nothing answers at {closed}")
    assert len(out.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("role", "status"),
    [("wrong-secret", 401), ("employee", 403)],
)
def test_log_token_refused(
    served: Served, capsys: pytest.CaptureFixture[str], role: str, status: int
) -> None:
    if role == "wrong-secret":
        from backend.services.identity.tokens import issue_token

        token = issue_token("x" * 48, "auditor", "auditor-1", None, 600, kind="dev")
    else:
        token = chainkit.token(served.runtime, role="employee", subject="emp-1", org="acme")
    code, out = _run(capsys, *_log(served, token=token))
    assert code == 2, out
    assert out.startswith(f"could not verify: the API refused the token ({status})")
    assert len(out.strip().splitlines()) == 1


@pytest.fixture
def impostor() -> Iterator[str]:
    """An HTTP server on a free port that answers 200 with something that is not the audit API."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"hello": "world"}' if "checkpoints" in self.path else b"<html>not json</html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_log_malformed_response(served: Served, impostor: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, *_log(served, api=impostor))
    assert code == 2, out
    assert out.startswith("could not verify: malformed response from the API: KeyError")


def test_log_wrong_chain(served: Served, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    other = AnvilProcess(port=free_port(), state_path=None, log_path=tmp_path / "other.log", chain_id=4242)
    other.start()
    try:
        code, out = _run(capsys, *_log(served, rpc=other.rpc_url))
    finally:
        other.stop()
    assert code == 2, out
    assert out.startswith(f"could not verify: the RPC at {other.rpc_url} serves chain 4242")


# --- verify-receipt --------------------------------------------------------------------------


def _receipt(served: Served, file: Path, rpc: str | None = None) -> list[str]:
    return ["audit", "verify-receipt", str(file), "--rpc", rpc or served.rpc]


def test_receipt_valid(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, *_receipt(served, served.receipt))
    assert code == 0, out
    assert out.startswith("valid: ") and "is leaf 0 of a tree of" in out


def test_receipt_tampered_is_invalid(
    served: Served, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    receipt = json.loads(served.receipt.read_text())
    record = json.loads(bytes.fromhex(receipt["leaf"][2:]))
    record["body"]["co2e_avoided_g"] += 1000
    receipt["leaf"] = "0x" + canonical_json(record).hex()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(receipt))
    code, out = _run(capsys, *_receipt(served, forged))
    assert code == 1, out
    assert out.startswith("invalid: leaf_hash is not SHA-256(0x00 || leaf)")


def test_receipt_rpc_unreachable(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    closed = _closed_port_url()
    code, out = _run(capsys, *_receipt(served, served.receipt, rpc=closed))
    assert code == 2, out
    assert out.startswith(f"could not verify: RPC unreachable: nothing answers at {closed}")


def test_receipt_unreadable(served: Served, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out = _run(capsys, *_receipt(served, tmp_path / "missing.json"))
    assert code == 2 and out.startswith("could not verify: cannot read the receipt"), out
    (tmp_path / "garbage.json").write_text("not json")
    code, out = _run(capsys, *_receipt(served, tmp_path / "garbage.json"))
    assert code == 2 and "is not a receipt" in out, out


# --- audit sample ----------------------------------------------------------------------------


def _sample(served: Served, out: Path, **over: str) -> list[str]:
    return [
        "audit",
        "sample",
        "--api",
        over.get("api", served.api),
        "--rpc",
        over.get("rpc", served.rpc),
        "--token",
        over.get("token", served.token),
        "--n",
        "4",
        "--seed",
        "11",
        "--out",
        str(out),
    ]


def test_sample_outcomes(served: Served, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    code, out = _run(capsys, *_sample(served, folder))
    assert code == 0, out
    assert (folder / "sample-11.json").is_file() and (folder / "sample-11.csv").is_file()
    assert "valid: every receipt verifies" in out

    elsewhere = tmp_path / "unverified"
    for over, words in [
        ({"api": _closed_port_url()}, "could not verify: API unreachable"),
        ({"rpc": _closed_port_url()}, "could not verify: RPC unreachable"),
        ({"token": "not-a-token"}, "could not verify: the API refused the token (401)"),
    ]:
        code, out = _run(capsys, *_sample(served, elsewhere, **over))
        assert code == 2 and out.startswith(words), (over, out)
        assert not elsewhere.exists()  # nothing written when nothing could be checked
