"""Embeddings on the writer's side on PostgreSQL: which embedder the memory records, storing vectors.

Plain sync SQL in the writer's transaction, as `memactor.sqlite.vectors` on a file. Vectors arrive computed
(before the command was sent); here they are checked against the memory's dimension and stored with their
record, in the same transaction (so in the same group commit). Several writer processes may store vectors
at once: each reads the embedder row ``FOR SHARE``, and a switch (`memactor.postgres.vswitch`) updates it, so
no vector is checked against an embedder that a concurrent switch is replacing. Re-embedding
(``memactor reindex``) reads the records to embed here too, on read connections. With pgvector (schema
version 4, `memactor.postgres.pgvec`), each statement that writes ``vec`` writes ``emb`` from the same bytes.
May import `memactor.errors`, `memactor.model` and psycopg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from ..errors import EmbedderMismatchError, InvalidInputError
from ..model.records import Record
from .pgvec import Emb, pgvector
from .rows import from_row, select_list
from .schema import TABLES

__all__ = [
    "count_to_embed",
    "read_embedder",
    "records_to_embed",
    "set_embedder",
    "store_vectors",
    "store_vectors_at",
]

Conn = psycopg.Connection[tuple[Any, ...]]

_REEMBED = (
    "open it with that embedder, or switch the memory to the new one with"
    " `memactor reindex TARGET --embedder SPEC --switch` (searches keep the old vectors until it is done)"
)
_NO_EMBEDDER = "vectors were sent for a memory that records no embedder; send SetEmbedder first"


def read_embedder(conn: Conn, *, lock: bool = False) -> tuple[str, int] | None:
    """The name and dimension of the embedder the memory's vectors were made with, or None if none yet.

    ``lock``: hold the rows ``FOR SHARE`` until the transaction ends (a writer about to store vectors).
    """
    rows: dict[str, str] = dict(
        conn.execute(
            "SELECT key, value FROM memactor_meta WHERE key IN ('embedder_name', 'embedder_dim')"
            + (" FOR SHARE" if lock else "")
        ).fetchall()
    )
    if "embedder_name" not in rows:
        return None
    return str(rows["embedder_name"]), int(rows["embedder_dim"])


def set_embedder(conn: Conn, name: str, dim: int, *, record: bool = True) -> None:
    """Record ``name`` and ``dim`` as the memory's embedder on first use; afterwards, check they are the same.

    Raises:
        EmbedderMismatchError: the memory records another embedder.
    """
    if record:
        # Two processes recording at once: the second waits on the key, inserts nothing, and compares.
        conn.execute(
            "INSERT INTO memactor_meta (key, value) VALUES ('embedder_name', %s), ('embedder_dim', %s)"
            " ON CONFLICT (key) DO NOTHING",
            (name, str(dim)),
        )
    stored = read_embedder(conn)
    if stored is not None and stored != (name, dim):
        raise EmbedderMismatchError(
            f"this memory's vectors were made by embedder {stored[0]!r} (dim {stored[1]}), not {name!r}"
            f" (dim {dim}); {_REEMBED}, or open it without an embedder for text search only"
        )


def _checked(conn: Conn, kind: str, ids: Sequence[str], vectors: Sequence[bytes]) -> None:
    stored = read_embedder(conn, lock=True)
    if stored is None:
        raise InvalidInputError(_NO_EMBEDDER)
    for record_id, vector in zip(ids, vectors, strict=True):
        if len(vector) != 4 * stored[1]:
            raise InvalidInputError(
                f"{kind} {record_id}: its vector has {len(vector) // 4} values; the memory's embedder"
                f" {stored[0]!r} makes {stored[1]}"
            )


def store_vectors(conn: Conn, records: Sequence[Record], vectors: Sequence[bytes]) -> None:
    """Store (or replace) one vector per record, for records the caller's transaction holds.

    Raises:
        InvalidInputError: the memory records no embedder, or a vector's length is not its dimension.
    """
    for kind in dict.fromkeys(record.KIND for record in records):
        # The last vector of an id wins (one statement may not change a row twice).
        latest = {r.id: v for r, v in zip(records, vectors, strict=True) if r.KIND == kind}
        _checked(conn, kind, list(latest), list(latest.values()))
        emb, params = with_emb(conn, list(latest.values()))
        conn.execute(
            f"INSERT INTO vectors (kind, rid, vec{emb.column}) SELECT %(kind)s, t.rid, u.vec{emb.select}"
            f" FROM unnest(%(ids)s::text[], %(vecs)s::bytea[]{emb.array}) AS u(id, vec{emb.column})"
            f" JOIN {TABLES[kind].name} AS t ON t.id = u.id"
            f" ON CONFLICT (kind, rid) DO UPDATE SET vec = excluded.vec{emb.update}",
            {"kind": kind, "ids": list(latest), "vecs": list(latest.values())} | params,
        )


def store_vectors_at(
    conn: Conn, kind: str, ids: Sequence[str], versions: Sequence[int], vectors: Sequence[bytes]
) -> list[str]:
    """Store one vector per id, for the records still at the given version; return the ids stored.

    Raises:
        InvalidInputError: the memory records no embedder, or a vector's length is not its dimension.
    """
    _checked(conn, kind, ids, vectors)
    return upsert_at(conn, "vectors", kind, ids, versions, vectors)


def upsert_at(
    conn: Conn, table: str, kind: str, ids: Sequence[str], versions: Sequence[int], vectors: Sequence[bytes]
) -> list[str]:
    """Upsert into ``table`` (``vectors`` or ``vector_stage``) the vectors of the records still at their version."""
    latest = {i: (n, v) for i, n, v in zip(ids, versions, vectors, strict=True)}
    emb, params = with_emb(conn, [v for _, v in latest.values()])
    rows = conn.execute(
        f"INSERT INTO {table} (kind, rid, vec{emb.column}) SELECT %(kind)s, t.rid, u.vec{emb.select}"
        f" FROM unnest(%(ids)s::text[], %(versions)s::bigint[], %(vecs)s::bytea[]{emb.array})"
        f" AS u(id, version, vec{emb.column})"
        f" JOIN {TABLES[kind].name} AS t ON t.id = u.id AND t.version = u.version"
        f" ON CONFLICT (kind, rid) DO UPDATE SET vec = excluded.vec{emb.update} RETURNING rid",
        {
            "kind": kind,
            "ids": list(latest),
            "versions": [n for n, _ in latest.values()],
            "vecs": [v for _, v in latest.values()],
        }
        | params,
    ).fetchall()
    if not rows:
        return []
    stored = {
        record_id
        for (record_id,) in conn.execute(
            f"SELECT id FROM {TABLES[kind].name} WHERE rid = ANY(%s)", ([rid for (rid,) in rows],)
        )
    }
    return [record_id for record_id in ids if record_id in stored]


@dataclass(frozen=True, slots=True)
class EmbSql:
    """The pieces of a vector upsert that write ``emb`` as well (all empty when the memory has no ``emb``)."""

    column: str = ""
    select: str = ""
    array: str = ""
    update: str = ""


def with_emb(conn: Conn, vectors: Sequence[bytes]) -> tuple[EmbSql, dict[str, object]]:
    """The SQL pieces and parameters that keep ``emb`` equal to ``vec`` in an upsert of ``vectors``."""
    extension = pgvector(conn)
    if extension is None:
        return EmbSql(), {}
    sql = EmbSql(", emb", ", u.emb", f", %(embs)b::{extension.type}[]", ", emb = excluded.emb")
    return sql, {"embs": [Emb(vector) for vector in vectors]}


def records_to_embed(conn: Conn, kind: str, after: str, limit: int, *, every: bool = False) -> list[Record]:
    """The next ``limit`` records of ``kind`` by id after ``after``: those without a vector, or ``every`` one."""
    missing = "" if every else " AND NOT EXISTS (SELECT 1 FROM vectors AS v WHERE v.kind = %(kind)s AND v.rid = t.rid)"
    rows = conn.execute(
        f"SELECT {select_list(kind, 't')} FROM {TABLES[kind].name} AS t WHERE t.id > %(after)s{missing}"
        " ORDER BY t.id LIMIT %(limit)s",
        {"after": after, "limit": limit} | ({} if every else {"kind": kind}),
    ).fetchall()
    return [from_row(kind, row) for row in rows]


def count_to_embed(conn: Conn, kind: str, *, every: bool = False) -> int:
    """How many records of ``kind`` have no vector (or, ``every``, how many there are)."""
    missing = (
        "" if every else " WHERE NOT EXISTS (SELECT 1 FROM vectors AS v WHERE v.kind = %(kind)s AND v.rid = t.rid)"
    )
    row = conn.execute(
        f"SELECT count(*) FROM {TABLES[kind].name} AS t{missing}", {} if every else {"kind": kind}
    ).fetchone()
    return 0 if row is None else int(row[0])
