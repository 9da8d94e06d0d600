"""`langgraph`: LangGraph's `AsyncSqliteStore` (package langgraph-checkpoint-sqlite), the most used agent store
on SQLite. Episodes live under namespace ``("episodes", agent_id)``, keyed by episode id.

How it works, read from its source (langgraph/store/sqlite/aio.py, langgraph/store/base/batch.py): one aiosqlite
connection guarded by an `asyncio.Lock`; calls made in the same event-loop tick are gathered into one
``abatch`` transaction. It indexes no text (its ``query`` needs an embedding index), so it sits out S6. Without
a cursor API, paging goes through ``asearch(limit, offset)``, ordered by ``updated_at``.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import sqlite3
from collections.abc import AsyncGenerator, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path

from langgraph.store.base import PutOp
from langgraph.store.sqlite.aio import AsyncSqliteStore  # type: ignore[import-untyped,unused-ignore]

from ..data import EpisodeData
from .base import System

__all__ = ["LangGraphSystem", "build_langgraph_layout"]

# One ``abatch`` of puts is a single INSERT with 5 bound values per row; SQLite binds at most 32,766.
_MAX_PUTS = 5_000


def _namespace(agent: str) -> tuple[str, str]:
    return ("episodes", agent)


class LangGraphSystem(System):
    """`AsyncSqliteStore` as shipped, or with WAL + ``synchronous=NORMAL`` set on its connection."""

    family = "langgraph"
    layout = "langgraph"

    def __init__(self, name: str, *, tuned: bool) -> None:
        """Configure the variant.

        Args:
            name: Its label.
            tuned: Switch to WAL with ``synchronous=NORMAL`` (the like-for-like setting).
        """
        super().__init__(name)
        self._tuned = tuned
        self._stack = AsyncExitStack()
        self._store: AsyncSqliteStore | None = None

    @property
    def store(self) -> AsyncSqliteStore:
        """The open store."""
        assert self._store is not None, "open() first"
        return self._store

    async def open(self, path: Path) -> None:
        self._stack = AsyncExitStack()
        self._store = await self._stack.enter_async_context(AsyncSqliteStore.from_conn_string(str(path)))
        if self._tuned:
            await self.store.conn.execute("PRAGMA journal_mode = WAL")
            await self.store.conn.execute("PRAGMA synchronous = NORMAL")
        await self.store.setup()

    async def close(self) -> None:
        await self._stack.aclose()
        self._store = None

    async def write(self, episode: EpisodeData) -> None:
        await self.store.aput(_namespace(episode.agent_id), episode.id, episode.as_json())

    async def bulk(self, episodes: Sequence[EpisodeData]) -> None:
        await self._put_all(episodes)

    async def _put_all(self, episodes: Sequence[EpisodeData]) -> None:
        # Larger batches fail with "too many SQL variables", so a user has to split them.
        for start in range(0, len(episodes), _MAX_PUTS):
            chunk = episodes[start : start + _MAX_PUTS]
            await self.store.abatch([PutOp(_namespace(e.agent_id), e.id, e.as_json()) for e in chunk])

    async def recent(self, agent: str, n: int) -> int:
        return len(await self.store.asearch(_namespace(agent), limit=n))

    async def stream(self, page: int) -> AsyncGenerator[int, None]:
        offset = 0
        while items := await self.store.asearch(("episodes",), limit=page, offset=offset):
            offset += len(items)
            yield len(items)

    async def update_many(self, episodes: Sequence[EpisodeData]) -> None:
        # A put replaces the whole value; the new importance is the only change.
        changed = [_with_importance(e) for e in episodes]
        await self._put_all(changed)


def _with_importance(episode: EpisodeData) -> EpisodeData:
    return replace(episode, importance=1.0 - episode.importance)


def build_langgraph_layout(path: Path, episodes: Sequence[EpisodeData]) -> None:
    """Create LangGraph's tables at ``path`` with its own ``setup()``, then load ``episodes`` directly.

    Rows are written as ``aput`` would write them (compact JSON bytes, ``CURRENT_TIMESTAMP``-style times), in
    one transaction, because loading through the store itself would dominate the run time.
    """
    asyncio.run(_setup(path))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO store (prefix, key, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (_store_row(e) for e in episodes),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()


async def _setup(path: Path) -> None:
    async with AsyncSqliteStore.from_conn_string(str(path)) as store:
        await store.setup()


def _store_row(episode: EpisodeData) -> tuple[str, str, bytes, str, str]:
    stamp = datetime.datetime.fromtimestamp(episode.created_at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    # What aput stores: compact JSON bytes (it uses orjson, whose output this matches).
    value = json.dumps(episode.as_json(), separators=(",", ":")).encode()
    return (".".join(_namespace(episode.agent_id)), episode.id, value, stamp, stamp)
