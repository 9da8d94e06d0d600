"""``memactor check``: is a memory file sound? Integrity, schema version, text indexes, citations.

The checks run on a snapshot (`memactor.ops.backup`, into a temporary directory): FTS5 runs its
integrity-check as a write statement, which a read-only connection may not run, and the live file must not
be written by anyone but its writer. The snapshot is a page-for-page copy, so damage in the file is in the
copy too.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from ..sqlite.schema import SCHEMA_VERSION
from .backup import backup

__all__ = ["check", "problems"]

_TEXT_INDEXES = "SELECT name FROM sqlite_schema WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE % USING fts5%'"

# Facts citing episodes that no longer exist (a citation is a plain id: deleting an episode keeps its facts).
_ORPHANS = """
SELECT f.id, j.value FROM facts AS f, json_each(f.source_episode_ids) AS j
WHERE NOT EXISTS (SELECT 1 FROM episodes AS e WHERE e.id = j.value)
ORDER BY f.id
"""


def problems(conn: sqlite3.Connection) -> list[str]:
    """Every problem found in the database of ``conn`` (a writable connection to a copy), one line each."""
    found = [f"integrity_check: {row[0]}" for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        found.append(f"schema version {version}, this memactor's is {SCHEMA_VERSION} (opening it for writing migrates)")
    for (index,) in conn.execute(_TEXT_INDEXES).fetchall():
        try:
            conn.execute(f"INSERT INTO {index} ({index}, rank) VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            found.append(f"text index {index}: {exc} (rebuild: INSERT INTO {index}({index}) VALUES('rebuild'))")
    for fact, episode in conn.execute(_ORPHANS):
        found.append(f"fact {fact} cites episode {episode}, which does not exist")
    return found


def check(path: str | os.PathLike[str]) -> list[str]:
    """Check the memory file at ``path`` (live or not); returns its problems, none when it is sound.

    Raises:
        InvalidInputError: no file at ``path``.
        sqlite3.Error, OSError: the file could not be read at all.
    """
    with tempfile.TemporaryDirectory(prefix="memactor-check-") as scratch:
        copy = Path(scratch) / "snapshot.db"
        backup(path, copy, force=True, label="snapshot")
        conn = sqlite3.connect(copy, isolation_level=None)
        try:
            return problems(conn)
        finally:
            conn.close()
