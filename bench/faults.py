"""The fault matrix (issue 15.5): processes killed with SIGKILL, two role holders started at once
and the PostgreSQL connection lost, each under a steady load, and what survives counted.

One cluster on one PostgreSQL database and one data directory: ``carbon-ledger serve --workers 2``
(the API processes, schedulers off) and two ``carbon-ledger worker`` processes (the elected roles:
anchor, feed, expiry and, in queued mode, the sequencer), all reaching the database through a TCP
proxy (:mod:`bench.pgproxy`) the harness can cut. Clients post single activities and small signed
bulk deliveries, each with its own idempotency key (a bulk record: its record id), and retry with
the same key after a connection error or a 5xx, as a phone or a gate would. After each fault the
harness waits until everything acknowledged is anchored and counts, from the database and the
chain: acknowledged, present, logged, duplicates, index gaps, out-of-order pairs, receipts fetched
and verified against the root on chain, ``audit verify-log``'s verdict, and how long the fault
took to heal.

``python -m bench faults`` runs the full matrix and prints the table (non-zero exit on any loss,
duplicate, gap, disorder or unverified receipt); tests/e2e/test_fault_load.py runs a short one
with the same checks.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, bindparam, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from backend.adapters.anvil import free_port
from backend.adapters.chain import PROFILES, LedgerChain, connect
from backend.bootstrap.settings import Settings
from backend.bootstrap.startup import build_runtime
from backend.services.audit.verification import verify_receipt
from backend.services.identity.binding_codes import issue_code
from backend.services.identity.enrollment import create_company, enroll_employee
from backend.services.identity.tokens import issue_token
from backend.services.integrations.integrations import (
    add_binding,
    binding_hash,
    register_source,
    signature_header,
)
from bench.common import Row
from bench.pgproxy import PgProxy
from tests.waiting import wait_for

BIN = Path(sys.executable).parent
TRIP_SPACING = timedelta(minutes=45)
"""Each client's trips start this far apart, so none is taken for a duplicate of another."""
CARD_SPACING = timedelta(hours=3)
SOURCE = "fault-gates"
BULK_EMPLOYEES = 40
BULK_SIZE = 10
REQUEST_TIMEOUT_S = 15.0
GIVE_UP_S = 180.0
"""A client retries one request this long at most (a phone gives up, and the harness counts it)."""


def queued_mode_available() -> bool:
    """Whether this build has the queued mode (API processes queue leaves, a sequencer role
    assigns indices)."""
    return "sequencing" in Settings.model_fields


# ---------------------------------------------------------------- the client's view


@dataclass
class Request:
    """One logical request: a single activity or a bulk delivery, sent until answered."""

    client: int
    seq: int
    kind: str  # "single" or "bulk"
    key: str
    sent_at: float = 0.0
    acked_at: float | None = None
    status: int | None = None
    tries: int = 0
    activity_ids: list[str] = field(default_factory=list)
    statuses: list[int | None] = field(default_factory=list)
    unhelpful_5xx: int = 0  # a 5xx without Retry-After or without a problem body


