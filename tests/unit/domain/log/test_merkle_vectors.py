"""The transparency-dev/merkle RFC 9162 vectors (copied into tests/vectors/rfc9162) against merkle.py.

Every happy path must verify, every ``wantErr`` file must raise ProofError, and the happy paths must
also be what our own node-store proof builder produces for the same leaves.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from backend.domain.errors import ProofError
from backend.domain.log import merkle

VECTORS = Path(__file__).resolve().parents[3] / "vectors" / "rfc9162"

# The eight leaves of the RFC 6962 / transparency-dev reference tree that the happy paths are built on.
REFERENCE_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]


def _files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _proof(data: dict[str, Any]) -> list[bytes]:
    return [_b64(element) for element in data["proof"] or []]


def _id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def _reference_nodes() -> dict[merkle.NodeKey, bytes]:
    nodes: dict[merkle.NodeKey, bytes] = {}
    for index, data in enumerate(REFERENCE_LEAVES):
        nodes.update(merkle.nodes_created_by_append(index, merkle.leaf_hash(data), nodes.__getitem__))
    return nodes


def test_vectors_are_present() -> None:
    """Guards against an empty parametrisation silently passing (wrong path, files not committed)."""
    assert (VECTORS / "LICENSE").is_file()
    assert len(_files("inclusion")) == 98
    assert len(_files("consistency")) == 98


@pytest.mark.parametrize("path", _files("inclusion"), ids=_id)
def test_inclusion_vector(path: Path) -> None:
    data = _load(path)
    args = (_b64(data["leafHash"]), data["leafIdx"], data["treeSize"], _proof(data), _b64(data["root"]))
    if data["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)  # raises on failure


@pytest.mark.parametrize("path", _files("consistency"), ids=_id)
def test_consistency_vector(path: Path) -> None:
    data = _load(path)
    args = (data["size1"], data["size2"], _proof(data), _b64(data["root1"]), _b64(data["root2"]))
    if data["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)  # raises on failure


_INCLUSION_HAPPY = [p for p in _files("inclusion") if p.parent.name.isdigit() and p.name == "happy-path.json"]
_CONSISTENCY_HAPPY = [
    p for p in _files("consistency") if p.parent.name.isdigit() and p.name == "happy-path.json"
]


@pytest.mark.parametrize("path", _INCLUSION_HAPPY, ids=_id)
def test_node_store_reproduces_inclusion_vector(path: Path) -> None:
    data = _load(path)
    nodes = _reference_nodes()
    index, size = data["leafIdx"], data["treeSize"]
    assert merkle.leaf_hash(REFERENCE_LEAVES[index]) == _b64(data["leafHash"])
    assert merkle.root_from_nodes(size, nodes) == _b64(data["root"])
    assert merkle.inclusion_proof(index, size, nodes) == _proof(data)


@pytest.mark.parametrize("path", _CONSISTENCY_HAPPY, ids=_id)
def test_node_store_reproduces_consistency_vector(path: Path) -> None:
    data = _load(path)
    nodes = _reference_nodes()
    old_size, new_size = data["size1"], data["size2"]
    assert merkle.root_from_nodes(old_size, nodes) == _b64(data["root1"])
    assert merkle.root_from_nodes(new_size, nodes) == _b64(data["root2"])
    assert merkle.consistency_proof(old_size, new_size, nodes) == _proof(data)
