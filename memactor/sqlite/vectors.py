"""Embeddings on the writer's side: which embedder the file records, and storing a record's vector.

Plain sync SQL inside the writer's transaction. Vectors arrive computed (outside any transaction, before
the command was sent); here they are only checked against the file's dimension and stored with the record.
Re-embedding (``memactor reindex``) reads the records to embed here too, and stores their vectors only for
records still at the version that was embedded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..errors import EmbedderMismatchError, InvalidInputError
from ..model.records import Record
from .rows import from_row, select_list
from .schema import TABLES

__all__ = ["count_to_embed", "read_embedder", "records_to_embed", "set_embedder", "store_vectors", "store_vectors_at"]

_REEMBED = (
    "open it with that embedder, or switch the file to the new one with"
    " `memactor reindex PATH --embedder SPEC --switch` (searches keep the old vectors until it is done)"
)


def read_embedder(conn: sqlite3.Connection) -> tuple[str, int] | None:
    """The name and dimension of the embedder the file's vectors were made with, or None if none yet."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('embedder_name', 'embedder_dim')"))
    if "embedder_name" not in rows:
        return None
    return rows["embedder_name"], int(rows["embedder_dim"])


def set_embedder(conn: sqlite3.Connection, name: str, dim: int, *, record: bool = True) -> None:
    """Record ``name`` and ``dim`` as the file's embedder on first use; afterwards, check they are the same.

    Args:
        conn: The writer's connection, in its transaction.
        name: The embedder's name.
        dim: Its dimension.
        record: Record them if the file records none yet (False: only check).

    Raises:
        EmbedderMismatchError: the file records another embedder.
    """
    stored = read_embedder(conn)
    if stored is None:
        if not record:
            return
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)", [("embedder_name", name), ("embedder_dim", str(dim))]
        )
        return
    if stored != (name, dim):
        raise EmbedderMismatchError(
            f"this memory file's vectors were made by embedder {stored[0]!r} (dim {stored[1]}), not {name!r}"
            f" (dim {dim}); {_REEMBED}, or open it without an embedder for text search only"
        )


def store_vectors(conn: sqlite3.Connection, records: Sequence[Record], vectors: Sequence[bytes]) -> None:
    """Store (or replace) one vector per record, for records the caller's transaction holds.

    Raises:
        InvalidInputError: the file records no embedder, or a vector's length is not its dimension.
    """
    stored = read_embedder(conn)
    if stored is None:
        raise InvalidInputError("vectors were sent for a memory file that records no embedder; send SetEmbedder first")
    for record, vector in zip(records, vectors, strict=True):
        if len(vector) != 4 * stored[1]:
            raise InvalidInputError(
                f"{record.KIND} {record.id}: its vector has {len(vector) // 4} values; the file's embedder"
                f" {stored[0]!r} makes {stored[1]}"
            )
        conn.execute(
            f"INSERT INTO vectors (kind, rid, vec) SELECT :kind, rowid, :vec FROM {TABLES[record.KIND].name}"
            " WHERE id = :id ON CONFLICT (kind, rid) DO UPDATE SET vec = excluded.vec",
            {"kind": record.KIND, "vec": vector, "id": record.id},
        )


def store_vectors_at(
    conn: sqlite3.Connection, kind: str, ids: Sequence[str], versions: Sequence[int], vectors: Sequence[bytes]
) -> list[str]:
    """Store one vector per id, for the records still at the given version; return the ids stored.

    Raises:
        InvalidInputError: the file records no embedder, or a vector's length is not its dimension.
    """
    stored = read_embedder(conn)
    if stored is None:
        raise InvalidInputError("vectors were sent for a memory file that records no embedder; send SetEmbedder first")
    done = []
    for record_id, version, vector in zip(ids, versions, vectors, strict=True):
        if len(vector) != 4 * stored[1]:
            raise InvalidInputError(
                f"{kind} {record_id}: its vector has {len(vector) // 4} values; the file's embedder"
                f" {stored[0]!r} makes {stored[1]}"
            )
        cursor = conn.execute(
            f"INSERT INTO vectors (kind, rid, vec) SELECT :kind, rowid, :vec FROM {TABLES[kind].name}"
            " WHERE id = :id AND version = :version ON CONFLICT (kind, rid) DO UPDATE SET vec = excluded.vec",
            {"kind": kind, "vec": vector, "id": record_id, "version": version},
        )
        if cursor.rowcount:
            done.append(record_id)
    return done


def records_to_embed(
    conn: sqlite3.Connection, kind: str, after: str, limit: int, *, every: bool = False
) -> list[Record]:
    """The next ``limit`` records of ``kind`` by id after ``after``: those without a vector, or ``every`` one."""
    table = TABLES[kind].name
    missing = "" if every else " AND t.rowid NOT IN (SELECT rid FROM vectors WHERE kind = :kind)"
    rows = conn.execute(
        f"SELECT {select_list(kind, 't')} FROM {table} t WHERE t.id > :after{missing} ORDER BY t.id LIMIT :limit",
        {"kind": kind, "after": after, "limit": limit},
    ).fetchall()
    return [from_row(kind, row) for row in rows]


def count_to_embed(conn: sqlite3.Connection, kind: str, *, every: bool = False) -> int:
    """How many records of ``kind`` have no vector (or, ``every``, how many there are)."""
    table = TABLES[kind].name
    missing = "" if every else " WHERE rowid NOT IN (SELECT rid FROM vectors WHERE kind = :kind)"
    return int(conn.execute(f"SELECT count(*) FROM {table}{missing}", {"kind": kind}).fetchone()[0])
