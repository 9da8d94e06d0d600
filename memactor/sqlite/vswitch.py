"""Switching a file to another embedder: vectors staged beside the live ones, swapped in by one transaction.

``memactor reindex --switch`` embeds every record with the new embedder and sends the vectors in batches
(`StageVectors`); they wait in ``vector_stage``, which searches never read, so until the swap every search
uses the old vectors only. The swap (`SwapEmbedder`) replaces the live vectors with the staged ones and
records the new embedder's name and dimension in the same transaction: a reader sees all old or all new.

The stage is made on demand with triggers that drop a record's staged vector when the record is deleted or
a text column changes, like the live vectors' own (`memactor.sqlite.schema`), so a staged vector is always
of its record's current text; the swap drops the stage and its triggers. Plain sync SQL, in the writer's
transaction; the reads that say what is left to stage run on read-only connections.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..errors import InvalidInputError
from ..model.records import Record
from .rows import from_row, select_list
from .schema import TABLES
from .textindex import statements
from .vectors import read_embedder

__all__ = ["count_to_stage", "read_stage", "records_to_stage", "stage_vectors", "swap_embedder"]


def read_stage(conn: sqlite3.Connection) -> tuple[str, int] | None:
    """The embedder vectors are staged for, or None when no switch is under way."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('stage_name', 'stage_dim')"))
    if "stage_name" not in rows:
        return None
    return rows["stage_name"], int(rows["stage_dim"])


def _stage_sql() -> str:
    script = "CREATE TABLE vector_stage (kind TEXT NOT NULL, rid INTEGER NOT NULL, vec BLOB NOT NULL,"
    script += " PRIMARY KEY (kind, rid));\n"
    for kind, table in TABLES.items():
        drop = f"DELETE FROM vector_stage WHERE kind = '{kind}' AND rid = old.rowid;"
        script += f"""CREATE TRIGGER {table.name}_stage_ad AFTER DELETE ON {table.name} BEGIN {drop} END;
CREATE TRIGGER {table.name}_stage_au AFTER UPDATE OF {", ".join(table.text_columns)} ON {table.name} BEGIN {drop} END;
"""
    return script


def _drop_stage(conn: sqlite3.Connection) -> None:
    for table in TABLES.values():
        conn.execute(f"DROP TRIGGER IF EXISTS {table.name}_stage_ad")
        conn.execute(f"DROP TRIGGER IF EXISTS {table.name}_stage_au")
    conn.execute("DROP TABLE IF EXISTS vector_stage")
    conn.execute("DELETE FROM meta WHERE key IN ('stage_name', 'stage_dim')")


def stage_vectors(
    conn: sqlite3.Connection,
    name: str,
    dim: int,
    kind: str,
    ids: Sequence[str],
    versions: Sequence[int],
    vectors: Sequence[bytes],
) -> list[str]:
    """Stage one vector of embedder ``name`` per id, for the records still at the given version.

    Starts the stage if none is under way, or over if it is another embedder's.

    Returns:
        The ids whose vector was staged.

    Raises:
        InvalidInputError: ``name`` and ``dim`` are the file's embedder already (`StageVectors` checked the
            vectors' length when it was made).
    """
    if read_embedder(conn) == (name, dim):
        raise InvalidInputError(
            f"this memory file's vectors are made by embedder {name!r} (dim {dim}) already: nothing to switch;"
            " run `memactor reindex` without --switch to fill missing vectors"
        )
    if read_stage(conn) != (name, dim):
        _drop_stage(conn)
        for statement in statements(_stage_sql()):
            conn.execute(statement)
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [("stage_name", name), ("stage_dim", str(dim))])
    done = []
    for record_id, version, vector in zip(ids, versions, vectors, strict=True):
        cursor = conn.execute(
            f"INSERT INTO vector_stage (kind, rid, vec) SELECT :kind, rowid, :vec FROM {TABLES[kind].name}"
            " WHERE id = :id AND version = :version ON CONFLICT (kind, rid) DO UPDATE SET vec = excluded.vec",
            {"kind": kind, "vec": vector, "id": record_id, "version": version},
        )
        if cursor.rowcount:
            done.append(record_id)
    return done


def swap_embedder(conn: sqlite3.Connection, name: str, dim: int) -> int:
    """Replace the file's vectors with those staged for ``name`` and record it as the file's embedder.

    Records without a staged vector are left without one (vector search does not find them until
    ``memactor reindex`` gives them one). Idempotent: once swapped, nothing changes and 0 is returned.

    Returns:
        How many records are left without a vector.

    Raises:
        InvalidInputError: vectors are being staged for another embedder.
    """
    stage = read_stage(conn)
    if stage is None and read_embedder(conn) == (name, dim):
        return 0
    if stage is not None and stage != (name, dim):
        raise InvalidInputError(
            f"vectors are being staged for embedder {stage[0]!r} (dim {stage[1]}), not {name!r} (dim {dim}):"
            f" run `memactor reindex --switch` with {name!r} again, which starts over"
        )
    if stage is None:
        conn.execute("DELETE FROM vectors")  # nothing staged (an empty file, say): no vector is the new one's
    else:
        # Each vector replaced in place or removed: one `vector_log` entry per record, so readers catch up.
        conn.execute(
            "DELETE FROM vectors WHERE NOT EXISTS"
            " (SELECT 1 FROM vector_stage AS s WHERE s.kind = vectors.kind AND s.rid = vectors.rid)"
        )
        conn.execute(
            "INSERT INTO vectors (kind, rid, vec) SELECT kind, rid, vec FROM vector_stage WHERE true"
            " ON CONFLICT (kind, rid) DO UPDATE SET vec = excluded.vec"
        )
        _drop_stage(conn)
    conn.execute("DELETE FROM meta WHERE key IN ('embedder_name', 'embedder_dim')")
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)", [("embedder_name", name), ("embedder_dim", str(dim))]
    )
    return sum(
        conn.execute(
            f"SELECT count(*) FROM {table.name} WHERE rowid NOT IN (SELECT rid FROM vectors WHERE kind = :kind)",
            {"kind": kind},
        ).fetchone()[0]
        for kind, table in TABLES.items()
    )


def _unstaged(fresh: bool) -> str:
    return "" if fresh else " AND t.rowid NOT IN (SELECT rid FROM vector_stage WHERE kind = :kind)"


def records_to_stage(conn: sqlite3.Connection, kind: str, name: str, dim: int, after: str, limit: int) -> list[Record]:
    """The next ``limit`` records of ``kind`` by id after ``after`` that have no vector staged for ``name``."""
    fresh = read_stage(conn) != (name, dim)  # another embedder's stage, or none: every record is to stage
    rows = conn.execute(
        f"SELECT {select_list(kind, 't')} FROM {TABLES[kind].name} t WHERE t.id > :after{_unstaged(fresh)}"
        " ORDER BY t.id LIMIT :limit",
        {"kind": kind, "after": after, "limit": limit},
    ).fetchall()
    return [from_row(kind, row) for row in rows]


def count_to_stage(conn: sqlite3.Connection, kind: str, name: str, dim: int) -> int:
    """How many records of ``kind`` have no vector staged for ``name``."""
    fresh = read_stage(conn) != (name, dim)
    sql = f"SELECT count(*) FROM {TABLES[kind].name} t WHERE 1{_unstaged(fresh)}"
    return int(conn.execute(sql, {"kind": kind}).fetchone()[0])
