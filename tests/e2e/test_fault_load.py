"""Fault and load suite (issue 8): retries, crashes and chain loss against a real server.

CI runs the bounded version (default); `pytest -m slow` runs the full one. Each test prints its
figures: requests sent, faults injected, records lost (must be 0), duplicates (must be 0).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from backend.adapters.log_keys import LogKeyStore
from backend.domain.log import notes
from backend.domain.log import witness as protocol
from bench import faults
from tests.e2e.conftest import LedgerServer
from tests.e2e.faultkit import LOAD_ENV, Attempt, Writer, metro, send
from tests.waiting import wait_for
from tests.witnesskit import WitnessServer

pytestmark = pytest.mark.anvil

EMPLOYEES = 8


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LedgerServer]:
    ledger = LedgerServer(tmp_path / "var", LOAD_ENV)
    ledger.start()
    try:
        yield ledger
    finally:
        if ledger.process and ledger.process.poll() is None:
            ledger.stop()
        _stop_orphan_anvil(ledger)


def _stop_orphan_anvil(ledger: LedgerServer) -> None:
    pid_file = ledger.data_dir / "anvil-state.json.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


def _tokens(ledger: LedgerServer, prefix: str) -> list[str]:
    return [ledger.token(subject=f"{prefix}-{i}") for i in range(EMPLOYEES)]


def _report(name: str, **figures: object) -> None:
    print(f"\n[fault-suite] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def _retry_until_answered(ledger: LedgerServer, tokens: list[str], attempts: list[Attempt]) -> None:
    """What the mini-program does after a network error: the same request, same key, again."""
    with httpx.Client(timeout=10) as client:
        for attempt in attempts:
            for _ in range(50):
                send(client, ledger.url, tokens[attempt.employee], attempt)
                if attempt.status is not None:
                    break
                time.sleep(0.2)


def _activities_of(ledger: LedgerServer, token: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            page = client.get(
                f"{ledger.url}/mp/v1/activities", params={"limit": 100, "offset": len(items)}
            ).json()
            items += page["items"]
            if len(items) >= page["total"] or not page["items"]:
                return items


def _check_nothing_lost(ledger: LedgerServer, tokens: list[str], attempts: list[Attempt]) -> tuple[int, int]:
    """(records lost, duplicates): every acknowledged key is stored once, nothing else is stored."""
    stored: dict[str, int] = {}
    for token in tokens:
        for item in _activities_of(ledger, token):
            stored[str(item["id"])] = stored.get(str(item["id"]), 0) + 1
    acknowledged = {a.activity_id for a in attempts if a.activity_id}
    lost = len(acknowledged - set(stored))
    duplicates = len(stored) - len({a.key for a in attempts if a.activity_id})
    return lost, duplicates


def _wait_all_anchored(ledger: LedgerServer, tokens: list[str], attempts: list[Attempt], tmp: Path) -> int:
    """Every acknowledged activity gets a receipt that verifies against the chain; returns count."""
    verified = 0
    deadline = time.monotonic() + 120
    with httpx.Client(timeout=10) as client:
        for attempt in (a for a in attempts if a.activity_id):
            headers = {"Authorization": f"Bearer {tokens[attempt.employee]}"}
            while True:
                response = client.get(
                    f"{ledger.url}/mp/v1/activities/{attempt.activity_id}/receipt", headers=headers
                )
                if response.status_code == 200:
                    break
                assert time.monotonic() < deadline, (
                    f"no receipt: {response.status_code} {response.text[:200]}"
                )
                time.sleep(0.3)
            if verified % 25 == 0:  # verifying every receipt through the CLI costs a process each
                path = tmp / "receipt.json"
                path.write_text(json.dumps(response.json()))
                done = ledger.cli("audit", "verify-receipt", str(path), "--rpc", ledger.rpc_url, check=False)
                assert done.returncode == 0, done.stdout
            verified += 1
    return verified


@pytest.mark.parametrize(
    "keys", [pytest.param(150, id="bounded"), pytest.param(1500, marks=pytest.mark.slow)]
)
def test_replayed_requests_store_each_key_once(server: LedgerServer, keys: int) -> None:
    tokens = _tokens(server, "retry")
    attempts = [Attempt(f"retry-{i:06d}", i % EMPLOYEES, metro(i // EMPLOYEES)) for i in range(keys)]
    replays = [a for a in attempts for _ in range(3)]  # each request sent three times, concurrently

    def fire(attempt: Attempt) -> int | None:
        copy = Attempt(attempt.key, attempt.employee, attempt.body)
        with httpx.Client(timeout=30) as client:
            send(client, server.url, tokens[copy.employee], copy)
        if copy.activity_id:
            attempt.activity_id = copy.activity_id
        return copy.status

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(fire, replays))
    assert not [s for s in statuses if s is None or s >= 500], "no 5xx, no dropped connection"
    assert statuses.count(201) == keys and statuses.count(200) == 2 * keys
    lost, duplicates = _check_nothing_lost(server, tokens, attempts)
    _report("retries", requests=len(replays), keys=keys, records_lost=lost, duplicates=duplicates)
    assert (lost, duplicates) == (0, 0)


@pytest.mark.parametrize(
    "seconds", [pytest.param(2.0, id="bounded"), pytest.param(15.0, marks=pytest.mark.slow)]
)
def test_kill_9_the_api_during_load_loses_nothing(
    server: LedgerServer, tmp_path: Path, seconds: float
) -> None:
    tokens = _tokens(server, "crash")
    writer = Writer(server.url, tokens, "crash")
    writer.start()
    time.sleep(seconds)
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)  # the API dies mid-request, Anvil is orphaned
    server.process.wait()
    time.sleep(0.5)
    server.start()  # same data dir: the orphaned Anvil is stopped and restarted from its state
    time.sleep(1.0)
    writer.stop()
    unanswered = [a for a in writer.attempts if a.status is None]
    _retry_until_answered(server, tokens, unanswered)
    assert all(a.status in (200, 201) for a in writer.attempts), {a.status for a in writer.attempts}
    lost, duplicates = _check_nothing_lost(server, tokens, writer.attempts)
    verified = _wait_all_anchored(server, tokens, writer.attempts, tmp_path)
    _report(
        "kill -9 API",
        requests=len(writer.attempts),
        faults=1,
        retried=len(unanswered),
        records_lost=lost,
        duplicates=duplicates,
        receipts=verified,
    )
    assert (lost, duplicates) == (0, 0)
    auditor = server.token(role="auditor", subject="fault-auditor", org="")
    log = server.verify_log(auditor)
    assert log.returncode == 0, log.stdout


def _anvil_pid(ledger: LedgerServer) -> int | None:
    """The managed Anvil's pid, or None while the supervisor is between two nodes (no file)."""
    try:
        return int((ledger.data_dir / "anvil-state.json.pid").read_text().split()[0])
    except FileNotFoundError:
        return None


