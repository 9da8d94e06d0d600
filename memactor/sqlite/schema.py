"""The database schema, its version, and the pragmas every connection sets.

Each record kind has a table, an FTS5 index over its text columns, and indexes for the filters.

The FTS index is written per group commit, not per row: `index_new_rows` indexes every row inserted by
the batch with one ``INSERT ... SELECT`` just before COMMIT, so a search still sees every committed record.
Measured here with 500-row batches (`python -m bench.fts_probe`): 38k inserts/s indexed per batch against 16k/s
with a trigger per row (12k/s when each row also had its own savepoint: FTS5 flushes its pending terms at
every release).
Rows already indexed (``rowid <= fts_progress.indexed_rowid``) keep triggers for update and delete, which
need the old values; AUTOINCREMENT keeps rowids rising, so a new row is never mistaken for an indexed one.

The text index stems (`memactor.sqlite.textindex.TOKENIZE`); version 4 rebuilds an older file's index in
place, in resumable chunks, and version 6 does the same for the items' index.

Version 5 adds embeddings (`memactor.sqlite.vectors`): ``meta`` (which embedder made the vectors),
``vectors`` (one float32 blob per record that has one) and ``vector_log``, which triggers append to on
every change of ``vectors`` so a reader's cached matrix catches up by reading only what changed. Triggers on
each record table drop a record's vector when it is deleted or a text column changes; the writer stores the
new one, if the command carries it, in the same transaction.

``PRAGMA user_version`` holds the schema version; `migrate` brings an older file up to date and refuses a
newer one.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import SchemaError
from .itemschema import ITEMS_FTS_TRIGGERS, ITEMS_SCHEMA
from .textindex import IndexedTable, ProgressCallback, rebuild_text_index, statements, triggers_sql

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "Table",
    "configure_reader",
    "configure_writer",
    "foreign_tables",
    "index_new_rows",
    "migrate",
    "own_tables",
]

SCHEMA_VERSION = 6
_COMMON_COLUMNS = """
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
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
    name = table.name
    indexes = "\n".join(
        f"CREATE INDEX {name}_by_{cols_.replace(', ', '_')} ON {name}({cols_});" for cols_ in table.indexes
    )
    indexed = f"SELECT indexed_rowid FROM fts_progress WHERE tbl = '{name}'"
    # Version 1 used SQLite's default tokenizer; version 4 rebuilds the index with `TOKENIZE`.
    return f"""
CREATE TABLE {name} ({_COMMON_COLUMNS}, {table.columns});
{indexes}
CREATE VIRTUAL TABLE {name}_fts USING fts5({", ".join(table.text_columns)}, content='{name}', content_rowid='rowid');
INSERT INTO fts_progress (tbl, indexed_rowid) VALUES ('{name}', 0);
{triggers_sql(name, table.text_columns, f"{name}_fts", indexed)}"""


SCHEMA_V1 = "CREATE TABLE fts_progress (tbl TEXT PRIMARY KEY, indexed_rowid INTEGER NOT NULL);\n" + "".join(
    _table_sql(t) for t in TABLES.values()
)
# FTS5 merges an index's segments once 16 of one size exist, not 4: group commits that stop for a merge
# become rarer, each merge bigger. On 64-row commits of agent-like text (51k episodes) the commit p99 fell
# from ~10 ms to ~4 ms and the mean by 5-15%; on random words (`python -m bench.fts_probe --merges`) the p99
# fell 10-25% while the worst merge doubled. Search time did not change in either.
SCHEMA_V2 = "".join(
    f"INSERT INTO {t.name}_fts ({t.name}_fts, rank) VALUES ('automerge', 16);\n" for t in TABLES.values()
)


def _vectors_sql() -> str:
    log = "INSERT INTO vector_log (kind, rid) VALUES"
    script = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE vectors (kind TEXT NOT NULL, rid INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (kind, rid));
CREATE TABLE vector_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, rid INTEGER NOT NULL);
CREATE TRIGGER vectors_ai AFTER INSERT ON vectors BEGIN {log} (new.kind, new.rid); END;
CREATE TRIGGER vectors_au AFTER UPDATE ON vectors BEGIN {log} (new.kind, new.rid); END;
CREATE TRIGGER vectors_ad AFTER DELETE ON vectors BEGIN {log} (old.kind, old.rid); END;
"""
    for kind, table in TABLES.items():
        drop = f"DELETE FROM vectors WHERE kind = '{kind}' AND rid = old.rowid;"
        script += f"""CREATE TRIGGER {table.name}_vec_ad AFTER DELETE ON {table.name} BEGIN {drop} END;
