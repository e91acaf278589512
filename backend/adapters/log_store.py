"""The transparency log's storage: leaves, perfect subtree nodes and the head row.

Appending is incremental: each leaf adds its level-0 node and every parent it completes, reading
only the left siblings it needs (one batched query). Roots and proofs at any tree size read the
O(log n) perfect nodes that cover the requested ranges, again in one batched query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session

from backend.adapters.orm import LogHeadRow, LogLeafRow, LogNodeRow
from backend.domain import merkle
from backend.domain.merkle import NodeKey

NODE_QUERY_CHUNK = 400
"""Keys per IN (...) list: keeps statements well under SQLite's and PostgreSQL's limits."""
NODE_QUERY_CONDITIONS = 64
"""Per-level conditions OR-ed into one query: a proof needs at most ~64 levels."""


@dataclass(frozen=True)
class PendingLeaf:
    kind: str
    record_id: str
    leaf: bytes


def left_siblings_for_append(index: int) -> list[NodeKey]:
    """Nodes read when leaf ``index`` is appended: one left sibling per parent it completes."""
    keys = []
    level = 0
    while (index >> level) & 1:
        keys.append((level, (index >> level) - 1))
        level += 1
    return keys


class SqlLogStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_head(self) -> int:
        """Locks the head row for this transaction and returns the current tree size."""
        stmt = select(LogHeadRow.size).where(LogHeadRow.id == 1)
        if self.session.get_bind().dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        return int(self.session.execute(stmt).scalar_one())

    def size(self) -> int:
        return int(self.session.execute(select(LogHeadRow.size).where(LogHeadRow.id == 1)).scalar_one())

    def append(self, pending: Sequence[PendingLeaf], now: datetime) -> list[int]:
        """Appends leaves in order; the caller's transaction must hold the head lock."""
        if not pending:
            return []
        start = self.lock_head()
        needed = {key for i in range(start, start + len(pending)) for key in left_siblings_for_append(i)}
        known = self.get_nodes(key for key in needed if key[1] < (start >> key[0]))
        leaf_rows = []
        node_rows = []
        for offset, item in enumerate(pending):
            index = start + offset
            leaf_hash = merkle.leaf_hash(item.leaf)
            leaf_rows.append(
                {
                    "idx": index,
                    "kind": item.kind,
                    "record_id": item.record_id,
                    "leaf": item.leaf,
                    "leaf_hash": leaf_hash,
                    "created_at": now,
                }
            )
            for key, digest in merkle.nodes_created_by_append(index, leaf_hash, known.__getitem__):
                known[key] = digest
                node_rows.append({"level": key[0], "idx": key[1], "hash": digest})
        self.session.execute(insert(LogLeafRow), leaf_rows)
        self.session.execute(insert(LogNodeRow), node_rows)
        self.session.execute(update(LogHeadRow).where(LogHeadRow.id == 1).values(size=start + len(pending)))
        return list(range(start, start + len(pending)))

    def get_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        wanted = sorted(set(keys))
        by_level: dict[int, list[int]] = {}
        for level, idx in wanted:
            by_level.setdefault(level, []).append(idx)
        # One "level = ? AND idx IN (...)" per level: both databases answer it from the primary key
        # index, which SQLite does not do for a row-value IN over (level, idx).
        conditions = [
            and_(LogNodeRow.level == level, LogNodeRow.idx.in_(indices[i : i + NODE_QUERY_CHUNK]))
            for level, indices in by_level.items()
            for i in range(0, len(indices), NODE_QUERY_CHUNK)
        ]
        found: dict[NodeKey, bytes] = {}
        for i in range(0, len(conditions), NODE_QUERY_CONDITIONS):
            stmt = select(LogNodeRow.level, LogNodeRow.idx, LogNodeRow.hash).where(
                or_(*conditions[i : i + NODE_QUERY_CONDITIONS])
            )
            for level, idx, digest in self.session.execute(stmt):
                found[(int(level), int(idx))] = bytes(digest)
        missing = [k for k in wanted if k not in found]
        if missing:
            raise LookupError(f"log nodes missing from storage: {missing[:5]}")
        return found

    def root(self, size: int) -> bytes:
        if size == 0:
            return merkle.EMPTY_ROOT
        return merkle.root_from_nodes(size, self.get_nodes(merkle.root_keys(size)))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(index, size, self.get_nodes(merkle.inclusion_proof_keys(index, size)))

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        nodes = self.get_nodes(merkle.consistency_proof_keys(old_size, new_size))
        return merkle.consistency_proof(old_size, new_size, nodes)

    def leaf(self, index: int) -> LogLeafRow | None:
        return self.session.get(LogLeafRow, index)

    def leaves(self, start: int, limit: int) -> list[LogLeafRow]:
        stmt = select(LogLeafRow).where(LogLeafRow.idx >= start).order_by(LogLeafRow.idx).limit(limit)
        return list(self.session.execute(stmt).scalars())
