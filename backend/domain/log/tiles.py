"""C2SP tlog-tiles: tile paths, which tiles a tree size has, and entry bundles.

A tile at level ``L``, index ``N`` holds up to 256 consecutive Merkle tree hashes at tree level
``8·L``: hash ``i`` is the root of leaves ``[(N·256 + i)·256^L, (N·256 + i + 1)·256^L)``. A *full*
tile has 256 hashes and never changes; a *partial* one (``.p/<W>``) has the ``W < 256`` hashes a
checkpoint's size completes at that level. The index is written in 3-digit groups, all but the last
prefixed with ``x`` (1234067 → ``x001/x234/067``). Pure, no I/O.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from backend.domain.errors import InvalidInput

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile (the specification fixes the height at 8)."""
MAX_TILE_LEVEL = 63
MAX_ENTRY_BYTES = 0xFFFF
"""An entry bundle prefixes each entry with a big-endian uint16 length."""

ENTRIES = "entries"
_GROUP_RE = re.compile(r"^x[0-9]{3}$")
_DECIMAL_RE = re.compile(r"[0-9]+")
"""ASCII digits only: ``str.isdigit`` and ``\\d`` also take "¹" or "٣", which ``int`` refuses or reads."""


@dataclass(frozen=True)
class TileRef:
    level: int | None
    """Tile level, or None for an entry bundle."""
    index: int
    width: int
    """256 for a full tile, 1..255 for a partial one."""

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def node_level(self) -> int:
        """Tree level of the hashes in this tile (entry bundles: the leaves, level 0)."""
        return TILE_HEIGHT * (self.level or 0)

    def path(self) -> str:
        level = ENTRIES if self.level is None else str(self.level)
        suffix = f".p/{self.width}" if self.partial else ""
        return f"tile/{level}/{encode_index(self.index)}{suffix}"


def encode_index(index: int) -> str:
    if index < 0:
        raise ValueError("a tile index is non-negative")
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def parse_tile_path(level_text: str, rest: str) -> TileRef:
    """``tile/<level_text>/<rest>`` → a tile; a precise reason (as :class:`InvalidInput`) otherwise."""
    if level_text == ENTRIES:
        level: int | None = None
    elif _DECIMAL_RE.fullmatch(level_text) and (level_text == "0" or not level_text.startswith("0")):
        level = int(level_text)
        if level > MAX_TILE_LEVEL:
            raise InvalidInput("level", f"tile levels go from 0 to {MAX_TILE_LEVEL}")
    else:
        raise InvalidInput("level", "a tile level is a decimal integer without leading zeroes, or 'entries'")
    parts = rest.split("/")
    width = TILE_WIDTH
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        width_text = parts[-1]
        if (
            not _DECIMAL_RE.fullmatch(width_text)
            or width_text.startswith("0")
            or not 1 <= int(width_text) < TILE_WIDTH
        ):
            raise InvalidInput("width", "a partial tile's width is 1 to 255, without leading zeroes")
        width = int(width_text)
        parts = [*parts[:-2], parts[-2][:-2]]
    if not parts or len(parts) > 7:
        raise InvalidInput("index", "a tile index has 1 to 7 groups of three digits")
    if not all(_GROUP_RE.match(p) for p in parts[:-1]) or not re.match(r"^[0-9]{3}$", parts[-1]):
        raise InvalidInput("index", "a tile index is 3-digit groups, all but the last prefixed with 'x'")
    index = int("".join(p.removeprefix("x") for p in parts))
    if encode_index(index) != "/".join(parts):
        raise InvalidInput("index", "a tile index has no leading zero groups")
    return TileRef(level, index, width)


def nodes_at_level(tree_size: int, node_level: int) -> int:
    """Complete nodes (perfect subtrees) at ``node_level`` in a tree of ``tree_size`` leaves."""
    return tree_size >> node_level


def available_width(tree_size: int, tile: TileRef) -> int:
    """How many of the tile's hashes a tree of ``tree_size`` has (0 when none, 256 when full)."""
    count = nodes_at_level(tree_size, tile.node_level) - tile.index * TILE_WIDTH
    return max(0, min(TILE_WIDTH, count))


def servable(tree_size: int, tile: TileRef) -> bool:
    """A full tile once the tree has all its hashes; a partial one of width ``W`` whenever the tree
    has at least ``W`` (its content is then fixed: a prefix of the full tile)."""
    available = available_width(tree_size, tile)
    return available == TILE_WIDTH if not tile.partial else 0 < tile.width <= available


def tile_node_keys(tile: TileRef) -> list[tuple[int, int]]:
    """The (level, index) of each hash in the tile, in order."""
    first = tile.index * TILE_WIDTH
    return [(tile.node_level, first + i) for i in range(tile.width)]


def entry_bundle(entries: list[bytes]) -> bytes:
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise ValueError(f"an entry of {len(entry)} bytes does not fit a bundle's uint16 length")
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def split_entry_bundle(data: bytes) -> list[bytes]:
    entries, offset = [], 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise ValueError("an entry bundle ends inside a length prefix")
        (length,) = struct.unpack_from(">H", data, offset)
        offset += 2
        if offset + length > len(data):
            raise ValueError("an entry bundle ends inside an entry")
        entries.append(data[offset : offset + length])
        offset += length
    return entries


def tiles_for_size(tree_size: int) -> list[TileRef]:
    """Every hash tile (full and the partial ones) a checkpoint of ``tree_size`` needs."""
    refs = []
    level = 0
    while level <= MAX_TILE_LEVEL:
        count = nodes_at_level(tree_size, TILE_HEIGHT * level)
        if count == 0:
            break
        full, rest = divmod(count, TILE_WIDTH)
        refs += [TileRef(level, n, TILE_WIDTH) for n in range(full)]
        if rest:
            refs.append(TileRef(level, full, rest))
        level += 1
    return refs
