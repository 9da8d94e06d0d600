"""`Memory`, the actor handle, and `open`: everything a process needs to share one memory.

The handle owns the writer actor, the read pool and the store's engine (`memactor.engine.Engine`, picked
from the target by `memactor.engines.open_engine`); all of them start in ``async with`` and stop when it
ends, which drains and commits everything queued first. Nothing starts lazily.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Literal

from ..codec import encode
from ..embed.coalesce import Coalescer
from ..embed.protocol import Embedder, check_embedder
from ..engine import Engine, EngineOptions
from ..engines import engine_for
from ..errors import ClosedError, EmbedderMismatchError, InvalidInputError, ReadOnlyError
from ..model.commands import Command, SetEmbedder, SetQuota, TouchItems
from ..model.itemops import GetItems, SearchItems
from ..model.queries import Query
from ..model.stats import Statistics, WriterCounters
from ..model.validate import check_float, check_int
from .aio import finish, require_asyncio, undoable
from .batch import BatchContext
from .items import ItemStore
from .readpool import ReadPool, storage_statistics, stored_embedder
from .stores import EpisodeStore, FactStore, SkillStore
from .writer import Writer

__all__ = ["Durability", "Memory"]

Durability = Literal["full", "normal"]


class Memory:
    """A handle on one memory file: ``episodes``, ``facts``, ``skills``, ``items``, ``batch()``, ``statistics()``.

    Use it as ``async with memactor.open(path) as mem:``. Every method may be called from any number of
    tasks at once; writes are serialized by the writer actor's mailbox, reads run on the read pool.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | Engine[Any, Any],
        *,
        readonly: bool = False,
        durability: Durability = "full",
        max_batch: int = 512,
        max_pending: int = 1024,
        read_connections: int = 1,
        max_size: int | None = None,
        sweep_interval: float = 60.0,
        embedder: Embedder | None = None,
        allow_foreign_tables: bool = False,
        replicas: Sequence[str] = (),
    ) -> None:
        if isinstance(replicas, str):
            raise InvalidInputError("replicas= takes a list of URLs, not one string")
        if durability not in ("full", "normal"):
            raise InvalidInputError(f"durability must be 'full' or 'normal', not {durability!r}")
        check_int("max_batch", max_batch, low=1, high=1_000_000)
        check_int("max_pending", max_pending, low=1, high=10_000_000)
        check_int("read_connections", read_connections, low=1, high=64)
        if max_size is not None:
            check_int("max_size", max_size, low=1)
        check_float("sweep_interval", sweep_interval, low=0.001)
        self._engine = engine_for(path, EngineOptions(durability, max_size, allow_foreign_tables, tuple(replicas)))
        self.path = self._engine.target
        # Vectors are made here, in worker threads, before their command enters the writer's mailbox.
        self.embedding = None if embedder is None else Coalescer(check_embedder(embedder))
        self.readonly = readonly
        self._pool = ReadPool(self.path, read_connections, self._engine)
        self._writer = (
            None
            if readonly
            else Writer(
                self._engine,
                max_batch=max_batch,
                max_pending=max_pending,
                pause_readers=self._pool.paused,
                sweep_interval=sweep_interval,
            )
        )
        self._max_pending = max_pending
        self._writer_task: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._state: Literal["new", "opening", "open", "closed"] = "new"
        self.episodes = EpisodeStore(self, self.embedding)
        self.facts = FactStore(self, self.embedding)
        self.skills = SkillStore(self, self.embedding)
        self.items = ItemStore(self)

    async def __aenter__(self) -> Memory:
        if self._state != "new":
            raise ClosedError("a Memory handle can be opened once")
        try:
            require_asyncio("memactor.open")
        except BaseException:
            self._state = "closed"
            if self._writer is not None:
                self._writer.abandon()
            raise
        self._state = "opening"
        # Opening runs to its end in a task of its own: a cancellation cannot leave a thread, a connection
        # or the lock behind. If one arrives meanwhile, what was opened is closed before it goes on.
        opening = asyncio.ensure_future(self._open())
        try:
            await finish(opening)
            if self._state != "opening":  # `close()` was called meanwhile, from another task
                raise ClosedError(f"the memory handle on {self.path} was closed while it opened")
        except BaseException:
            self._state = "closed"
            if opening.done() and not opening.cancelled() and opening.exception() is None:
                await finish(self._shut_down())
            raise
        self._state = "open"
        return self

    async def _open(self) -> None:
        try:
            # Given back at once if this open is cancelled meanwhile (the loop shutting down).
            await undoable(functools.partial(self._engine.prepare, readonly=self.readonly), self._engine.release)
        except BaseException:
            if self._writer is not None:
                self._writer.abandon()
            raise
        try:
            await self._start()
        except BaseException:
            self._engine.release()  # every thread of this handle has ended by now
            raise

    async def _start(self) -> None:
        if self._writer is None:
            await self._pool.start()
            try:
                await self._check_embedder()
            except BaseException:
                await self._pool.close()
                raise
            return
        await self._writer.start()
        # A plain asyncio task rather than a task group entered here: a task group would have to be left by
        # the task that entered it, and `close()` may be called from any task.
        loop = asyncio.get_running_loop()
        self._writer_task = loop.create_task(self._writer.run(), name="memactor-writer")
        self._sweeper = loop.create_task(self._writer.sweep_periodically(), name="memactor-sweeper")
        try:
            await self._pool.start()
        except BaseException:
            # `stop` waits for `run` to end, so `run` must have been started: stopping first would hang.
            await self._stop_writer()
            raise
        try:
            if self.embedding is not None:
                embedder = self.embedding.embedder
                await self._writer.submit(encode(SetEmbedder(embedder.name, embedder.dim)), trusted=True)
        except BaseException:
            await self._stop_writer()
            await self._pool.close()
            raise

    async def _check_embedder(self) -> None:
        """A read-only handle checks the file's embedder too: it cannot record one."""
        if self.embedding is None:
            return
        embedder = self.embedding.embedder
        stored = await self._pool.call(stored_embedder)
        if stored is not None and stored != (embedder.name, embedder.dim):
            raise EmbedderMismatchError(
                f"this memory file's vectors were made by embedder {stored[0]!r} (dim {stored[1]}), not"
                f" {embedder.name!r} (dim {embedder.dim}); open it with that embedder, or without one"
            )

    async def _stop_writer(self) -> None:
        assert self._writer is not None and self._writer_task is not None
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.wait([self._sweeper])
        await self._writer.stop()  # releases the file lock once the writer's thread has ended
        # Reaps the task without raising: `run` raises only if it was cancelled (the writer then died, and
        # every caller heard so), which is no cancellation of whoever is closing.
        await asyncio.wait([self._writer_task])

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop intake, commit everything queued, checkpoint the WAL and close every connection.

        Idempotent. No thread of the handle outlives this call, and the file lock is released only once the
        writer's connection is closed. If the caller is cancelled, closing still completes in the
        background; until it has, this file cannot be opened for writing again (`AlreadyOpenError`), and a
        later `close()` waits for it.
        """
        if self._closing is None:
            if self._state != "open":
                self._state = "closed"
                return
            self._state = "closed"
            self._closing = asyncio.get_running_loop().create_task(self._shut_down(), name="memactor-close")
        await asyncio.shield(self._closing)

    async def _shut_down(self) -> None:
        try:
            if self._writer is not None and self._writer_task is not None:
                await self._stop_writer()
        finally:
            await self._pool.close()

    async def execute(self, command: Command) -> Any:
        """Send one command to the writer and wait until it is committed.

        Returns:
            The command's result.

        Raises:
            ClosedError: the handle is not open.
            ReadOnlyError: the handle was opened with ``readonly=True``.
            WriterDiedError: the writer stopped.
            CommandError: the command was rejected.
            StorageError: SQLite failed; nothing of its batch was committed.
        """
        if self._state != "open":
            raise ClosedError(f"the memory handle on {self.path} is {self._state}")
        if self._writer is None:
            raise ReadOnlyError(f"{self.path} was opened with readonly=True")
        # Commands are validated when built, so the writer may skip validating them again.
        return await self._writer.submit(encode(command), trusted=True)

    async def execute_encoded(self, frame: bytes) -> Any:
        """Send one command encoded elsewhere (e.g. by a server's client) and wait until it is committed.

        The writer decodes and validates it as untrusted input, so the bytes are decoded on this side only
        if the caller needs to look at the command (the server does, with ``validate=False``, to check scope).

        Raises:
            CodecError: the bytes are not a valid command. Otherwise as `execute`.
        """
        if self._state != "open":
            raise ClosedError(f"the memory handle on {self.path} is {self._state}")
        if self._writer is None:
            raise ReadOnlyError(f"{self.path} was opened with readonly=True")
        return await self._writer.submit(frame)

    async def query(self, query: Query) -> Any:
        """Answer one query on the read pool (see `memactor.model.queries`).

        Raises:
            ClosedError: the handle is not open.
        """
        if self._state != "open":
            raise ClosedError(f"the memory handle on {self.path} is {self._state}")
        result = await self._pool.run(query)
        if isinstance(query, (GetItems, SearchItems)) and query.refresh and self._writer is not None:
            self._refresh(query.now, result)
        return result

    def _refresh(self, now: float, items: list[Any]) -> None:
        """Queue one `TouchItems` for the TTL items a read returned, without waiting for it.

        The read does not wait: see `memactor.actor.items`. The refresh is best effort: when the mailbox is
        full or the handle is closing, it is dropped and those items keep the expiry they had.
        """
        addresses = tuple((item.namespace, item.key) for item in items if item.ttl is not None)
        if addresses:
            assert self._writer is not None
            self._writer.post(encode(TouchItems(addresses, now)))

    def batch(self) -> BatchContext:
        """Collect writes in an ``async with`` block and commit them as one atomic command on exit.

        Nothing is sent if the block raises. ``b.episodes.add(...)`` returns the new id at once.
        """
        return BatchContext(self)

    async def set_max_size(self, max_size: int | None) -> None:
        """Set, raise or lift (None) the ``max_size`` quota of the database file, in bytes."""
        await self.execute(SetQuota(max_size))

    def statistics(self) -> Statistics:
        """A frozen snapshot of the writer's and the read pool's counters."""
        counters = self._writer.counters if self._writer is not None else WriterCounters()
        depth = self._writer.queue_depth if self._writer is not None else 0
        return counters.snapshot(queue_depth=depth, queue_capacity=self._max_pending, reads=self._pool.reads)

    async def storage_statistics(self) -> dict[str, int]:
        """Figures about the store itself, read on the read pool (`memactor.engine.Engine.statistics`).

        Every engine reports ``schema_version`` and ``size_bytes``; SQLite adds ``wal_bytes``, ``page_size``
        and ``free_pages``.

        Raises:
            ClosedError: the handle is not open.
            StorageError: the engine failed.
        """
        if self._state != "open":
            raise ClosedError(f"the memory handle on {self.path} is {self._state}")
        return await self._pool.call(storage_statistics)
