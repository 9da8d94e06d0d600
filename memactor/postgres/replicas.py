"""Reads from streaming replicas that still see the handle's own writes.

A read connection holds a connection to the primary and, when the handle was given replicas, one to a
replica (the read lanes take the replicas in turn). After each group commit the writer notes the primary's
WAL position (`CommitMark`); a read first asks its replica whether it has replayed up to that position. If
it has, the replica answers; if not, the read waits for it, polling every millisecond up to ``wait_s``
(PostgreSQL 15 has no call that waits for a replay position), and then falls back to the primary. So any
read that starts after one of the handle's writes was acknowledged sees that write, wherever it is answered.
Other handles' writes (other processes, other machines) reach a replica when it replays them, as with any
streaming replica. May import psycopg.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg

__all__ = ["CommitMark", "ReadConnection", "commit_lsn", "read_target"]

Conn = psycopg.Connection[tuple[Any, ...]]
_POLL_S = 0.001


@dataclass(slots=True)
class CommitMark:
    """The WAL position just past the handle's last commit (``None`` before its first).

    Written by the writer lane after each commit, read by the read lanes: a plain attribute, whose
    assignment is atomic, set before the commit's callers are answered.
    """

    lsn: str | None = None


@dataclass(slots=True)
class ReadConnection:
    """One read lane's connections, and where its reads went."""

    primary: Conn
    replica: Conn | None = None
    replica_url: str | None = None  # to reopen ``replica`` once the server dropped it
    replica_reads: int = 0
    fallbacks: int = 0

    def close(self) -> None:
        """Close both connections; a broken one is closed as well as it can be."""
        for conn in (self.replica, self.primary):
            if conn is None:
                continue
            try:
                conn.close()
            except psycopg.Error:
                pass  # its socket is freed either way


def commit_lsn(conn: Conn) -> str:
    """The primary's WAL insert position: past every commit made on ``conn`` so far."""
    row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
    assert row is not None
    return str(row[0])


def _replayed(replica: Conn, lsn: str) -> bool:
    row = replica.execute("SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)", (lsn,)).fetchone()
    return bool(row and row[0])


def read_target(conn: ReadConnection, mark: CommitMark, wait_s: float) -> Conn:
    """The connection a read should use: the replica once it has the handle's last commit, else the primary.

    Raises:
        psycopg.Error: the replica failed (the caller answers the read as it answers any failure).
    """
    if conn.replica is None:
        return conn.primary
    lsn = mark.lsn
    deadline = time.monotonic() + wait_s
    while lsn is not None and not _replayed(conn.replica, lsn):
        if time.monotonic() >= deadline:
            conn.fallbacks += 1
            return conn.primary
        time.sleep(_POLL_S)
    conn.replica_reads += 1
    return conn.replica
