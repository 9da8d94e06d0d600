"""`locked`: the lock-based predecessor's design, rebuilt faithfully on memactor's schema.

aiosqlite, one write connection guarded by an `asyncio.Lock`, one commit per write, and a fresh connection
for every read. Its batch idiom holds the lock once and awaits one statement at a time before a single
commit. As shipped it sets no pragmas: rollback journal, ``synchronous=FULL``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import aiosqlite

from ..data import EpisodeData
from ..schema import INSERT_EPISODE, RECENT, SCAN, SEARCH, UPDATE_IMPORTANCE, fts_query, per_row_index_trigger
from .base import System

__all__ = ["LockedSystem"]


class LockedSystem(System):
    """The asyncio.Lock + aiosqlite design, as shipped or with WAL + ``synchronous=NORMAL``."""

    family = "locked"

    def __init__(self, name: str, *, tuned: bool) -> None:
        """Configure the variant.

        Args:
            name: Its label.
            tuned: Switch to WAL with ``synchronous=NORMAL`` (the like-for-like setting).
        """
        super().__init__(name)
        self._tuned = tuned
        self._lock = asyncio.Lock()
        self._path: Path | None = None
        self._db: aiosqlite.Connection | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        """The write connection."""
        assert self._db is not None, "open() first"
        return self._db

    async def open(self, path: Path) -> None:
        self._path = path
        self._lock = asyncio.Lock()  # bound to the running loop
        self._db = await aiosqlite.connect(path)
        try:
            if trigger := per_row_index_trigger():
                await self.db.execute(trigger)
            if self._tuned:
                await self.db.execute("PRAGMA journal_mode = WAL")
                await self.db.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            await self.close()  # its thread would otherwise keep the interpreter alive
            raise

    async def close(self) -> None:
        await self.db.close()
        self._db = None

    async def write(self, episode: EpisodeData) -> None:
        async with self._lock:
            await self.db.execute(INSERT_EPISODE, episode.as_row())
            await self.db.commit()

    async def bulk(self, episodes: Sequence[EpisodeData]) -> None:
        async with self._lock:
            for episode in episodes:
                await self.db.execute(INSERT_EPISODE, episode.as_row())
            await self.db.commit()

    async def _read(self, sql: str, params: tuple[object, ...]) -> int:
        async with aiosqlite.connect(self._path or "") as conn, conn.execute(sql, params) as cursor:
            return len(list(await cursor.fetchall()))

    async def recent(self, agent: str, n: int) -> int:
        return await self._read(RECENT, (agent, n))

    async def search(self, text: str, limit: int) -> int:
        return await self._read(SEARCH, (fts_query(text), limit))

    async def stream(self, page: int) -> AsyncGenerator[int, None]:
        async with aiosqlite.connect(self._path or "") as conn, conn.execute(SCAN) as cursor:
            while rows := await cursor.fetchmany(page):
                yield len(list(rows))

    async def update_many(self, episodes: Sequence[EpisodeData]) -> None:
        now = time.time()
        async with self._lock:
            for episode in episodes:
                await self.db.execute(UPDATE_IMPORTANCE, (1.0 - episode.importance, now, episode.id))
            await self.db.commit()