@dataclass
class Load:
    """Clients posting until stopped, recording every request and every answer."""

    url: str
    tokens: list[str]
    gate_secret: str
    bulk_clients: int = 1
    pace_s: float = 0.0
    """A pause after each answered request (a steady rate rather than as fast as it goes)."""
    base: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(hours=1))
    requests: list[Request] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counters: dict[int, int] = field(default_factory=dict)
    _card_seq: int = 0

    def start(self) -> None:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._single_client, args=(n,), daemon=True)
            for n in range(len(self.tokens))
        ]
        self._threads += [
            threading.Thread(target=self._bulk_client, args=(len(self.tokens) + n,), daemon=True)
            for n in range(self.bulk_clients)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stops sending new requests; a request in flight is retried until answered."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=GIVE_UP_S + 30)

    def acked_since(self, moment: float) -> int:
        return sum(1 for r in list(self.requests) if r.acked_at is not None and r.acked_at > moment)

    def _next(self, client: int) -> int:
        with self._lock:
            seq = self._counters.get(client, 0)
            self._counters[client] = seq + 1
            return seq

    def _single_client(self, client: int) -> None:
        token = self.tokens[client]
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as http:
            while not self._stop.is_set():
                seq = self._next(client)
                request = Request(client, seq, "single", f"fault-{client}-{seq:06d}")
                self.requests.append(request)
                body = {
                    "type": "metro",
                    "occurred_at": (self.base - seq * TRIP_SPACING).isoformat(),
                    "distance_km": 3 + seq % 17,
                }
                headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": request.key}
                self._until_answered(
                    request,
                    lambda b=body, h=headers: http.post(f"{self.url}/mp/v1/activities", json=b, headers=h),
                )
                self._stop.wait(self.pace_s)

    def _bulk_client(self, client: int) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as http:
            while not self._stop.is_set():
                seq = self._next(client)
                with self._lock:
                    first, self._card_seq = self._card_seq, self._card_seq + BULK_SIZE
                request = Request(client, seq, "bulk", f"gate-{first:08d}")
                self.requests.append(request)
                body = _gate_batch(first, BULK_SIZE, self.base)

                def post(body: bytes = body) -> httpx.Response:
                    # Signed afresh on every try (the timestamp moves), as a gate resends.
                    return http.post(
                        f"{self.url}/integrations/v1/{SOURCE}/records",
                        content=body,
                        headers=_signed(self.gate_secret, body),
                    )

                self._until_answered(request, post)
                self._stop.wait(self.pace_s)

    def _until_answered(self, request: Request, send: Callable[[], httpx.Response]) -> None:
        request.sent_at = time.monotonic()
        deadline = request.sent_at + GIVE_UP_S
        while time.monotonic() < deadline:
            request.tries += 1
            try:
                response = send()
            except httpx.HTTPError:
                request.statuses.append(None)
                time.sleep(0.2)
                continue
            request.statuses.append(response.status_code)
            if response.status_code >= 500:
                problem = response.headers.get("content-type", "").startswith("application/problem+json")
                if not (problem and response.headers.get("retry-after")):
                    request.unhelpful_5xx += 1
                time.sleep(min(float(response.headers.get("retry-after") or 0.2), 1.0))
                continue
            if response.status_code == 409 and response.json().get("type", "").endswith("/replay"):
                time.sleep(1.0)  # the same signature within the second: sign again a second later
                continue
            request.status = response.status_code
            if response.status_code in (200, 201):
                request.activity_ids = _activity_ids(request.kind, response.json())
                request.acked_at = time.monotonic()
            return


def _activity_ids(kind: str, body: dict[str, Any]) -> list[str]:
    if kind == "single":
        return [str(body["id"])]
    return [
        str(r["activity_id"])
        for r in body["results"]
        if r.get("activity_id") and r["outcome"] in ("accepted", "flagged")
    ]


def _gate_batch(first: int, size: int, base: datetime) -> bytes:
    records = []
    for i in range(first, first + size):
        records.append(
            {
                "record_id": f"gate-{i:08d}",
                "account": f"card-{i % BULK_EMPLOYEES:05d}",
                "type": "metro",
                "occurred_at": (base - CARD_SPACING * (i // BULK_EMPLOYEES)).isoformat(),
                "distance_km": 1 + (i % 300) / 10,
                "duration_min": 30,
            }
        )
    return json.dumps({"records": records}).encode()


def _signed(secret: str, body: bytes) -> dict[str, str]:
    """A source's signed-delivery headers, made by the ledger's own signing rule."""
    stamp, signed = signature_header(secret, body)
    return {"X-Carbon-Timestamp": stamp, "X-Carbon-Signature": signed, "Content-Type": "application/json"}


# ---------------------------------------------------------------- the cluster


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _spawned(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return False


def wait_until(what: str, probe: Callable[[], Any], timeout_s: float, interval_s: float = 0.1) -> Any:
    """The tests' ``wait_for``, with a process, connection or database not answering yet counted
    as not yet (the cluster is restarting pieces of itself on purpose)."""
    return wait_for(what, probe, timeout_s, interval_s, not_yet=(httpx.HTTPError, SQLAlchemyError, OSError))


class Cluster:
    """``serve --workers 2`` and two ``worker`` processes on one database (through the proxy) and
    one data directory."""

    def __init__(self, workdir: Path, database_url: str, lease_s: float = 3.0, queued: bool = False) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "var"
        self.direct_url = database_url
        self.lease_s = lease_s
        self.queued = queued
        url = make_url(database_url)
        self.proxy = PgProxy(url.host or "127.0.0.1", url.port or 5432)
        proxied = url.set(host="127.0.0.1", port=self.proxy.port).render_as_string(hide_password=False)
        self.api_port = free_port()
        self.anvil_port = free_port()
        self.env = {
            **os.environ,
            "CARBON_DATA_DIR": str(self.data_dir),
            "CARBON_DATABASE_URL": proxied,
            "CARBON_API_PORT": str(self.api_port),
            "CARBON_ANVIL_PORT": str(self.anvil_port),
            "CARBON_ROLE_LEASE_S": str(lease_s),
            "CARBON_ANCHOR_INTERVAL_S": "0.5",
            # Loss and duplication are measured, not the anti-abuse rules: lift the rate limits.
            "CARBON_EMPLOYEE_ACTIVITIES_PER_HOUR": "10000",
            "CARBON_EMPLOYEE_ACTIVITIES_PER_DAY": "100000",
        }
        if queued:
            self.env["CARBON_SEQUENCING"] = "queued"
        self.engine: Engine = create_engine(database_url, pool_pre_ping=True)
        self.serve: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.gate_secret = ""
        self._settings = Settings(data_dir=self.data_dir, database_url=database_url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.anvil_port}"

    def token(self, role: str, subject: str, org: str | None = "acme") -> str:
        return issue_token(self._settings.token_secret, role, subject, org, 6 * 3600, kind="dev")

    # -- life cycle

    def start(self) -> None:
        self.proxy.start()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._enroll_gate_cards()
        self.start_worker()  # starts the managed Anvil, deploys, takes the roles
        first = self.workers[0]

        def first_holds() -> bool:
            if first.poll() is not None:
                log = (self.data_dir / "worker.log").read_text(errors="replace")
                raise RuntimeError(f"the worker exited:\n{log[-3000:]}")
            return self.holder("anchor") == first.pid

        wait_until("the first worker to take the anchoring role", first_holds, 240, 0.2)
        self._start_serve()
        self.start_worker()

    def stop(self) -> None:
        for process in [*self.workers, *([self.serve] if self.serve else [])]:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in [*self.workers, *([self.serve] if self.serve else [])]:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        pid_file = self.data_dir / "anvil-state.json.pid"
        if pid_file.exists():  # the node outlives a killed starter: stop it by its own pid
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        self.proxy.stop()
        self.engine.dispose()

    def _enroll_gate_cards(self) -> None:
        """Card holders bound a month ago and the gate source, set up through the services."""
        runtime = build_runtime(self._settings, with_chain=False)
        try:
            now = datetime.now(UTC)
            create_company(runtime.db, "acme", "Acme", now)
            cards, _ = register_source(runtime.db, "fault-cards", "Cards", "transit_gate", ["metro"], 10, now)
            _, self.gate_secret = register_source(
                runtime.db, SOURCE, "Gates", "transit_gate", ["metro"], 1_000_000, now
            )
            bound_at = now - timedelta(days=30)
            for n in range(BULK_EMPLOYEES):
                account = f"card-{n:05d}"
                enrolled = enroll_employee(
                    runtime.db, "acme", f"F{n:05d}", None, None, timedelta(days=7), "bench", now
                )
                code = issue_code(
                    runtime.db, cards, binding_hash(runtime.subject_key, "transit_card", account), bound_at
                ).code
                add_binding(
                    runtime.db,
                    enrolled.employee.id,
                    "transit_card",
                    account,
                    None,
                    runtime.subject_key,
                    bound_at,
                    code=code,
                )
        finally:
            runtime.db.dispose()

    def _start_serve(self) -> None:
        env = {**self.env, "CARBON_SCHEDULER_ENABLED": "false"}  # the roles live in the workers
        log_path = self.data_dir / "serve.log"
        with log_path.open("ab") as log:
            self.serve = subprocess.Popen(
                [str(BIN / "carbon-ledger"), "serve", "--workers", "2"], env=env, stdout=log, stderr=log
            )
        serve = self.serve

        def ready() -> bool:
            if serve.poll() is not None:
                raise RuntimeError(f"serve exited:\n{log_path.read_text()[-3000:]}")
            started = log_path.read_text(errors="replace").count("Application startup complete") >= 2
            return started and httpx.get(self.url + "/healthz", timeout=2).status_code == 200

        wait_until("serve --workers 2 to answer", ready, 240, 0.3)

    def start_worker(self) -> subprocess.Popen[bytes]:
        with (self.data_dir / "worker.log").open("ab") as log:
            process = subprocess.Popen(
                [str(BIN / "carbon-ledger"), "worker"], env=self.env, stdout=log, stderr=log
            )
        self.workers.append(process)
        return process

    def live_workers(self) -> list[subprocess.Popen[bytes]]:
        return [w for w in self.workers if w.poll() is None]

    def api_pids(self) -> list[int]:
        """serve's API processes (uvicorn spawns them; other children are helpers)."""
        assert self.serve is not None
        return [pid for pid in _children(self.serve.pid) if _alive(pid) and _spawned(pid)]

    # -- roles

    def holder(self, role: str) -> int | None:
        """The pid holding ``role``'s unexpired lease, by the database's clock."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT holder FROM role_leases WHERE role = :r AND expires_at > now()"), {"r": role}
            ).first()
        return None if row is None else int(str(row[0]).split(":")[-2])

    def wait_role(self, role: str, accept: Callable[[int], bool], timeout_s: float) -> int:
        def held() -> int | None:
            pid = self.holder(role)
            return pid if pid is not None and accept(pid) else None

        result: int = wait_until(f"a process to hold the {role} role", held, timeout_s, 0.05)
        return result

    def roles(self) -> tuple[str, ...]:
        return ("anchor", "sequencer") if self.queued else ("anchor",)

    # -- what survived

    def log_size(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM log_leaves")).scalar_one())

    def anchored_size(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                text("SELECT max(tree_size) FROM checkpoints WHERE state = 'confirmed'")
            ).scalar_one()
        return int(value or 0)

    def leaves_of(self, activity_ids: list[str]) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        query = text(
            "SELECT record_id, idx FROM log_leaves WHERE kind = 'activity' AND record_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        with self.engine.connect() as conn:
            for chunk in range(0, len(activity_ids), 1000):
                for record_id, idx in conn.execute(query, {"ids": activity_ids[chunk : chunk + 1000]}):
                    found.setdefault(str(record_id), []).append(int(idx))
        return found

    def present(self, activity_ids: list[str]) -> set[str]:
        query = text("SELECT id FROM activities WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in range(0, len(activity_ids), 1000):
                found.update(
                    str(r[0]) for r in conn.execute(query, {"ids": activity_ids[chunk : chunk + 1000]})
                )
        return found

    def trips_stored_twice(self) -> int:
        """Activities of one person, type and start time stored more than once: the same trip
        recorded twice (a retry that was not recognised as one). Every trip the load sends is
        distinct, so any is a duplicate."""
        with self.engine.connect() as conn:
            value = conn.execute(
                text(
                    "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM activities "
                    "GROUP BY subject_id, type, occurred_at HAVING count(*) > 1) t"
                )
            ).scalar_one()
        return int(value)

    def repeated_leaves(self) -> list[tuple[str, int]]:
        """Kinds of the leaves whose bytes appear at more than one index, and how many."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT kind, count(*) FROM log_leaves WHERE leaf_hash IN (SELECT leaf_hash "
                    "FROM log_leaves GROUP BY leaf_hash HAVING count(*) > 1) GROUP BY kind"
                )
            ).all()
        return [(str(kind), int(count)) for kind, count in rows]

    def log_shape(self) -> tuple[int, int, int]:
        """(gaps, leaves whose bytes appear at another index too, tree sizes with two checkpoints)."""
        with self.engine.connect() as conn:
            count, top = conn.execute(text("SELECT count(*), coalesce(max(idx), -1) FROM log_leaves")).one()
            repeated = conn.execute(
                text("SELECT count(*) - count(DISTINCT leaf_hash) FROM log_leaves")
            ).scalar_one()
            twice = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT tree_size FROM checkpoints "
                    "GROUP BY tree_size HAVING count(*) > 1) t"
                )
            ).scalar_one()
        return int(top) + 1 - int(count), int(repeated), int(twice)