def _checkpoints(ledger: LedgerServer, auditor: str) -> dict[int, tuple[str, str]]:
    """Confirmed checkpoints by tree size: (root, contract)."""
    listing = httpx.get(
        f"{ledger.url}/audit/v1/checkpoints", headers={"Authorization": f"Bearer {auditor}"}, timeout=10
    ).json()["checkpoints"]
    return {int(c["tree_size"]): (str(c["root"]), str(c["contract"])) for c in listing}


NO_OWN_DUMPS = {**LOAD_ENV, "CARBON_ANVIL_STATE_INTERVAL_S": "3600"}
"""Anvil never dumps its state by itself in this test: every kill lands inside its dump interval,
and what survives is what the ledger persisted before it counted a checkpoint confirmed."""


@pytest.mark.parametrize(
    "seconds", [pytest.param(2.0, id="bounded"), pytest.param(15.0, marks=pytest.mark.slow)]
)
def test_anvil_killed_inside_its_dump_interval_loses_no_checkpoint(tmp_path: Path, seconds: float) -> None:
    server = LedgerServer(tmp_path / "var", NO_OWN_DUMPS)
    server.start()
    try:
        _anvil_killed_mid_load(server, tmp_path, seconds)
    finally:
        if server.process and server.process.poll() is None:
            server.stop()
        _stop_orphan_anvil(server)


