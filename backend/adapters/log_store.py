"""The transparency log's storage: leaves, a sparse set of perfect subtree nodes and the head row.

Appending is incremental: each leaf adds its row and, when it completes perfect subtrees, the
ones at stored levels, reading only the left siblings it needs (one batched query per batch).

Only every :data:`NODE_LEVEL_STRIDE`-th level is stored: level 0 is the ``leaf_hash`` column of
``log_leaves`` and ``log_nodes`` holds levels ``STRIDE, 2·STRIDE, …``. A node at any other level
is recomputed from at most ``2**(STRIDE - 1)`` stored nodes just below it, so roots and proofs at
any tree size still read O(log n) rows in one batched query, while an append writes about 1.07
rows per leaf instead of 3 (a leaf row, its level-0 node and on average one parent). Bulk appends
go to the driver directly (``COPY`` on PostgreSQL, ``executemany`` on SQLite): the ORM's per-row
bookkeeping cost more than the database's work.

With queued sequencing (``CARBON_SEQUENCING=queued``, PostgreSQL) recording transactions only
:meth:`SqlLogStore.enqueue` their leaves into ``log_queue``; :meth:`SqlLogStore.sequence` (the elected
sequencer) appends them in queue order under the head lock, and every other append first appends
whatever is queued (:meth:`SqlLogStore.lock_head`), so a record never precedes one it follows. The
owners of the records learn their indices through the hooks of :func:`on_sequenced`: this module
knows leaves, not what they record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from backend.adapters.database import SEQUENCING_INFO
from backend.adapters.orm import LogHeadRow, LogLeafRow, LogNodeRow, LogQueueRow
from backend.domain.log import merkle, tiles
from backend.domain.log.merkle import NodeKey

NODE_QUERY_CHUNK = 400
"""Keys per IN (...) list: keeps statements well under SQLite's and PostgreSQL's limits."""
NODE_QUERY_CONDITIONS = 64
"""Ranges OR-ed into one query: a proof needs at most ~64 levels."""
NODE_QUERY_UNION = 16
"""Queries sent as one statement (UNION ALL): a proof's reads in one round trip."""

NODE_LEVEL_STRIDE = 4
"""Levels stored in ``log_nodes`` are the positive multiples of this. Part of the storage format:
changing it needs a migration that rebuilds ``log_nodes``. 4 keeps reads at no more than 8 stored
nodes per proof element, and the rows written per leaf at 1 + 1/15."""

BULK_INSERT_MIN_ROWS = 64
"""From this many leaves an append goes to the driver's bulk path; fewer take the plain statement."""

LEAF_HASHES_SQL = "SELECT 0, idx, leaf_hash FROM log_leaves WHERE idx IN ({})"
NODES_SQL = "SELECT level, idx, hash FROM log_nodes WHERE {}"
"""Read statements, completed with parameter marks."""

_LEAF_COLUMNS = ("idx", "kind", "record_id", "leaf", "leaf_hash", "created_at")
_NODE_COLUMNS = ("level", "idx", "hash")
_QUEUE_COLUMNS = ("kind", "record_id", "leaf")

SEQUENCE_BATCH = 10_000
"""Queued leaves appended per statement batch: one COPY, one batched node read."""

TAKE_QUEUED_SQL = (
    "DELETE FROM log_queue WHERE id IN (SELECT id FROM log_queue ORDER BY id LIMIT {limit}) "
    "RETURNING id, kind, record_id, leaf"
)
"""Takes the oldest queued leaves in one statement (one snapshot: a leaf committed meanwhile stays
queued for the next batch). Runs only under the head lock, so no two takers meet."""


@dataclass(frozen=True)
class Sequenced:
    kind: str
    record_id: str
    index: int


SequencedHook = Callable[[Session, list[Sequenced]], None]
_SEQUENCED_HOOKS: list[SequencedHook] = []


def on_sequenced(hook: SequencedHook) -> None:
    """Registers ``hook``, called in the sequencing transaction with the leaves just appended from
    the queue (the services set their records' ``leaf_index`` there); registering twice is a no-op."""
    if hook not in _SEQUENCED_HOOKS:
        _SEQUENCED_HOOKS.append(hook)


@dataclass(frozen=True)
class PendingLeaf:
    kind: str
    record_id: str
    leaf: bytes


def _check_lengths(pending: Sequence[PendingLeaf]) -> None:
    too_long = [item.record_id for item in pending if len(item.leaf) > tiles.MAX_ENTRY_BYTES]
    if too_long:  # an entry bundle could not serve it (a 16-bit length); records must stay small
        raise ValueError(f"leaves over {tiles.MAX_ENTRY_BYTES} bytes: {', '.join(too_long)}")


def left_siblings_for_batch(start: int, count: int) -> list[NodeKey]:
    """Nodes read when ``count`` leaves are appended to a tree of ``start``: the complete left
    siblings (at levels where ``start`` has a bit set) whose right sibling the batch completes."""
    end = start + count
    return [
        (level, (start >> level) - 1)
        for level in range(start.bit_length())
        if (start >> level) & 1 and ((start >> level) + 1) << level <= end
    ]