# ---------------------------------------------------------------- the matrix


@dataclass
class Outcome:
    scenario: str
    acknowledged: int = 0
    present: int = 0
    logged: int = 0
    duplicates: int = 0
    gaps: int = 0
    out_of_order: int = 0
    receipts_fetched: int = 0
    receipts_verified: int = 0
    verify_log: str = "—"
    heal_s: float | None = None
    unanswered: int = 0
    unhelpful_5xx: int = 0
    answered_503: int = 0
    connection_errors: int = 0
    retried: int = 0
    twice_anchored: int = 0
    note: str = ""

    def problems(self) -> list[str]:
        found = []
        if self.unanswered:
            found.append(f"{self.unanswered} requests never answered 2xx")
        if self.present != self.acknowledged:
            found.append(f"{self.acknowledged - self.present} acknowledged records missing")
        if self.logged != self.acknowledged:
            found.append(f"{self.acknowledged - self.logged} acknowledged records not logged")
        for name in ("duplicates", "gaps", "out_of_order", "unhelpful_5xx", "twice_anchored"):
            if getattr(self, name):
                found.append(f"{name.replace('_', ' ')}: {getattr(self, name)}")
        if self.receipts_verified != self.acknowledged:
            found.append(f"{self.acknowledged - self.receipts_verified} receipts not verified")
        if self.verify_log not in ("ok", "(later)"):
            found.append(f"verify-log: {self.verify_log}")
        if found and self.note:
            found.append(self.note.strip())
        return found


