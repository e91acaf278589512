"""The log over HTTP in C2SP formats: signed checkpoints at anchored sizes, the verifier key and
its rotation, hash tiles (full and partial) and entry bundles with their access rule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from backend.adapters.database import Database
from backend.adapters.log_store import SqlLogStore
from backend.domain.log import merkle, notes, tiles
from tests.integration.api_harness import TARGET, Api
from tests.integration.tlog_support import grow, leaf_bytes


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Api:
    grow(db, TARGET, 700, anchored=[5, 300, 600])
    return Api(db, tmp_path, log_origin="park.example/ledger")


def _verifiers(api: Api) -> list[notes.Verifier]:
    response = api.client.get("/log/v1/vkey")
    assert response.status_code == 200
    return [notes.parse_vkey(line) for line in response.text.splitlines()]


def test_the_latest_checkpoint_is_a_signed_note_of_the_anchored_root(api: Api, db: Database) -> None:
    response = api.client.get("/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "max-age=5" in response.headers["cache-control"]
    note = notes.parse_note(response.content)
    checkpoint = notes.parse_checkpoint_text(note.text)
    with db.read_sessions() as session:
        root = SqlLogStore(session).root(600)
    assert checkpoint == notes.Checkpoint("park.example/ledger", 600, root)  # not 700: unanchored
    assert len(notes.verified_signers(note, _verifiers(api))) == 1
    older = api.client.get("/audit/v1/checkpoints/300/note")
    assert notes.parse_checkpoint_text(notes.parse_note(older.content).text).tree_size == 300
    missing = api.client.get("/audit/v1/checkpoints/301/note")
    assert missing.status_code == 404 and "301" in missing.json()["detail"]


def test_a_rotated_key_signs_alongside_the_old_until_it_is_retired(api: Api) -> None:
    old = _verifiers(api)
    assert [v.name for v in old] == ["park.example/ledger"]
    new = api.runtime.log_keys.rotate(datetime.now(UTC))
    both = _verifiers(api)
    assert both == [new, old[0]]
    note = notes.parse_note(api.client.get("/checkpoint").content)
    assert notes.verified_signers(note, both) == [new, old[0]]
    api.runtime.log_keys.retire(old[0].key_id.hex(), datetime.now(UTC))
    note = notes.parse_note(api.client.get("/checkpoint").content)
    assert notes.verified_signers(note, both) == [new]


def test_tiles_hold_the_trees_hashes(api: Api, db: Database) -> None:
    full = api.client.get("/tile/0/001")
    assert full.status_code == 200
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    hashes = [full.content[i : i + 32] for i in range(0, len(full.content), 32)]
    assert hashes == [merkle.leaf_hash(leaf_bytes(i)) for i in range(256, 512)]
    partial = api.client.get("/tile/0/002.p/88")  # 600 = 2·256 + 88
    assert partial.status_code == 200 and len(partial.content) == 88 * 32
    assert "immutable" not in partial.headers["cache-control"]
    level1 = api.client.get("/tile/1/000.p/2")
    with db.read_sessions() as session:
        store = SqlLogStore(session)
        assert level1.content == store.root(256) + store.get_nodes([(8, 1)])[(8, 1)]
    assert api.client.get("/tile/0/002").status_code == 404  # not full at the anchored size 600
    assert api.client.get("/tile/0/002.p/89").status_code == 404  # leaf 600 is not anchored yet
    bad = api.client.get("/tile/0/2")
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"field": "index", "reason": bad.json()["errors"][0]["reason"]}]


def test_entry_bundles_follow_the_audit_rule(api: Api, db: Database, tmp_path: Path) -> None:
    assert api.client.get("/tile/entries/000").status_code == 401
    assert api.client.get("/tile/entries/000", headers=api.auth("employee", "e1")).status_code == 403
    bundle = api.client.get("/tile/entries/000", headers=api.auth("auditor", "a1"))
    assert bundle.status_code == 200
    assert bundle.headers["content-encoding"] == "gzip"  # the client asked for it; httpx unpacked it
    assert int(bundle.headers["content-length"]) < len(bundle.content) / 2
    assert tiles.split_entry_bundle(bundle.content) == [leaf_bytes(i) for i in range(256)]
    # Behind a token, a bundle is the caller's alone: no shared cache keeps it.
    assert bundle.headers["cache-control"] == "private, no-store"
    assert "authorization" in bundle.headers["vary"].lower()
    open_api = Api(db, tmp_path, log_origin="park.example/ledger", log_entries_public=True)
    full = open_api.client.get("/tile/entries/000")
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "authorization" not in full.headers["vary"].lower()
    partial = open_api.client.get("/tile/entries/002.p/88")
    assert partial.status_code == 200 and "immutable" not in partial.headers["cache-control"]
    assert tiles.split_entry_bundle(partial.content) == [leaf_bytes(i) for i in range(512, 600)]