def is_stored_level(level: int) -> bool:
    return level % NODE_LEVEL_STRIDE == 0


def stored_keys_for(key: NodeKey) -> list[NodeKey]:
    """The stored nodes that node ``key`` is recomputed from (itself when its level is stored)."""
    level, index = key
    below = level % NODE_LEVEL_STRIDE
    width = 1 << below
    return [(level - below, index * width + offset) for offset in range(width)]


def _runs(keys: list[NodeKey]) -> list[tuple[int, int, int]]:
    """Sorted keys as runs of consecutive indices at one level: (level, first, last)."""
    runs: list[tuple[int, int, int]] = []
    for level, idx in keys:
        if runs and runs[-1][0] == level and runs[-1][2] == idx - 1:
            runs[-1] = (level, runs[-1][1], idx)
        else:
            runs.append((level, idx, idx))
    return runs


def _fold(level_hashes: list[bytes]) -> bytes:
    """The root of a perfect subtree from its nodes at one level, left to right."""
    while len(level_hashes) > 1:
        level_hashes = [
            merkle.node_hash(level_hashes[i], level_hashes[i + 1]) for i in range(0, len(level_hashes), 2)
        ]
    return level_hashes[0]


class SqlLogStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    @property
    def queued(self) -> bool:
        """Whether recording transactions queue their leaves (``CARBON_SEQUENCING=queued``)."""
        return self.session.info.get(SEQUENCING_INFO) == "queued"

    def _lock_head_row(self) -> int:
        stmt = select(LogHeadRow.size).where(LogHeadRow.id == 1)
        if self._dialect != "sqlite":
            stmt = stmt.with_for_update()
        return int(self.session.execute(stmt).scalar_one())

    def lock_head(self) -> int:
        """Locks the head row for this transaction and returns the current tree size.

        With queued sequencing it first appends every leaf queued so far (committed ones, and this
        transaction's own), so what the caller appends next follows them, and every record it
        reads afterwards that was queued has its ``leaf_index``."""
        size = self._lock_head_row()
        if self.queued:
            while True:
                appended = self._sequence_locked(size, SEQUENCE_BATCH, datetime.now(UTC))
                size += appended
                if appended < SEQUENCE_BATCH:
                    break
        return size

    def sequence(self, limit: int, now: datetime) -> int:
        """Appends up to ``limit`` queued leaves in queue order (the sequencer's one batch, in the
        caller's transaction); the number appended. Two callers at once wait on the head lock, and
        the second takes only what the first left queued. An empty queue takes no lock."""
        if self.session.execute(select(LogQueueRow.id).limit(1)).first() is None:
            return 0
        return self._sequence_locked(self._lock_head_row(), limit, now)

    def _sequence_locked(self, start: int, limit: int, now: datetime) -> int:
        connection = self.session.connection()
        taken = connection.exec_driver_sql(TAKE_QUEUED_SQL.format(limit=int(limit))).fetchall()
        if not taken:
            return 0
        if not _SEQUENCED_HOOKS:
            raise RuntimeError("queued leaves but no owner registered to receive their indices")
        taken = sorted(taken, key=lambda row: int(row[0]))
        pending = [PendingLeaf(str(kind), str(record_id), bytes(leaf)) for _, kind, record_id, leaf in taken]
        indices = self._append_at(start, pending, now)
        done = [
            Sequenced(item.kind, item.record_id, index) for item, index in zip(pending, indices, strict=True)
        ]
        for hook in _SEQUENCED_HOOKS:
            hook(self.session, done)
        return len(done)

    def enqueue(self, pending: Sequence[PendingLeaf]) -> None:
        """Queues leaves for the sequencer, in order, without touching the head row."""
        _check_lengths(pending)  # refused now, not when the sequencer meets it
        rows = [(item.kind, item.record_id, item.leaf) for item in pending]
        self._insert(LogQueueRow.__table__, _QUEUE_COLUMNS, rows, bulk=len(rows) >= BULK_INSERT_MIN_ROWS)

    def queue_length(self) -> int:
        return int(self.session.execute(select(func.count()).select_from(LogQueueRow)).scalar_one())

    def size(self) -> int:
        return int(self.session.execute(select(LogHeadRow.size).where(LogHeadRow.id == 1)).scalar_one())

    def append(self, pending: Sequence[PendingLeaf], now: datetime) -> list[int]:
        """Appends leaves in order; the caller's transaction must hold the head lock."""
        if not pending:
            return []
        _check_lengths(pending)
        return self._append_at(self.lock_head(), pending, now)

    def _append_at(self, start: int, pending: Sequence[PendingLeaf], now: datetime) -> list[int]:
        """Appends leaves to a tree of ``start`` whose head this transaction has locked."""
        known = self.get_nodes(left_siblings_for_batch(start, len(pending)))
        bulk = len(pending) >= BULK_INSERT_MIN_ROWS
        created_at = self._driver_value(LogLeafRow.__table__, "created_at", now) if bulk else now
        hashes = [merkle.leaf_hash(item.leaf) for item in pending]
        leaf_rows = [
            (start + offset, item.kind, item.record_id, item.leaf, digest, created_at)
            for offset, (item, digest) in enumerate(zip(pending, hashes, strict=True))
        ]
        node_rows = [
            (level, index, digest)
            for level, index, digest in merkle.nodes_created_by_appends(start, hashes, known.__getitem__)
            if is_stored_level(level)
        ]
        self._insert(LogLeafRow.__table__, _LEAF_COLUMNS, leaf_rows, bulk=bulk)
        self._insert(LogNodeRow.__table__, _NODE_COLUMNS, node_rows, bulk=bulk)
        self.session.execute(update(LogHeadRow).where(LogHeadRow.id == 1).values(size=start + len(pending)))
        return list(range(start, start + len(pending)))

    def _driver_value(self, table: Any, column: str, value: Any) -> Any:
        """``value`` as SQLAlchemy would hand it to the driver (e.g. SQLite's datetime text)."""
        dialect = self.session.get_bind().dialect
        processor = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
        return value if processor is None else processor(value)

    def _insert(
        self, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]], *, bulk: bool
    ) -> None:
        """Inserts rows; on the bulk path every value must already be what the driver takes
        (bytes, ints and strings are; see :meth:`_driver_value` for the rest)."""
        if not rows:
            return
        assert isinstance(table, Table)
        if not bulk:
            self.session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
            return
        connection = self.session.connection()
        names = ", ".join(columns)
        if connection.dialect.name == "postgresql":
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)  # noqa: S608

    def _stored(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        """Stored nodes by key: level 0 from the leaves' hashes, the others from ``log_nodes``.

        One round trip for a proof's nodes. The statement is written out here rather than built
        with SQLAlchemy's expression language, whose per-statement bookkeeping cost three times
        the database's work on a proof; its text depends only on how many ranges it asks for, so
        the drivers reuse their prepared statements (sqlite3's cache, psycopg's auto-prepare).
        """
        wanted = sorted(set(keys))
        mark = "?" if self.session.get_bind().dialect.paramstyle == "qmark" else "%s"
        leaves = [idx for level, idx in wanted if level == 0]
        parts: list[tuple[str, list[int]]] = []
        for i in range(0, len(leaves), NODE_QUERY_CHUNK):
            chunk = leaves[i : i + NODE_QUERY_CHUNK]
            parts.append((LEAF_HASHES_SQL.format(",".join([mark] * len(chunk))), chunk))
        # Each proof element needs a run of consecutive stored nodes at one level: one range each,
        # answered from the primary key index (SQLite does not use it for a row-value IN).
        runs = _runs([key for key in wanted if key[0] > 0])
        for i in range(0, len(runs), NODE_QUERY_CONDITIONS):
            chunk_runs = runs[i : i + NODE_QUERY_CONDITIONS]
            condition = " OR ".join([f"(level = {mark} AND idx BETWEEN {mark} AND {mark})"] * len(chunk_runs))
            parts.append((NODES_SQL.format(condition), [value for run in chunk_runs for value in run]))
        found: dict[NodeKey, bytes] = {}
        connection = self.session.connection()
        for i in range(0, len(parts), NODE_QUERY_UNION):
            group = parts[i : i + NODE_QUERY_UNION]
            statement = " UNION ALL ".join(sql for sql, _ in group)
            values = tuple(value for _, chunk in group for value in chunk)
            for level, idx, digest in connection.exec_driver_sql(statement, values).fetchall():
                found[(int(level), int(idx))] = bytes(digest)
        missing = [k for k in wanted if k not in found]
        if missing:
            raise LookupError(f"log nodes missing from storage: {missing[:5]}")
        return found

    def get_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        """Perfect subtree hashes at any level, each read or recomputed from stored nodes."""
        wanted = sorted(set(keys))
        plan = {key: stored_keys_for(key) for key in wanted}
        stored = self._stored(k for parts in plan.values() for k in parts)
        return {key: _fold([stored[k] for k in parts]) for key, parts in plan.items()}

    def root(self, size: int) -> bytes:
        if size == 0:
            return merkle.EMPTY_ROOT
        return merkle.root_from_nodes(size, self.get_nodes(merkle.root_keys(size)))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(index, size, self.get_nodes(merkle.inclusion_proof_keys(index, size)))

    def inclusion_proofs(self, start: int, stop: int, size: int) -> list[list[bytes]]:
        """Proofs of leaves ``start..stop-1`` at ``size``, from one batched read."""
        keys = {k for i in range(start, stop) for k in merkle.inclusion_proof_keys(i, size)}
        nodes = self.get_nodes(keys)
        return [merkle.inclusion_proof(i, size, nodes) for i in range(start, stop)]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        nodes = self.get_nodes(merkle.consistency_proof_keys(old_size, new_size))
        return merkle.consistency_proof(old_size, new_size, nodes)

    def leaf(self, index: int) -> LogLeafRow | None:
        return self.session.get(LogLeafRow, index)

    def leaves(self, start: int, limit: int) -> list[LogLeafRow]:
        stmt = select(LogLeafRow).where(LogLeafRow.idx >= start).order_by(LogLeafRow.idx).limit(limit)
        return list(self.session.execute(stmt).scalars())