def _anvil_killed_mid_load(server: LedgerServer, tmp_path: Path, seconds: float) -> None:
    tokens = _tokens(server, "chain")
    auditor = server.token(role="auditor", subject="fault-auditor", org="")
    manifest = (server.data_dir / "deployment.json").read_text()
    writer = Writer(server.url, tokens, "chain")
    writer.start()
    time.sleep(seconds)
    deadline = time.monotonic() + 30
    while not (before := _checkpoints(server, auditor)):
        assert time.monotonic() < deadline, "nothing anchored before the kill"
        time.sleep(0.2)
    old_pid = _anvil_pid(server)
    assert old_pid is not None, "no managed Anvil"
    os.kill(old_pid, signal.SIGKILL)  # no dump on exit, and none by itself for an hour
    time.sleep(seconds)  # the API keeps recording while the chain is down
    deadline = time.monotonic() + 30
    while _anvil_pid(server) in (old_pid, None):  # the supervisor starts the node again
        assert time.monotonic() < deadline, "Anvil was not restarted"
        time.sleep(0.2)
    writer.stop()
    assert all(a.status in (200, 201) for a in writer.attempts), "recording never depends on the chain"
    # No operator command: anchoring resumes by itself on the same contract.
    lost, duplicates = _check_nothing_lost(server, tokens, writer.attempts)
    verified = _wait_all_anchored(server, tokens, writer.attempts, tmp_path)
    after = _checkpoints(server, auditor)
    missing = {size for size, anchored in before.items() if after.get(size) != anchored}
    chain = httpx.get(
        f"{server.url}/audit/v1/chain", headers={"Authorization": f"Bearer {auditor}"}, timeout=10
    ).json()
    _report(
        "kill -9 Anvil inside its dump interval",
        requests=len(writer.attempts),
        faults=1,
        checkpoints_before_kill=len(before),
        checkpoints_lost=len(missing),
        moves=len(chain["moves"]),
        records_lost=lost,
        duplicates=duplicates,
        receipts=verified,
    )
    assert (lost, duplicates) == (0, 0)
    assert not missing, f"checkpoints confirmed before the kill are gone: {sorted(missing)}"
    assert chain["moves"] == [] and chain["status"]["ok"], chain
    assert (server.data_dir / "deployment.json").read_text() == manifest  # the same contract
    status = server.cli("chain", "status", "--full", check=False)
    assert status.returncode == 0 and status.stdout.startswith("chain ok:"), status.stdout
    log = server.verify_log(auditor)
    assert log.returncode == 0, log.stdout


def _cosigners(ledger: LedgerServer, witnesses: list[WitnessServer], min_size: int) -> tuple[int, list[str]]:
    """The published checkpoint's size and the witnesses whose cosignatures verify on it."""
    note = notes.parse_note(httpx.get(ledger.url + "/checkpoint", timeout=10).content)
    size = notes.parse_checkpoint_text(note.text).tree_size
    keys = [notes.parse_vkey(w.vkey) for w in witnesses]
    return size, sorted(v.name for v in notes.verified_signers(note, keys)) if size >= min_size else []


def _wait_cosigned(ledger: LedgerServer, witnesses: list[WitnessServer], min_size: int) -> int:
    want = sorted(w.name for w in witnesses)

    def cosigned() -> int | None:
        size, names = _cosigners(ledger, witnesses, min_size)
        return size if names == want else None

    return wait_for(
        f"a checkpoint ≥ {min_size} cosigned by {want}",
        cosigned,
        timeout_s=120,
        interval_s=0.3,
        not_yet=(httpx.HTTPError, notes.NoteError),
    )


def _record(client: httpx.Client, ledger: LedgerServer, tokens: list[str], seq: int) -> None:
    attempt = Attempt(f"witnessed-trip-{seq:06d}", seq % len(tokens), metro(seq))
    send(client, ledger.url, tokens[attempt.employee], attempt)
    assert attempt.status == 201, attempt


