"""`raw`: stdlib sqlite3 on one thread, memactor's schema: the ceiling every other system is measured against.

There is no concurrency here at all: the coroutines never yield, so "64 agents" run one after another. That is
the point: it is what the same work costs with no event loop, no threads and no queue in the way.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

from ..data import EpisodeData
from ..schema import INSERT_EPISODE, RECENT, SCAN, SEARCH, UPDATE_IMPORTANCE, fts_query, index_pending
from .base import System

__all__ = ["RawSystem"]


class RawSystem(System):
    """One sqlite3 connection in WAL mode.

    With ``commit_each`` every write is its own transaction (the one-commit-per-row figure); without it, S1
    is one ``executemany`` and other writes share one transaction committed by `flush` (the write ceiling).
    """

    family = "raw"

    def __init__(self, name: str, *, commit_each: bool, synchronous: str = "NORMAL") -> None:
        """Configure the variant.

        Args:
            name: Its label.
            commit_each: Commit every write on its own.
            synchronous: ``NORMAL`` or ``FULL``.
        """
        super().__init__(name)
        self._commit_each = commit_each
        self._synchronous = synchronous
        self.bulk_writes = not commit_each
        # The commit-per-row variants exist for the write figures only; reads would repeat `raw`'s.
        self.only = frozenset({"S1", "S3"}) if commit_each else None
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        assert self._conn is not None, "open() first"
        return self._conn

    async def open(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"PRAGMA synchronous = {self._synchronous}")

    async def close(self) -> None:
        await self.flush()
        self.conn.close()
        self._conn = None

    async def write(self, episode: EpisodeData) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")
        self.conn.execute(INSERT_EPISODE, episode.as_row())
        if self._commit_each:
            await self.flush()

    async def flush(self) -> None:
        if self.conn.in_transaction:
            index_pending(self.conn)
            self.conn.execute("COMMIT")

    async def bulk(self, episodes: Sequence[EpisodeData]) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(INSERT_EPISODE, [e.as_row() for e in episodes])
            index_pending(self.conn)

    async def recent(self, agent: str, n: int) -> int:
        return len(self.conn.execute(RECENT, (agent, n)).fetchall())

    async def search(self, text: str, limit: int) -> int:
        return len(self.conn.execute(SEARCH, (fts_query(text), limit)).fetchall())

    async def stream(self, page: int) -> AsyncGenerator[int, None]:
        cursor = self.conn.execute(SCAN)
        while rows := cursor.fetchmany(page):
            yield len(rows)

    async def update_many(self, episodes: Sequence[EpisodeData]) -> None:
        now = time.time()
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(UPDATE_IMPORTANCE, [(1.0 - e.importance, now, e.id) for e in episodes])
