"""The PostgreSQL systems: the driver alone (`pg-raw`, `pg-raw-commit`), memactor on a URL (`memactor-pg`,
`memactor-pg-replica`) and LangGraph's `AsyncPostgresStore` (`langgraph-pg`), all on one server.

Each measurement runs in a fresh schema preloaded from the scenario's SQLite layout (`bench.pg`), so
every system starts from the same rows and none sees another's. `pg-raw` is psycopg 3 on one connection in
memactor's own schema (created by `memactor.postgres.schema.migrate`): writes go in one transaction per group
of 512 rows (the limit a group commit can reach), reads are a plain indexed SELECT. `pg-raw-commit` commits
every row on its own (the naive way). Like `raw`, the driver systems never yield to the event loop: "64
agents" run one after another, with no queue in the way.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from memactor.postgres.schema import migrate

from ..data import EpisodeData
from ..pg import EPISODE_COLUMNS, PgSchema, episode_rows, store_rows, wait_for_replica, with_schema
from .base import System
from .memactor_system import MemactorSystem

__all__ = ["LangGraphPgSystem", "MemactorPgSystem", "PgRawSystem"]

GROUP = 512  # rows per transaction of `pg-raw`: memactor's default max_batch
_INSERT = f"INSERT INTO episodes ({EPISODE_COLUMNS}) VALUES ({', '.join(['%s'] * 14)})"
_RECENT = f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE agent_id = %s ORDER BY created_at DESC LIMIT %s"
_UPDATE = "UPDATE episodes SET importance = %s, updated_at = %s, version = version + 1 WHERE id = %s"
_ALL = frozenset({"S1", "S2", "S3", "S4"})


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _row(e: EpisodeData) -> tuple[Any, ...]:
    return (
        e.id, "default", e.agent_id, list(e.tags), _dumps(e.metadata), e.created_at, e.created_at, 1,
        e.task, _dumps(list(e.steps)), e.outcome, e.success, e.reward, e.importance,
    )  # fmt: skip


class PgRawSystem(System):
    """psycopg 3 on one autocommit connection, memactor's schema."""

    family = "pg"

    def __init__(self, name: str, url: str, *, commit_each: bool) -> None:
        """Configure the variant.

        Args:
            name: Its label.
            url: The primary's URL.
            commit_each: Commit every write on its own (else one transaction per `GROUP` rows).
        """
        super().__init__(name)
        self._url = url
        self._commit_each = commit_each
        self.bulk_writes = not commit_each
        self.only = frozenset({"S1", "S3"}) if commit_each else _ALL
        self._schema: PgSchema | None = None
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._pending: list[tuple[Any, ...]] = []

    @property
    def conn(self) -> psycopg.Connection[tuple[Any, ...]]:
        """The open connection."""
        assert self._conn is not None, "open() first"
        return self._conn

    async def open(self, path: Path) -> None:
        self._schema = PgSchema(self._url)
        self._schema.create()
        await self.open_in(self._schema.url)
        migrate(self.conn)
        self._schema.copy("episodes", EPISODE_COLUMNS, episode_rows(path))

    async def open_in(self, schema_url: str) -> None:
        """Connect to a schema that already holds memactor's tables (one of several writer processes)."""
        self._conn = psycopg.connect(schema_url, autocommit=True)

    async def close_kept(self) -> None:
        """Commit what is pending and disconnect, keeping the schema."""
        try:
            await self.flush()
            self.conn.close()
        finally:
            self._conn = None

    async def close(self) -> None:
        try:
            await self.close_kept()
        finally:
            if self._schema is not None:
                self._schema.drop()

    async def write(self, episode: EpisodeData) -> None:
        if self._commit_each:
            self.conn.execute(_INSERT, _row(episode))
            return
        self._pending.append(_row(episode))
        if len(self._pending) >= GROUP:
            await self.flush()

    async def flush(self) -> None:
        rows, self._pending = self._pending, []
        if rows:
            with self.conn.transaction():
                self.conn.cursor().executemany(_INSERT, rows)

    async def bulk(self, episodes: Sequence[EpisodeData]) -> None:
        for start in range(0, len(episodes), GROUP):
            with self.conn.transaction():
                self.conn.cursor().executemany(_INSERT, [_row(e) for e in episodes[start : start + GROUP]])

    async def recent(self, agent: str, n: int) -> int:
        return len(self.conn.execute(_RECENT, (agent, n)).fetchall())

    async def stream(self, page: int) -> AsyncGenerator[int, None]:
        with self.conn.transaction(), self.conn.cursor(name="scan") as cursor:
            cursor.execute(f"SELECT {EPISODE_COLUMNS} FROM episodes ORDER BY id")
            while rows := cursor.fetchmany(page):
                yield len(rows)

    async def update_many(self, episodes: Sequence[EpisodeData]) -> None:
        now = time.time()
        with self.conn.transaction():
            self.conn.cursor().executemany(_UPDATE, [(1.0 - e.importance, now, e.id) for e in episodes])


