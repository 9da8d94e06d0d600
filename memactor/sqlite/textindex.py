"""The text index: its tokenizer, the triggers that keep it in step with its table, and the in-place rebuild
that moves an existing file's index to a new tokenizer.

Each record table ``T`` (and the items table) has an external-content FTS5 index ``T_fts``. The rebuild fills
a second index, ``T_fts_new``, in chunks of rows, each chunk its own transaction that also advances a watermark
(``fts_rebuild.done_rowid``): a kill at any point loses at most the chunk in flight, and the next run goes
on from the watermark, so no row is indexed twice or missed. Until the last chunk, searches keep using
``T_fts``, which stays complete; one final transaction drops it and renames ``T_fts_new`` in its place, so a
reader in any process sees either the whole old index or the whole new one.

While the rebuild is under way, triggers stored in the file keep the part of ``T_fts_new`` already built in
step with updates and deletes, whichever memactor (even an older one) writes the file in between; rows
added meanwhile lie above the watermark and are reached by a later chunk. Each table says how far its live
index reaches and which triggers keep it in step (`IndexedTable`): the record tables index new rows per
group commit, the items table per row.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

__all__ = [
    "CHUNK_ROWS",
    "TOKENIZE",
    "IndexedTable",
    "Progress",
    "ProgressCallback",
    "rebuild_text_index",
    "triggers_sql",
]

# Porter stemming over unicode61 with diacritics removed: "deploy" finds "deployed" and "deployment",
# "cafe" finds "café". Measured with `python -m bench.recall_stemming`: see that script for the figures.
TOKENIZE = "porter unicode61 remove_diacritics 2"
# Rows per rebuild transaction: a few MB of pending FTS terms at most, and a short write lock.
CHUNK_ROWS = 2000

_log = logging.getLogger("memactor.migrate")


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the rebuild of one table's text index has come.

    Attributes:
        table: The record table being indexed.
        done: Rows of it indexed so far.
        total: Rows it holds (rows added during the rebuild raise it).
    """

    table: str
    done: int
    total: int


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class IndexedTable:
    """A table whose text index `rebuild_text_index` rebuilds.

    Attributes:
        name: The table; its index is ``{name}_fts``.
        columns: Its text columns, all of which the index covers.
        live_rowid: A scalar SQL subquery: the highest rowid the live index holds. Rows above it are
            indexed later by whatever indexes new rows, into whichever index is live by then.
        live_triggers: The SQL of the triggers that keep the live index in step, made again after the swap.
    """

    name: str
    columns: tuple[str, ...]
    live_rowid: str
    live_triggers: str


def triggers_sql(table: str, columns: Sequence[str], index: str, watermark: str) -> str:
    """The triggers that keep ``index`` in step with updates and deletes of rows at or below ``watermark``.

    Rows above it are not in the index yet: whoever indexes them later reads their current text.

    Args:
        table: The record table.
        columns: Its text columns, all of which the index covers.
        index: The FTS5 table.
        watermark: A scalar SQL subquery giving the highest rowid the index holds.
    """
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    delete_old = f"INSERT INTO {index}({index}, rowid, {cols}) VALUES ('delete', old.rowid, {old});"
    insert_new = f"INSERT INTO {index}(rowid, {cols}) VALUES (new.rowid, {new});"
    indexed = f"old.rowid <= ({watermark})"
    return f"""
CREATE TRIGGER {index}_delete AFTER DELETE ON {table} WHEN {indexed} BEGIN {delete_old} END;
CREATE TRIGGER {index}_update AFTER UPDATE OF {cols} ON {table} WHEN {indexed} BEGIN {delete_old} {insert_new} END;
"""


def index_sql(table: str, columns: Sequence[str], index: str, tokenize: str | None) -> str:
    """``CREATE VIRTUAL TABLE`` for an external-content index of ``columns`` (SQLite's tokenizer if None)."""
    option = "" if tokenize is None else f", tokenize = '{tokenize}'"
    return (
        f"CREATE VIRTUAL TABLE {index} USING fts5({', '.join(columns)},"
        f" content='{table}', content_rowid='rowid'{option});\n"
        # See `memactor.sqlite.schema.SCHEMA_V2` for why 16.
        f"INSERT INTO {index} ({index}, rank) VALUES ('automerge', 16);\n"
    )


