"""Switching a PostgreSQL memory to another embedder: vectors staged beside the live ones, swapped in at once.

As on SQLite (`memactor.sqlite.vswitch`): ``memactor reindex --switch`` sends the new embedder's vectors in
batches (`StageVectors`) to ``vector_stage``, which searches never read; `SwapEmbedder` replaces the live
vectors with the staged ones and records the new embedder in the same transaction, so a reader sees all old
or all new. The stage table always exists here (schema version 3), and the record tables' triggers drop a
record's staged vector when it is deleted or its text changes, so a staged vector is always of its record's
current text. The swap updates the embedder rows first: writers storing vectors hold them ``FOR SHARE``, so
the swap waits for them, and they for it. May import `memactor.errors`, `memactor.model` and psycopg.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ..errors import InvalidInputError
from ..model.records import Record
from .pgvec import pgvector
from .rows import from_row, select_list
from .schema import TABLES
from .vectors import read_embedder, upsert_at

__all__ = ["count_to_stage", "read_stage", "records_to_stage", "stage_vectors", "swap_embedder"]

Conn = psycopg.Connection[tuple[Any, ...]]


def read_stage(conn: Conn) -> tuple[str, int] | None:
    """The embedder vectors are staged for, or None when no switch is under way."""
    rows: dict[str, str] = dict(
        conn.execute("SELECT key, value FROM memactor_meta WHERE key IN ('stage_name', 'stage_dim')").fetchall()
    )
    if "stage_name" not in rows:
        return None
    return str(rows["stage_name"]), int(rows["stage_dim"])


def _set_meta(conn: Conn, values: dict[str, str]) -> None:
    conn.execute(
        "INSERT INTO memactor_meta (key, value) SELECT * FROM unnest(%s::text[], %s::text[])"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (list(values), list(values.values())),
    )


def stage_vectors(
    conn: Conn, name: str, dim: int, kind: str, ids: Sequence[str], versions: Sequence[int], vectors: Sequence[bytes]
) -> list[str]:
    """Stage one vector of embedder ``name`` per id, for the records still at the given version.

    Starts the stage if none is under way, or over if it is another embedder's.

    Returns:
        The ids whose vector was staged.

    Raises:
        InvalidInputError: ``name`` and ``dim`` are the memory's embedder already (`StageVectors` checked the
            vectors' length when it was made).
    """
    if read_embedder(conn) == (name, dim):
        raise InvalidInputError(
            f"this memory's vectors are made by embedder {name!r} (dim {dim}) already: nothing to switch;"
            " run `memactor reindex` without --switch to fill missing vectors"
        )
    if read_stage(conn) != (name, dim):
        conn.execute("DELETE FROM vector_stage")
        _set_meta(conn, {"stage_name": name, "stage_dim": str(dim)})
    return upsert_at(conn, "vector_stage", kind, ids, versions, vectors)


def swap_embedder(conn: Conn, name: str, dim: int) -> int:
    """Replace the memory's vectors with those staged for ``name`` and record it as the memory's embedder.

    Records without a staged vector are left without one. Idempotent: once swapped, 0 is returned.

    Returns:
        How many records are left without a vector.

    Raises:
        InvalidInputError: vectors are being staged for another embedder.
    """
    # First the embedder rows, exclusively: writers storing vectors under the old embedder finish first.
    conn.execute("SELECT 1 FROM memactor_meta WHERE key IN ('embedder_name', 'embedder_dim') FOR UPDATE")
    stage = read_stage(conn)
    if stage is None and read_embedder(conn) == (name, dim):
        return 0
    if stage is not None and stage != (name, dim):
        raise InvalidInputError(
            f"vectors are being staged for embedder {stage[0]!r} (dim {stage[1]}), not {name!r} (dim {dim}):"
            f" run `memactor reindex --switch` with {name!r} again, which starts over"
        )
    # Each vector replaced in place or removed: one `vector_log` entry per record, so readers catch up.
    conn.execute(
        "DELETE FROM vectors WHERE NOT EXISTS"
        " (SELECT 1 FROM vector_stage AS s WHERE s.kind = vectors.kind AND s.rid = vectors.rid)"
    )
    # With pgvector, ``emb`` moves with ``vec``: the staged one was written with it.
    emb = ", emb" if pgvector(conn) is not None else ""
    conn.execute(
        f"INSERT INTO vectors (kind, rid, vec{emb}) SELECT kind, rid, vec{emb} FROM vector_stage"
        f" ON CONFLICT (kind, rid) DO UPDATE SET vec = excluded.vec{', emb = excluded.emb' if emb else ''}"
    )
    conn.execute("DELETE FROM vector_stage")
    conn.execute("DELETE FROM memactor_meta WHERE key IN ('stage_name', 'stage_dim')")
    _set_meta(conn, {"embedder_name": name, "embedder_dim": str(dim)})
    left = 0
    for kind, table in TABLES.items():
        row = conn.execute(
            f"SELECT count(*) FROM {table.name} AS t WHERE NOT EXISTS"
            " (SELECT 1 FROM vectors AS v WHERE v.kind = %s AND v.rid = t.rid)",
            (kind,),
        ).fetchone()
        left += 0 if row is None else int(row[0])
    return left


def _unstaged(fresh: bool) -> str:
    if fresh:
        return ""
    return " AND NOT EXISTS (SELECT 1 FROM vector_stage AS s WHERE s.kind = %(kind)s AND s.rid = t.rid)"


def records_to_stage(conn: Conn, kind: str, name: str, dim: int, after: str, limit: int) -> list[Record]:
    """The next ``limit`` records of ``kind`` by id after ``after`` that have no vector staged for ``name``."""
    fresh = read_stage(conn) != (name, dim)  # another embedder's stage, or none: every record is to stage
    rows = conn.execute(
        f"SELECT {select_list(kind, 't')} FROM {TABLES[kind].name} AS t WHERE t.id > %(after)s{_unstaged(fresh)}"
        " ORDER BY t.id LIMIT %(limit)s",
        {"after": after, "limit": limit} | ({} if fresh else {"kind": kind}),
    ).fetchall()
    return [from_row(kind, row) for row in rows]


def count_to_stage(conn: Conn, kind: str, name: str, dim: int) -> int:
    """How many records of ``kind`` have no vector staged for ``name``."""
    fresh = read_stage(conn) != (name, dim)
    row = conn.execute(
        f"SELECT count(*) FROM {TABLES[kind].name} AS t WHERE true{_unstaged(fresh)}", {} if fresh else {"kind": kind}
    ).fetchone()
    return 0 if row is None else int(row[0])