def test_witnesses_survive_a_crash_and_refuse_a_forked_checkpoint(tmp_path: Path) -> None:
    """Two witnesses cosign a running ledger's checkpoints; one is killed with SIGKILL and comes
    back on its own state; then a checkpoint signed with the park's own key over a rewritten
    history is refused by both (422 as a claimed extension, 409 as a fresh start)."""
    data_dir = tmp_path / "var"
    origin = "park.example/ledger"
    probe = LedgerServer(data_dir, {**LOAD_ENV, "CARBON_LOG_ORIGIN": origin})
    log_vkey = probe.cli("log", "vkey").stdout.strip()
    witnesses = [
        WitnessServer(tmp_path / "w1", "city.example/witness", [log_vkey]).start(),
        WitnessServer(tmp_path / "w2", "audit-firm.example/w", [log_vkey]).start(),
    ]
    config = json.dumps([{"url": w.url, "vkey": w.vkey} for w in witnesses])
    ledger = LedgerServer(data_dir, {**LOAD_ENV, "CARBON_LOG_ORIGIN": origin, "CARBON_WITNESSES": config})
    ledger.start()
    try:
        tokens = _tokens(ledger, "wit")
        with httpx.Client(timeout=10) as client:
            for seq in range(6):
                _record(client, ledger, tokens, seq)
            first = _wait_cosigned(ledger, witnesses, 1)
            witnesses[0].kill()
            for seq in range(6, 12):
                _record(client, ledger, tokens, seq)
            witnesses[0].start()  # same directory: the state it had before the crash
            second = _wait_cosigned(ledger, witnesses, first + 1)
        assert second > first
        # An auditor's check of the published checkpoint: log key, both witnesses, root on chain.
        contract = json.loads((data_dir / "deployment.json").read_text())["contract_address"]
        base = ["audit", "verify-checkpoint", "--api", ledger.url, "--vkey", log_vkey, "--contract", contract]
        base += ["--chain-id", "31337", "--rpc", ledger.rpc_url]
        checked = ledger.cli(
            *base, "--witness", witnesses[0].vkey, "--witness", witnesses[1].vkey, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "cosigned by" in checked.stdout
        stranger = WitnessServer(tmp_path / "w3", "never.example/w", [log_vkey]).vkey  # never asked
        refused = ledger.cli(*base, "--witness", stranger, check=False)
        assert refused.returncode == 1 and "no valid cosignature by never.example/w" in refused.stdout
        # A key holder rewrites history: same origin, same key, another root one leaf further.
        keys = LogKeyStore(data_dir / "log-signing.json", origin)
        forged = notes.signed_checkpoint(notes.Checkpoint(origin, second + 1, bytes(32)), keys.signers(), [])
        refusals = []
        for witness in witnesses:
            url = f"{witness.url}/add-checkpoint"
            fake_proof = protocol.request_body(second, [bytes(32)] * 2, forged)
            refusals.append(httpx.post(url, content=fake_proof, timeout=10).status_code)
            split = httpx.post(url, content=protocol.request_body(0, [], forged), timeout=10)
            refusals.append(split.status_code)
            assert split.text == f"{second}\n"
        assert refusals == [422, 409, 422, 409]
        assert _cosigners(ledger, witnesses, second)[0] == second  # the honest checkpoint stands
        _report("witnesses", cosigned_sizes=f"{first},{second}", witness_killed=1, forks_refused=2)
    finally:
        ledger.stop()
        _stop_orphan_anvil(ledger)
        for witness in witnesses:
            witness.stop()


@pytest.mark.postgres
@pytest.mark.timeout(900)
@pytest.mark.parametrize("sequencing", ["inline", "queued"])
def test_fault_matrix_loses_nothing_and_logs_nothing_twice(
    tmp_path: Path, postgres_url: str, sequencing: str
) -> None:
    """Issue 15.5, short: `serve --workers 2` and two workers on PostgreSQL behind a proxy, a few
    seconds of load per fault (an API process, the anchor holder, the sequencer holder in queued
    mode, all together, two workers at once, the database lost for 3 s); the full run is
    `python -m bench faults`, with the same harness and the same checks."""
    if sequencing == "queued" and not faults.queued_mode_available():
        pytest.skip("this build has no queued sequencing")
    with faults.cluster(postgres_url, 2.0, tmp_path, queued=sequencing == "queued") as running:
        outcomes = faults.Matrix(running, 2.0, single_clients=3, pace_s=0.05, verify_each=False).run()
    print("\n" + faults.table(outcomes))
    assert all(o.acknowledged > 0 for o in outcomes), faults.table(outcomes)
    assert all(o.heal_s is not None for o in outcomes[1:])
    api_killed = outcomes[1]
    assert api_killed.heal_s is not None and api_killed.heal_s < 30, "a killed API process replaced late"
    outage = outcomes[-1]
    assert outage.connection_errors + outage.answered_503 > 0, "the outage reached no client"
    problems = [(o.scenario, o.problems()) for o in outcomes if o.problems()]
    assert problems == [], faults.table(outcomes)
