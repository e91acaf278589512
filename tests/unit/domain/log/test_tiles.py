"""tlog-tiles paths and coverage against the specification's examples and a brute-force count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.domain.errors import InvalidInput
from backend.domain.log import tiles

EXAMPLES = json.loads((Path(__file__).parents[3] / "vectors" / "c2sp" / "examples.json").read_text())["tiles"]


def test_index_encoding_is_the_specs() -> None:
    for index, encoded in EXAMPLES["index_encoding"]:
        assert tiles.encode_index(index) == encoded
        assert tiles.parse_tile_path("0", encoded).index == index
    assert tiles.encode_index(0) == "000"
    assert tiles.encode_index(1000) == "x001/000"


def test_the_tiles_of_a_tree_of_70000_are_the_specs() -> None:
    refs = tiles.tiles_for_size(70_000)
    want = EXAMPLES["tree_size_70000"]
    level0 = [r for r in refs if r.level == 0]
    assert sum(not r.partial for r in level0) == want["full_level0"]
    assert [r.width for r in level0 if r.partial] == [want["partial_level0_width"]]
    assert [r.width for r in refs if r.level == 1] == [256, want["partial_level1_width"]]
    assert [r.width for r in refs if r.level == 2] == [want["partial_level2_width"]]
    assert [r.path() for r in tiles.tiles_for_size(256)] == EXAMPLES["tree_size_256"]


@pytest.mark.parametrize("size", [1, 255, 256, 257, 65_535, 65_536, 70_000, 16_777_217])
def test_servable_tiles_are_exactly_those_the_size_completes(size: int) -> None:
    refs = tiles.tiles_for_size(size)
    last = {ref.level: ref for ref in refs}
    for ref in refs:
        assert tiles.servable(size, ref)
        if ref == last[ref.level]:
            assert not tiles.servable(size, tiles.TileRef(ref.level, ref.index + 1, 1))  # beyond the tree
        if ref.partial:
            assert not tiles.servable(size, tiles.TileRef(ref.level, ref.index, 256))  # not full yet
            if ref.width < 255:
                assert not tiles.servable(size, tiles.TileRef(ref.level, ref.index, ref.width + 1))
    # Brute force: the hashes at each level are the complete subtrees of 256**level leaves.
    for level in range(3):
        assert sum(r.width for r in refs if r.level == level) == size // 256**level


@pytest.mark.parametrize(
    ("level", "rest", "field"),
    [
        ("64", "000", "level"),
        ("01", "000", "level"),
        ("0", "1", "index"),
        ("0", "001/000", "index"),
        ("0", "x000/001", "index"),
        ("0", "000.p/256", "width"),
        ("0", "000.p/0", "width"),
        ("0", "000.p/07", "width"),
        ("0", "x1/000", "index"),
        ("¹", "000", "level"),
        ("0", "000.p/¹", "width"),
        ("0", "x٣٣٣/000", "index"),
        ("0", "٠٠٠", "index"),
        ("1\n", "000", "level"),
    ],
)
def test_bad_paths_name_the_part(level: str, rest: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        tiles.parse_tile_path(level, rest)
    assert caught.value.field == field


def test_entry_bundles_round_trip_and_refuse_truncation() -> None:
    entries = [b"", b"a", bytes(300), b"x" * 65_535]
    bundle = tiles.entry_bundle(entries)
    assert tiles.split_entry_bundle(bundle) == entries
    with pytest.raises(ValueError, match="inside an entry"):
        tiles.split_entry_bundle(bundle[:-1])
    with pytest.raises(ValueError, match="uint16"):
        tiles.entry_bundle([bytes(65_536)])