def rebuild_text_index(
    conn: sqlite3.Connection,
    tables: Sequence[IndexedTable],
    *,
    version: int,
    progress: ProgressCallback | None = None,
    chunk_rows: int | None = None,
) -> None:
    """Rebuild every table's text index with `TOKENIZE`, in place, resuming a rebuild a kill interrupted.

    Its last transaction sets ``PRAGMA user_version`` to ``version``.

    Args:
        conn: The writer's connection, in autocommit mode, with no other writer on the file.
        tables: The tables whose indexes to rebuild.
        version: The schema version the rebuild completes.
        progress: Called after each chunk (and once per table at the start); logs at INFO when None.
        chunk_rows: Rows per transaction (`CHUNK_ROWS` when None).

    Raises:
        sqlite3.Error: SQLite failed; everything committed so far stays, and the next call goes on from there.
    """
    report = progress or _log_progress
    rows = chunk_rows or CHUNK_ROWS
    _transaction(conn, lambda: _prepare(conn, tables))
    for table in tables:
        total = _count(conn, table.name, f"rowid <= ({table.live_rowid})")
        done = _count(conn, table.name, "rowid <= (SELECT done_rowid FROM fts_rebuild WHERE tbl = :tbl)")
        report(Progress(table.name, done, total))
        while (chunk := _transaction(conn, partial(_index_chunk, conn, table, rows))) > 0:
            done += chunk
            report(Progress(table.name, done, max(total, done)))
    _transaction(conn, lambda: _swap(conn, tables, version))


def _prepare(conn: sqlite3.Connection, tables: Sequence[IndexedTable]) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS fts_rebuild (tbl TEXT PRIMARY KEY, done_rowid INTEGER NOT NULL)")
    for table in tables:
        started = conn.execute("SELECT 1 FROM fts_rebuild WHERE tbl = :tbl", {"tbl": table.name}).fetchone()
        if started:
            continue  # a rebuild a kill interrupted: go on from its watermark
        index = f"{table.name}_fts_new"
        conn.execute("INSERT INTO fts_rebuild (tbl, done_rowid) VALUES (:tbl, 0)", {"tbl": table.name})
        watermark = f"SELECT done_rowid FROM fts_rebuild WHERE tbl = '{table.name}'"
        script = index_sql(table.name, table.columns, index, TOKENIZE)
        script += triggers_sql(table.name, table.columns, index, watermark)
        for statement in statements(script):
            conn.execute(statement)
    return 0


def _index_chunk(conn: sqlite3.Connection, table: IndexedTable, chunk_rows: int) -> int:
    """Index the next rows above the watermark that the live index holds; return how many."""
    name = table.name
    done = conn.execute("SELECT done_rowid FROM fts_rebuild WHERE tbl = :tbl", {"tbl": name}).fetchone()[0]
    # Only rows the live index holds: rows above its reach are indexed by whatever indexes new rows
    # (`memactor.sqlite.schema.index_new_rows` for records), which after the swap writes to this index.
    limit = conn.execute(f"SELECT ({table.live_rowid})").fetchone()[0] or 0
    bounds = {"done": done, "limit": limit, "n": chunk_rows}
    count, high = conn.execute(
        f"SELECT count(*), max(rowid) FROM (SELECT rowid FROM {name}"
        " WHERE rowid > :done AND rowid <= :limit ORDER BY rowid LIMIT :n)",
        bounds,
    ).fetchone()
    if count == 0:
        return 0
    cols = ", ".join(table.columns)
    conn.execute(
        f"INSERT INTO {name}_fts_new (rowid, {cols}) SELECT rowid, {cols} FROM {name}"
        " WHERE rowid > :done AND rowid <= :high",
        {"done": done, "high": high},
    )
    conn.execute("UPDATE fts_rebuild SET done_rowid = :high WHERE tbl = :tbl", {"high": high, "tbl": name})
    return int(count)


def _swap(conn: sqlite3.Connection, tables: Sequence[IndexedTable], version: int) -> int:
    for table in tables:
        index = f"{table.name}_fts"
        for suffix in ("_insert", "_delete", "_update", "_new_delete", "_new_update"):
            conn.execute(f"DROP TRIGGER IF EXISTS {index}{suffix}")
        conn.execute(f"DROP TABLE {index}")
        conn.execute(f"ALTER TABLE {index}_new RENAME TO {index}")
        for statement in statements(table.live_triggers):
            conn.execute(statement)
        conn.execute("DELETE FROM fts_rebuild WHERE tbl = :tbl", {"tbl": table.name})
    if conn.execute("SELECT count(*) FROM fts_rebuild").fetchone()[0] == 0:
        conn.execute("DROP TABLE fts_rebuild")
    conn.execute(f"PRAGMA user_version = {int(version)}")
    return 0


def _count(conn: sqlite3.Connection, table: str, condition: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table} WHERE {condition}", {"tbl": table}).fetchone()[0])


def _transaction(conn: sqlite3.Connection, body: Callable[[], int]) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = body()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return result


def _log_progress(progress: Progress) -> None:
    if progress.total == 0:
        return  # a new file, or an empty table: nothing worth a line (a server's first line says it serves)
    level = logging.INFO if progress.done in (0, progress.total) else logging.DEBUG
    _log.log(level, "rebuilding the text index of %s: %d of %d rows", progress.table, progress.done, progress.total)


def statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (triggers contain semicolons, so not on ';')."""
    found, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    return [s for s in found if s]
