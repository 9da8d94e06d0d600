"""The writer's connection, in plain sync functions: open it, checkpoint its WAL, check it still works.

They run on the writer's lane thread (`memactor.actor.writer`); nothing here is async.
"""

from __future__ import annotations

import sqlite3
import urllib.parse

from .failures import is_full
from .schema import configure_writer, migrate

__all__ = ["check_connection", "checkpoint", "connect_writer"]


def connect_writer(path: str, durability: str, *, create: bool = True) -> sqlite3.Connection:
    """Open ``path`` for writing: WAL, explicit ``synchronous``, schema migrated.

    Args:
        create: Create the file if it is missing. A reopen must not: a missing file then means it was
            moved or its directory is gone, and a new empty database there would not be the same memory.
    """
    if create:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    else:
        uri = f"file:{urllib.parse.quote(path)}?mode=rw"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        configure_writer(conn, durability=durability)
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def checkpoint(conn: sqlite3.Connection, mode: str = "TRUNCATE") -> bool:
    """Checkpoint the WAL; returns False if a reader kept it from completing (SQLite's ``busy`` flag)."""
    try:
        busy = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if not is_full(exc):
            raise
        # A full disk: every commit is safe in the WAL and the next open checkpoints it, so closing
        # must not fail (nor raise an untyped sqlite3 error) for want of room to copy pages back.
        return False
    return not busy


def check_connection(conn: sqlite3.Connection) -> None:
    """Raise if ``conn`` cannot go on; end a transaction a failed batch may have left open."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