CREATE TRIGGER {table.name}_vec_au AFTER UPDATE OF {", ".join(table.text_columns)} ON {table.name} BEGIN {drop} END;
"""
    return script


def _record_index(table: Table) -> IndexedTable:
    # The live index holds the rows up to the watermark `index_new_rows` advances at each group commit.
    watermark = f"SELECT indexed_rowid FROM fts_progress WHERE tbl = '{table.name}'"
    triggers = triggers_sql(table.name, table.text_columns, f"{table.name}_fts", watermark)
    return IndexedTable(table.name, table.text_columns, watermark, triggers)


def _stemmed_text_index(conn: sqlite3.Connection, progress: ProgressCallback | None) -> None:
    # Stemming: every file's text index is rebuilt with `TOKENIZE`, in chunks, resumable (see `textindex`).
    tables = [_record_index(table) for table in TABLES.values()]
    rebuild_text_index(conn, tables, version=4, progress=progress)


def _stemmed_item_index(conn: sqlite3.Connection, progress: ProgressCallback | None) -> None:
    # The items' index too; its triggers index every row as it is written, so it holds every row there is.
    items = IndexedTable("items", ("text",), "SELECT coalesce(max(rowid), 0) FROM items", ITEMS_FTS_TRIGGERS)
    rebuild_text_index(conn, [items], version=6, progress=progress)


# Each step brings a file from the version before it to its own; a new file takes them all. A script runs
# in one transaction; a function commits as it goes and sets the version in its last transaction.
_STEPS: dict[int, str | Callable[[sqlite3.Connection, ProgressCallback | None], None]] = {
    1: SCHEMA_V1,
    2: SCHEMA_V2,
    3: ITEMS_SCHEMA,
    4: _stemmed_text_index,
    5: _vectors_sql(),
    6: _stemmed_item_index,
}


def index_new_rows(conn: sqlite3.Connection) -> None:
    """Add every row inserted since the last call to its FTS index; call inside the writing transaction."""
    for table in TABLES.values():
        done = conn.execute("SELECT indexed_rowid FROM fts_progress WHERE tbl = :tbl", {"tbl": table.name})
        indexed_rowid = done.fetchone()[0]
        newest = conn.execute(f"SELECT max(rowid) FROM {table.name}").fetchone()[0]
        if newest is None or newest <= indexed_rowid:
            continue
        cols = ", ".join(table.text_columns)
        conn.execute(
            f"INSERT INTO {table.name}_fts (rowid, {cols}) SELECT rowid, {cols} FROM {table.name}"
            " WHERE rowid > :indexed",
            {"indexed": indexed_rowid},
        )
        conn.execute(
            "UPDATE fts_progress SET indexed_rowid = :newest WHERE tbl = :tbl", {"newest": newest, "tbl": table.name}
        )


def migrate(conn: sqlite3.Connection, progress: ProgressCallback | None = None) -> None:
    """Create the schema in an empty file, or bring an older one up to `SCHEMA_VERSION`.

    A step interrupted by a crash is taken up again by the next call, from where it stopped.

    Args:
        conn: A writable connection in autocommit mode (``isolation_level=None``), the file's only writer.
        progress: Told how far a long step (the text index rebuild) has come; log lines at INFO when None.

    Raises:
        SchemaError: the file was written by a newer schema.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(f"the file has schema version {version}; this memactor knows up to {SCHEMA_VERSION}")
    for step, change in sorted(_STEPS.items()):
        if step <= version:
            continue
        if isinstance(change, str):
            _run_script(conn, change, step)
        else:
            change(conn, progress)


def _run_script(conn: sqlite3.Connection, script: str, version: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# Kept under this name: tests build version 1 files with it.
_statements = statements


def configure_writer(conn: sqlite3.Connection, *, durability: str) -> None:
    """Set the writer's pragmas: WAL, explicit ``synchronous``, and a bounded WAL file."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise SchemaError(f"could not switch the file to WAL mode (got {mode!r})")
    # This SQLite build defaults to FULL even in WAL mode, so the choice is always explicit.
    conn.execute(f"PRAGMA synchronous = {'FULL' if durability == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA foreign_keys = OFF")
    # Truncate the WAL file back to 16 MiB when a checkpoint resets it; the writer forces a reset past that
    # size (`writer.WAL_RESTART_BYTES`), which then stops as soon as the file is back at the limit.
    conn.execute("PRAGMA journal_size_limit = 16777216")
    # Checkpoints run on the writer's own commits (PASSIVE, every ~1000 WAL pages); readers never run them.
    conn.execute("PRAGMA wal_autocheckpoint = 1000")
    conn.execute("PRAGMA busy_timeout = 5000")


def configure_reader(conn: sqlite3.Connection) -> None:
    """Set a reader's pragmas: never write, never checkpoint, wait briefly on a busy file."""
    conn.execute("PRAGMA query_only = 1")
    conn.execute("PRAGMA busy_timeout = 5000")


# Every table a memactor file may hold, in any version or mid-migration: the record tables, their FTS5
# indexes (with FTS5's shadow tables, and the ``_new`` index of an interrupted rebuild), the bookkeeping and
# the vectors staged by an embedder switch under way (`memactor.sqlite.vswitch`).
_OWN_TABLE = re.compile(
    r"(episodes|facts|skills|items)(_fts(_new)?(_(config|data|docsize|idx|content))?)?"
    r"|fts_progress|fts_rebuild|meta|vectors|vector_log|vector_stage|sqlite_sequence|sqlite_stat\d"
)


def foreign_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables and views of ``conn``'s file that are not memactor's (another application's), sorted.

    Raises:
        sqlite3.DatabaseError: the file is not a SQLite database.
    """
    names = conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")
    return [name for (name,) in names if not _OWN_TABLE.fullmatch(name)]


def own_tables(conn: sqlite3.Connection) -> bool:
    """Whether ``conn``'s file holds memactor's schema (any version)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'fts_progress'").fetchone() is not None
