"""FTS5's own check of every text index against its table, for tests that must prove the index exact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from memactor.sqlite.schema import TABLES


def integrity_check(path: str | Path) -> None:
    """Raise ``sqlite3.DatabaseError`` if any text index differs from its table.

    FTS5 runs the check as a write statement, so it needs a writable connection: call it while no writer
    holds the file (after a memory closed, or after its process died).
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for name in [*(table.name for table in TABLES.values()), "items"]:
            conn.execute(f"INSERT INTO {name}_fts ({name}_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()
