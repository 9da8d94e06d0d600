"""The database schema, its version, and the pragmas every connection sets.

Each record kind has a table, an FTS5 index over its text columns kept in sync by triggers (so the index
changes in the same transaction as the row), and indexes for the filters. ``PRAGMA user_version`` holds the
schema version; `migrate` brings an older file up to date and refuses a newer one.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from .errors import SchemaError

__all__ = ["SCHEMA_VERSION", "TABLES", "Table", "configure_reader", "configure_writer", "migrate"]

SCHEMA_VERSION = 1
_COMMON_COLUMNS = """
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    namespace TEXT NOT NULL,
    agent_id TEXT,
    tags TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL"""


@dataclass(frozen=True, slots=True)
class Table:
    """How one record kind is stored."""

    name: str
    columns: str
    text_columns: tuple[str, ...]
    indexes: tuple[str, ...]


TABLES: dict[str, Table] = {
    "episode": Table(
        name="episodes",
        columns="""task TEXT NOT NULL, steps TEXT NOT NULL, outcome TEXT NOT NULL,
                   success INTEGER, reward REAL, importance REAL NOT NULL""",
        text_columns=("task", "steps", "outcome"),
        indexes=("namespace, created_at", "agent_id, created_at"),
    ),
    "fact": Table(
        name="facts",
        columns="content TEXT NOT NULL, confidence REAL NOT NULL, source_episode_ids TEXT NOT NULL",
        text_columns=("content",),
        indexes=("namespace, created_at", "agent_id, created_at"),
    ),
    "skill": Table(
        name="skills",
        columns="""name TEXT NOT NULL, description TEXT NOT NULL, steps TEXT NOT NULL, code TEXT NOT NULL,
                   uses INTEGER NOT NULL, successes INTEGER NOT NULL, last_used_at REAL,
                   UNIQUE (namespace, name)""",
        text_columns=("name", "description", "steps", "code"),
        indexes=("namespace, created_at", "agent_id, created_at"),
    ),
}


def _table_sql(table: Table) -> str:
    name, cols = table.name, ", ".join(table.text_columns)
    new = ", ".join(f"new.{c}" for c in table.text_columns)
    old = ", ".join(f"old.{c}" for c in table.text_columns)
    delete_old = f"INSERT INTO {name}_fts({name}_fts, rowid, {cols}) VALUES ('delete', old.rowid, {old});"
    insert_new = f"INSERT INTO {name}_fts(rowid, {cols}) VALUES (new.rowid, {new});"
    indexes = "\n".join(
        f"CREATE INDEX {name}_by_{cols_.replace(', ', '_')} ON {name}({cols_});" for cols_ in table.indexes
    )
    return f"""
CREATE TABLE {name} ({_COMMON_COLUMNS}, {table.columns});
{indexes}
CREATE VIRTUAL TABLE {name}_fts USING fts5({cols}, content='{name}', content_rowid='rowid');
CREATE TRIGGER {name}_fts_insert AFTER INSERT ON {name} BEGIN {insert_new} END;
CREATE TRIGGER {name}_fts_delete AFTER DELETE ON {name} BEGIN {delete_old} END;
CREATE TRIGGER {name}_fts_update AFTER UPDATE OF {cols} ON {name} BEGIN {delete_old} {insert_new} END;
"""


SCHEMA_V1 = "".join(_table_sql(t) for t in TABLES.values())


def migrate(conn: sqlite3.Connection) -> None:
    """Create the schema in an empty file, or bring an older one up to `SCHEMA_VERSION`.

    Args:
        conn: A writable connection in autocommit mode (``isolation_level=None``).

    Raises:
        SchemaError: the file was written by a newer schema.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(f"the file has schema version {version}; this memactor knows up to {SCHEMA_VERSION}")
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _statements(SCHEMA_V1):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    # Triggers contain semicolons, so split on complete statements rather than on ';'.
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]


def configure_writer(conn: sqlite3.Connection, *, durability: str) -> None:
    """Set the writer's pragmas: WAL, explicit ``synchronous``, and a bounded WAL file."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise SchemaError(f"could not switch the file to WAL mode (got {mode!r})")
    # This SQLite build defaults to FULL even in WAL mode, so the choice is always explicit.
    conn.execute(f"PRAGMA synchronous = {'FULL' if durability == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA foreign_keys = OFF")
    # Truncate the WAL file back to this size after a checkpoint resets it.
    conn.execute("PRAGMA journal_size_limit = 67108864")
    # Checkpoints run on the writer's own commits (PASSIVE, every ~1000 WAL pages); readers never run them.
    conn.execute("PRAGMA wal_autocheckpoint = 1000")
    conn.execute("PRAGMA busy_timeout = 5000")


def configure_reader(conn: sqlite3.Connection) -> None:
    """Set a reader's pragmas: never write, never checkpoint, wait briefly on a busy file."""
    conn.execute("PRAGMA query_only = 1")
    conn.execute("PRAGMA busy_timeout = 5000")