class MemactorPgSystem(MemactorSystem):
    """`memactor.open(url)` (public API only) in a fresh schema, optionally reading through a replica."""

    family = "pg"

    def __init__(self, name: str, url: str, *, replica_url: str | None = None) -> None:
        """Configure the variant.

        Args:
            name: Its label.
            url: The primary's URL.
            replica_url: A streaming replica's URL: reads go there (read-your-writes kept by memactor).
        """
        super().__init__(name, durability="full")
        self._url = url
        self._replica_url = replica_url
        # The replica variant exists for the read figures.
        self.only = frozenset({"S2"}) if replica_url else _ALL
        self._schema: PgSchema | None = None

    async def open(self, path: Path) -> None:
        self._schema = PgSchema(self._url)
        self._schema.create()
        with psycopg.connect(self._schema.url, autocommit=True) as conn:
            migrate(conn)
        self._schema.copy("episodes", EPISODE_COLUMNS, episode_rows(path))
        replicas: list[str] = []
        if self._replica_url:
            replicas.append(with_schema(self._replica_url, self._schema.name))
            wait_for_replica(self._url, self._replica_url)  # the preloaded rows are no write of this handle
        await self._open_target(self._schema.url, replicas=replicas)

    async def open_in(self, schema_url: str) -> None:
        """Open memactor on a schema that already holds its tables (one of several writer processes)."""
        await self._open_target(schema_url)

    async def close_kept(self) -> None:
        """Close the handle, keeping the schema."""
        await super().close()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._schema is not None:
                self._schema.drop()


class LangGraphPgSystem(System):
    """LangGraph's `AsyncPostgresStore` as shipped, episodes under ``("episodes", agent_id)``."""

    family = "pg"
    layout = "langgraph"

    def __init__(self, name: str, url: str) -> None:
        """Configure it on the server at ``url``."""
        super().__init__(name)
        self._url = url
        self.only = _ALL
        self._schema: PgSchema | None = None
        self._stack = AsyncExitStack()
        self._store: Any = None

    async def open(self, path: Path) -> None:
        from langgraph.store.postgres.aio import AsyncPostgresStore

        self._schema = PgSchema(self._url)
        self._schema.create()
        self._stack = AsyncExitStack()
        self._store = await self._stack.enter_async_context(AsyncPostgresStore.from_conn_string(self._schema.url))
        await self._store.setup()
        self._schema.copy("store", "prefix, key, value, created_at, updated_at", store_rows(path))

    async def close(self) -> None:
        try:
            await self._stack.aclose()
        finally:
            self._store = None
            if self._schema is not None:
                self._schema.drop()

    async def write(self, episode: EpisodeData) -> None:
        await self._store.aput(("episodes", episode.agent_id), episode.id, episode.as_json())

    async def bulk(self, episodes: Sequence[EpisodeData]) -> None:
        from langgraph.store.base import PutOp

        await self._store.abatch([PutOp(("episodes", e.agent_id), e.id, e.as_json()) for e in episodes])

    async def recent(self, agent: str, n: int) -> int:
        return len(await self._store.asearch(("episodes", agent), limit=n))

    async def stream(self, page: int) -> AsyncGenerator[int, None]:
        offset = 0
        while items := await self._store.asearch(("episodes",), limit=page, offset=offset):
            offset += len(items)
            yield len(items)

    async def update_many(self, episodes: Sequence[EpisodeData]) -> None:
        await self.bulk([replace(e, importance=1.0 - e.importance) for e in episodes])