def _kill_hung(pid: int) -> None:
    """SIGKILL to an API process that stopped answering a moment before (SIGSTOP for 1 s), so
    that uvicorn's supervisor has a health ping outstanding to it when it dies: the worst case
    for noticing the death."""
    os.kill(pid, signal.SIGSTOP)
    time.sleep(HUNG_S)  # the supervisor pings every 0.5 s
    os.kill(pid, signal.SIGKILL)


HUNG_S = 1.0

Healing = Callable[[], float]
"""Waits until a fault has healed; returns the seconds since it was injected."""


class _Watch(threading.Thread):
    """Runs a fault's :data:`Healing` wait beside the load, from the moment of the fault."""

    def __init__(self, healing: Healing | None) -> None:
        super().__init__(daemon=True)
        self.healing = healing
        self.seconds: float | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.seconds = self.healing() if self.healing is not None else None
        except BaseException as exc:  # handed to the main thread by result()
            self.error = exc

    def result(self) -> float | None:
        self.join()
        if self.error is not None:
            raise self.error
        return self.seconds


@dataclass
class Matrix:
    cluster: Cluster
    load_s: float
    single_clients: int = 4
    bulk_clients: int = 1
    pace_s: float = 0.0
    verify_each: bool = True
    """Run ``audit verify-log`` after every scenario (otherwise after the last one only)."""
    outcomes: list[Outcome] = field(default_factory=list)
    log: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.auditor = self.cluster.token("auditor", "fault-auditor", None)
        self._chain: _RootsOnChain | None = None
        self._checked = 0  # requests already counted by an earlier scenario

    def scenarios(self) -> list[tuple[str, Callable[[Load], Healing | None]]]:
        found: list[tuple[str, Callable[[Load], Healing | None]]] = [
            ("baseline (no fault)", lambda load: None),
            ("kill -9 one API process", self.kill_api),
            ("kill -9 the anchor holder", lambda load: self.kill_role_holder("anchor")),
        ]
        if self.cluster.queued:
            found.append(("kill -9 the sequencer holder", lambda load: self.kill_role_holder("sequencer")))
        found += [
            ("kill -9 API + role holders together", self.kill_all),
            ("two workers started at once", self.two_at_once),
            ("PostgreSQL lost for 3 s", self.lose_database),
        ]
        return found

    def run(self) -> list[Outcome]:
        tokens = [self.cluster.token("employee", f"fault-client-{n}") for n in range(self.single_clients)]
        load = Load(self.cluster.url, tokens, self.cluster.gate_secret, self.bulk_clients, self.pace_s)
        scenarios = self.scenarios()
        for n, (name, fault) in enumerate(scenarios):
            began = time.monotonic()
            load.start()
            time.sleep(self.load_s / 2)  # load before the fault: a fixed share of the scenario
            watcher = _Watch(fault(load))  # healing is timed while the load goes on
            time.sleep(self.load_s / 2)  # and load after it
            load.stop()  # requests in flight are retried until answered
            heal_s = watcher.result()
            loaded = time.monotonic()
            self.outcomes.append(self.check(name, load, heal_s, self.verify_each or n == len(scenarios) - 1))
            done = self.outcomes[-1]
            self.log(
                f"   {name}: {done.acknowledged} acknowledged, problems {done.problems() or 'none'} "
                f"(load {loaded - began:.0f} s, checks {time.monotonic() - loaded:.0f} s)"
            )
        return self.outcomes

    # -- faults; each returns the seconds it took to heal

    def kill_api(self, load: Load) -> Healing:
        before = self.cluster.api_pids()
        victim = before[0]
        _kill_hung(victim)
        killed = time.monotonic()

        def healed() -> float:
            # uvicorn's supervisor starts a replacement; healed when it runs.
            wait_until(
                "a replacement API process",
                lambda: len([p for p in self.cluster.api_pids() if p != victim]) >= len(before),
                240,
            )
            return time.monotonic() - killed

        return healed

    def kill_role_holder(self, role: str) -> Healing:
        holder = self.cluster.wait_role(role, lambda pid: True, 60)
        victim = next(w for w in self.cluster.workers if w.pid == holder)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed = time.monotonic()

        def healed() -> float:
            self.cluster.wait_role(role, lambda pid: pid != holder, self.cluster.lease_s * 4 + 60)
            took = time.monotonic() - killed
            self.cluster.start_worker()  # two workers again for the next fault
            return took

        return healed

    def kill_all(self, load: Load) -> Healing:
        holders = {self.cluster.wait_role(role, lambda pid: True, 60) for role in self.cluster.roles()}
        api = self.cluster.api_pids()
        victims = [w for w in self.cluster.workers if w.pid in holders]
        _kill_hung(api[0])
        for victim in victims:
            victim.send_signal(signal.SIGKILL)
        for victim in victims:
            victim.wait()
        killed = time.monotonic()

        def healed() -> float:
            for role in self.cluster.roles():
                self.cluster.wait_role(role, lambda pid: pid not in holders, self.cluster.lease_s * 4 + 60)
            wait_until(
                "a replacement API process",
                lambda: api[0] not in self.cluster.api_pids() and len(self.cluster.api_pids()) >= len(api),
                240,
            )
            took = time.monotonic() - killed
            for _ in victims:
                self.cluster.start_worker()
            return took

        return healed

    def two_at_once(self, load: Load) -> Healing:
        """Both workers stopped cleanly (their leases released), then two new ones started in
        the same instant: they race for every role, and one must win each."""
        old = self.cluster.live_workers()
        for worker in old:
            worker.send_signal(signal.SIGTERM)
        for worker in old:
            worker.wait(timeout=60)
        started = time.monotonic()
        fresh = [self.cluster.start_worker(), self.cluster.start_worker()]
        pids = {w.pid for w in fresh}

        def healed() -> float:
            for role in self.cluster.roles():
                self.cluster.wait_role(role, lambda pid: pid in pids, 240)
            return time.monotonic() - started

        return healed

    def lose_database(self, load: Load) -> Healing:
        self.cluster.proxy.outage(3.0)
        resumed = time.monotonic()

        def healed() -> float:
            # The first acknowledgement after the database came back.
            def first_ack() -> float | None:
                after = [r.acked_at for r in list(load.requests) if r.acked_at and r.acked_at > resumed]
                return min(after) if after else None

            return float(wait_until("an acknowledgement after the outage", first_ack, 240, 0.05)) - resumed

        return healed

    # -- the count

    def check(self, name: str, load: Load, heal_s: float | None, verify_log: bool = True) -> Outcome:
        requests = load.requests[self._checked :]
        self._checked = len(load.requests)
        outcome = Outcome(name, heal_s=heal_s)
        acked = [r for r in requests if r.acked_at is not None]
        outcome.unanswered = len(requests) - len(acked)
        outcome.unhelpful_5xx = sum(r.unhelpful_5xx for r in requests)
        outcome.retried = sum(1 for r in requests if r.tries > 1)
        outcome.answered_503 = sum(r.statuses.count(503) for r in requests)
        outcome.connection_errors = sum(r.statuses.count(None) for r in requests)
        ids = [a for r in acked for a in r.activity_ids]
        outcome.acknowledged = len(ids)
        twice_acked = len(ids) - len(set(ids))  # two requests answered with one record

        # Everything acknowledged logged and anchored: a condition, not a sleep.
        def anchored() -> dict[str, list[int]] | None:
            leaves = self.cluster.leaves_of(ids)
            if len(leaves) < len(set(ids)):
                return None
            top = max((i for idx in leaves.values() for i in idx), default=-1)
            return leaves if self.cluster.anchored_size() > top else None

        try:
            leaves = wait_until("everything acknowledged to be anchored", anchored, 180, 0.3)
        except AssertionError as exc:
            outcome.note = str(exc)
            leaves = self.cluster.leaves_of(ids)
        outcome.present = len(self.cluster.present(ids))
        outcome.logged = sum(1 for a in set(ids) if a in leaves)
        twice_logged = sum(len(idx) - 1 for idx in leaves.values())
        gaps, repeated, twice = self.cluster.log_shape()
        stored_twice = self.cluster.trips_stored_twice()
        outcome.gaps, outcome.twice_anchored = gaps, twice
        outcome.duplicates = twice_acked + twice_logged + repeated + stored_twice
        if outcome.duplicates:
            outcome.note += (
                f" duplicates: {twice_acked} records answering two requests, {stored_twice} trips "
                f"stored twice, {twice_logged} records logged twice, {repeated} leaves whose bytes "
                f"repeat ({self.cluster.repeated_leaves()})"
            )
        outcome.out_of_order = _out_of_order(acked, leaves)
        outcome.receipts_fetched, outcome.receipts_verified = self._receipts(leaves)
        outcome.verify_log = self._verify_log() if verify_log else "(later)"
        return outcome

    def _receipts(self, leaves: dict[str, list[int]]) -> tuple[int, int]:
        fetched = verified = 0
        headers = {"Authorization": f"Bearer {self.auditor}"}
        with httpx.Client(timeout=30, headers=headers) as http:
            for activity_id, indices in leaves.items():
                response = http.get(f"{self.cluster.url}/audit/v1/receipts/{indices[0]}")
                if response.status_code != 200:
                    continue
                fetched += 1
                try:
                    verdict = verify_receipt(response.json(), self._chain_for)
                except Exception:  # any fault of the receipt is counted, not raised
                    continue
                verified += verdict.record_id == activity_id and verdict.leaf_index == indices[0]
        return fetched, verified

    def _chain_for(self, contract: str) -> Any:
        if self._chain is None or self._chain.chain.address.lower() != contract.lower():
            profile = PROFILES["anvil"]
            self._chain = _RootsOnChain(
                LedgerChain(connect(self.cluster.rpc_url, profile), profile, contract)
            )
        return self._chain

    def _verify_log(self) -> str:
        done = subprocess.run(
            [str(BIN / "carbon-ledger"), "audit", "verify-log", "--api", self.cluster.url,
             "--rpc", self.cluster.rpc_url, "--token", self.auditor],
            env=self.cluster.env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if done.returncode == 0:
            return "ok"
        return f"exit {done.returncode}: {(done.stdout + done.stderr).strip().splitlines()[-1:]}"


class _RootsOnChain:
    """The contract as a receipt's verification reads it, each anchored root read once (every
    receipt of one checkpoint checks the same root)."""

    def __init__(self, chain: LedgerChain) -> None:
        self.chain = chain
        self._chain_id: int | None = None
        self._roots: dict[int, bytes] = {}

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.chain.chain_id()
        return self._chain_id

    def root_at(self, tree_size: int) -> bytes:
        if tree_size not in self._roots:
            self._roots[tree_size] = self.chain.root_at(tree_size)
        return self._roots[tree_size]


def _out_of_order(acked: list[Request], leaves: dict[str, list[int]]) -> int:
    """Pairs of one client's requests where the later one (sent after the earlier was
    acknowledged) was logged before it: acknowledged first must mean logged first."""
    wrong = 0
    by_client: dict[int, list[Request]] = {}
    for request in sorted(acked, key=lambda r: (r.client, r.seq)):
        by_client.setdefault(request.client, []).append(request)
    for requests in by_client.values():
        for earlier, later in itertools.pairwise(requests):
            before = [i for a in earlier.activity_ids for i in leaves.get(a, [])]
            after = [i for a in later.activity_ids for i in leaves.get(a, [])]
            if before and after and max(before) > min(after):
                wrong += 1
    return wrong


HEADER = (
    "scenario", "acked", "present", "logged", "dup", "gaps", "disorder",
    "receipts ok/fetched", "verify-log", "retried", "conn err", "503", "bad 5xx", "healed",
)  # fmt: skip


def table(outcomes: list[Outcome]) -> str:
    rows = [HEADER] + [
        (
            o.scenario,
            str(o.acknowledged),
            str(o.present),
            str(o.logged),
            str(o.duplicates),
            str(o.gaps),
            str(o.out_of_order),
            f"{o.receipts_verified}/{o.receipts_fetched}",
            o.verify_log,
            str(o.retried),
            str(o.connection_errors),
            str(o.answered_503),
            str(o.unhelpful_5xx),
            "—" if o.heal_s is None else f"{o.heal_s:.1f} s",
        )
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


@contextlib.contextmanager
def cluster(
    database_url: str, lease_s: float = 3.0, workdir: Path | None = None, queued: bool = False
) -> Iterator[Cluster]:
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        running = Cluster(workdir, database_url, lease_s, queued=queued)
        try:
            running.start()
            yield running
        finally:
            running.stop()


def run(quick: bool = False) -> list[Row]:
    """The fault matrix on a fresh PostgreSQL database; prints the table, exits 1 on any fault."""
    from bench.bench_log import postgres_url

    load_s = 6.0 if quick else 20.0
    outcomes: list[Outcome] = []
    for queued in (False, True) if queued_mode_available() else (False,):
        mode = "queued" if queued else "inline"
        print(f"   sequencing {mode}:", flush=True)
        with postgres_url() as url, cluster(url, queued=queued) as running:
            for outcome in Matrix(running, load_s, pace_s=0.02).run():
                outcome.scenario = f"{mode}: {outcome.scenario}"
                outcomes.append(outcome)
    print(table(outcomes))
    print(f"load average {os.getloadavg()[0]:.1f} · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    problems = [f"{o.scenario}: {p}" for o in outcomes for p in o.problems()]
    rows = [
        Row("faults", f"{o.scenario}: acknowledged, lost, duplicated", o.acknowledged, "records",
            note=f"lost {o.acknowledged - o.logged}, dup {o.duplicates}, gaps {o.gaps}, "
                 f"receipts {o.receipts_verified}, healed {o.heal_s}")
        for o in outcomes
    ]  # fmt: skip
    if problems:
        print("FAULTS FOUND:\n  " + "\n  ".join(problems))
        raise SystemExit(1)
    return rows
