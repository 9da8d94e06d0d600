"""memactor's schema for the baselines that share it (raw, locked), and their SQL.

The baselines must pay for the same indexes and full-text indexing as memactor, so they create the schema
with memactor's own `memactor.sqlite.schema.migrate` rather than a copy of it that could drift. memactor indexes new
rows once per group commit (`memactor.sqlite.schema.index_new_rows`) rather than by a trigger per row; `raw` calls
the same function once per transaction, and `locked`, which has no batch step, indexes each row as it is
inserted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from memactor.sqlite import schema as _memactor_schema

from .data import EpisodeData

__all__ = [
    "INSERT_EPISODE",
    "RECENT",
    "SCAN",
    "SEARCH",
    "UPDATE_IMPORTANCE",
    "build_memactor_layout",
    "fts_query",
    "index_pending",
    "per_row_index_trigger",
]

_COLUMNS = (
    "id, namespace, agent_id, tags, metadata, created_at, updated_at, version, "
    "task, steps, outcome, success, reward, importance"
)
INSERT_EPISODE = f"INSERT INTO episodes ({_COLUMNS}) VALUES ({', '.join('?' * 14)})"
# Served by memactor's (agent_id, created_at) index.
RECENT = f"SELECT rowid, {_COLUMNS} FROM episodes WHERE agent_id = ? ORDER BY created_at DESC LIMIT ?"
SEARCH = (
    f"SELECT e.rowid, {', '.join('e.' + c.strip() for c in _COLUMNS.split(','))} "
    "FROM episodes_fts JOIN episodes AS e ON e.rowid = episodes_fts.rowid "
    "WHERE episodes_fts MATCH ? ORDER BY rank LIMIT ?"
)
SCAN = f"SELECT rowid, {_COLUMNS} FROM episodes"
UPDATE_IMPORTANCE = "UPDATE episodes SET importance = ?, updated_at = ?, version = version + 1 WHERE id = ?"


def fts_query(text: str) -> str:
    """Quote each word so user text is never read as FTS5 syntax, any word matching (as memactor does)."""
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in text.split())


def index_pending(conn: sqlite3.Connection) -> None:
    """Index the rows inserted since the last call, inside the caller's transaction, as memactor's writer does.

    A no-op for a schema that indexes by trigger.
    """
    index = getattr(_memactor_schema, "index_new_rows", None)
    if index is not None:
        index(conn)


def per_row_index_trigger() -> str | None:
    """SQL of a TEMP trigger that indexes each episode as it is inserted, or None if the schema already does.

    TEMP, so it lives only on the connection that creates it and the file's schema stays memactor's. It also
    advances memactor's indexing mark, so a file written this way is still consistent for memactor.
    """
    if not hasattr(_memactor_schema, "index_new_rows"):
        return None
    cols = _memactor_schema.TABLES["episode"].text_columns
    values = ", ".join(f"new.{c}" for c in cols)
    return (
        "CREATE TEMP TRIGGER bench_index_episode AFTER INSERT ON main.episodes BEGIN "
        f"INSERT INTO episodes_fts (rowid, {', '.join(cols)}) VALUES (new.rowid, {values}); "
        "UPDATE fts_progress SET indexed_rowid = new.rowid WHERE tbl = 'episodes'; END"
    )


def build_memactor_layout(path: Path, episodes: Sequence[EpisodeData]) -> None:
    """Create memactor's schema at ``path`` and load ``episodes`` in one transaction.

    The file is left in rollback-journal mode so each system chooses its own journal mode, as shipped.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        _memactor_schema.migrate(conn)
        conn.execute("BEGIN")
        conn.executemany(INSERT_EPISODE, (e.as_row() for e in episodes))
        index_pending(conn)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()
