"""Two witnesses (real ``carbon-ledger witness serve`` processes on free ports) cosign the log's
checkpoints through the C2SP tlog-witness protocol, and refuse a forked log."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from backend.adapters import migrations
from backend.adapters.database import Database, create_database
from backend.adapters.log_keys import LogKeyStore
from backend.adapters.log_store import PendingLeaf, SqlLogStore
from backend.domain.log import notes
from backend.domain.log import witness as protocol
from backend.services.log import tlog, witnessing
from tests.integration.api_harness import TARGET, Api
from tests.integration.tlog_support import grow
from tests.witnesskit import WitnessServer

ORIGIN = "park.example/ledger"


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Api:
    return Api(db, tmp_path / "park", log_origin=ORIGIN)


@pytest.fixture
def witnesses(api: Api, tmp_path: Path) -> Iterator[list[WitnessServer]]:
    vkeys = [s.verifier.vkey for s in api.runtime.log_keys.signers()]
    servers = [
        WitnessServer(tmp_path / "w1", "city.example/witness", vkeys).start(),
        WitnessServer(tmp_path / "w2", "audit-firm.example/w", vkeys).start(),
    ]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def _endpoints(servers: list[WitnessServer]) -> list[witnessing.WitnessEndpoint]:
    return witnessing.endpoints([{"url": s.url, "vkey": s.vkey} for s in servers])


def _submit(api: Api, servers: list[WitnessServer]) -> list[str]:
    with httpx.Client(timeout=10) as http:
        outcomes = witnessing.submit_latest(
            api.runtime.db, TARGET, api.runtime.log_keys, _endpoints(servers), http, datetime.now(UTC)
        )
    return [o.status for o in outcomes]


def test_two_witnesses_cosign_and_the_cosigned_checkpoint_is_published(
    api: Api, db: Database, witnesses: list[WitnessServer]
) -> None:
    grow(db, TARGET, 300, anchored=[100, 300])
    assert _submit(api, witnesses) == ["cosigned", "cosigned"]
    assert _submit(api, witnesses) == ["already", "already"]
    grow(db, TARGET, 1000, anchored=[1000])
    assert _submit(api, witnesses) == ["cosigned", "cosigned"]  # with a proof from 300

    note = notes.parse_note(api.client.get("/checkpoint").content)
    assert notes.parse_checkpoint_text(note.text).tree_size == 1000
    witness_keys = [notes.parse_vkey(s.vkey) for s in witnesses]
    assert sorted(notes.verified_signers(note, witness_keys), key=lambda v: v.name) == sorted(
        witness_keys, key=lambda v: v.name
    )
    log_keys = [s.verifier for s in api.runtime.log_keys.signers()]
    assert notes.verified_signers(note, log_keys) == log_keys
    for cosig in note.signatures[1:]:
        assert abs(notes.cosignature_timestamp(cosig) - datetime.now(UTC).timestamp()) < 300
    # Each witness serves what it cosigned to monitors, at sha256(origin).
    origin_hash = hashlib.sha256(ORIGIN.encode()).hexdigest()
    held = httpx.get(f"{witnesses[0].url}/{origin_hash}/checkpoint")
    assert held.status_code == 200
    assert notes.parse_checkpoint_text(notes.parse_note(held.content).text).tree_size == 1000
    assert httpx.get(f"{witnesses[0].url}/{'0' * 64}/checkpoint").status_code == 404


def _forked_log(tmp_path: Path, keys: LogKeyStore, common: int, size: int) -> tuple[bytes, Database]:
    """The same log key signing another history: ``common`` leaves shared, then different ones."""
    fork = create_database(f"sqlite:///{tmp_path / 'fork.sqlite3'}")
    migrations.upgrade(fork.engine)
    grow(fork, TARGET, common, anchored=[])
    with fork.write_sessions() as session, session.begin():
        SqlLogStore(session).append(
            [PendingLeaf("test", f"f{i}", b'{"forged":%d}' % i) for i in range(common, size)],
            datetime.now(UTC),
        )
    with fork.read_sessions() as session:
        root = SqlLogStore(session).root(size)
    checkpoint = notes.Checkpoint(keys.origin, size, root)
    return notes.signed_checkpoint(checkpoint, keys.signers(), []), fork


def test_a_forked_log_is_refused_by_both_witnesses(
    api: Api, db: Database, witnesses: list[WitnessServer], tmp_path: Path
) -> None:
    grow(db, TARGET, 300, anchored=[300])
    assert _submit(api, witnesses) == ["cosigned", "cosigned"]
    forged, fork = _forked_log(tmp_path, api.runtime.log_keys, common=200, size=400)
    try:
        with fork.read_sessions() as session:
            proof = SqlLogStore(session).consistency_proof(300, 400)  # from the fork's own size 300
        for server in witnesses:
            url = f"{server.url}/add-checkpoint"
            # Claiming to extend what the witness holds, with the fork's proof: not consistent.
            refused = httpx.post(url, content=protocol.request_body(300, proof, forged))
            assert refused.status_code == 422, refused.text
            assert "not consistent with the cosigned size 300" in refused.text
            # Pretending the witness never saw the log (a split view): 409 with the size it holds.
            split = httpx.post(url, content=protocol.request_body(0, [], forged))
            assert split.status_code == 409
            assert split.headers["content-type"].startswith("text/x.tlog.size")
            assert split.text == "300\n"
            # The same size with another root.
            same_size, _ = _forked_log(tmp_path / "again", api.runtime.log_keys, common=200, size=300)
            assert httpx.post(url, content=protocol.request_body(300, [], same_size)).status_code == 422
    finally:
        fork.dispose()
    # The honest log goes on being cosigned.
    grow(db, TARGET, 500, anchored=[500])
    assert _submit(api, witnesses) == ["cosigned", "cosigned"]
    assert tlog.latest_note(db, TARGET, api.runtime.log_keys).checkpoint.tree_size == 500


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # all on the witness's side
def test_the_witness_refuses_what_it_cannot_trust(
    api: Api, db: Database, witnesses: list[WitnessServer]
) -> None:
    grow(db, TARGET, 50, anchored=[50])
    good = tlog.latest_note(db, TARGET, api.runtime.log_keys).note
    url = f"{witnesses[0].url}/add-checkpoint"
    stranger = LogKeyStore(Path(witnesses[0].directory) / "stranger.json", "other.example/log")
    other_log = notes.signed_checkpoint(
        notes.Checkpoint("other.example/log", 1, bytes(32)), stranger.signers(), []
    )
    assert httpx.post(url, content=protocol.request_body(0, [], other_log)).status_code == 404
    impostor = LogKeyStore(Path(witnesses[0].directory) / "impostor.json", ORIGIN)
    text = notes.parse_note(good).text
    forged = notes.signed_checkpoint(notes.parse_checkpoint_text(text), impostor.signers(), [])
    assert httpx.post(url, content=protocol.request_body(0, [], forged)).status_code == 403
    tampered = good.replace(b"\n50\n", b"\n51\n")
    assert httpx.post(url, content=protocol.request_body(0, [], tampered)).status_code == 403
    assert httpx.post(url, content=b"old 5\n\n" + good).status_code == 409
    assert httpx.post(url, content=b"old 51\n\n" + good).status_code == 400
    assert httpx.post(url, content=b"new 0\n\n" + good).status_code == 400
    assert httpx.post(url, content=protocol.request_body(0, [bytes(32)], good)).status_code == 422
    assert httpx.post(url, content=protocol.request_body(0, [], good)).status_code == 200


def test_a_witness_that_lost_its_state_is_caught_up_by_the_409_size(
    api: Api, db: Database, witnesses: list[WitnessServer]
) -> None:
    grow(db, TARGET, 100, anchored=[100])
    assert _submit(api, witnesses[:1]) == ["cosigned"]
    # The second witness first sees the log at 100 through another path (a monitor submitted it).
    note = tlog.latest_note(db, TARGET, api.runtime.log_keys).note
    assert (
        httpx.post(
            f"{witnesses[1].url}/add-checkpoint", content=protocol.request_body(0, [], note)
        ).status_code
        == 200
    )
    grow(db, TARGET, 700, anchored=[700])
    # The log believes witness 2 never cosigned: 409 "100", then a proof from 100.
    assert _submit(api, witnesses) == ["cosigned", "cosigned"]
