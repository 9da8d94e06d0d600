"""`MemactorStore`: LangGraph's `BaseStore` over a memactor handle (`mem.items`), for ``store=`` and nodes.

Every node of every graph, in this process or (through ``memactor serve``) in others, reads through
memactor's read pool and writes through its single writer: parallel nodes do not queue behind one lock,
and their writes share group commits. Semantics are those of LangGraph's ``InMemoryStore``; ``docs/langgraph.md``
lists where they differ.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, ExitStack
from types import TracebackType
from typing import Any

from anyio.from_thread import start_blocking_portal
from langgraph.store.base import BaseStore, IndexConfig, Op, Result, TTLConfig

from ..actor.backend import Backend
from ..actor.memory import Memory
from ..errors import InvalidInputError, MemactorError
from ..net.client import RemoteMemory
from .answer import run_plan
from .convert import SECONDS_PER_MINUTE, plan
from .home import Home

__all__ = ["IndexUnsupportedError", "MemactorStore", "StoreOpener"]


class IndexUnsupportedError(MemactorError, NotImplementedError):
    """Raised when a MemactorStore is built with ``index=``: memactor has no vector search yet."""


def _refuse_index(index: IndexConfig | None) -> None:
    if index is not None:
        raise IndexUnsupportedError(
            "MemactorStore cannot take index=: semantic (vector) search needs embeddings, which memactor does"
            " not support yet. Build the store without index= (search then filters by value, and ignores"
            " `query` as InMemoryStore does without an index)"
        )


class MemactorStore(BaseStore):
    """A LangGraph store whose items live in a memactor file (`mem.items`).

    Args:
        handle: An entered `memactor.Memory` (``memactor.open``) or `memactor.RemoteMemory`
            (``memactor.connect``). The store does not close it.
        ttl: LangGraph's TTL settings: ``default_ttl`` (minutes) for puts that give none, and
            ``refresh_on_read`` (default True). Expired items are invisible at once; the handle's writer
            deletes them every ``sweep_interval`` seconds.
        index: Not supported yet: any value raises `IndexUnsupportedError`.
        loop: The event loop the handle was entered on; by default the running one.

    Raises:
        IndexUnsupportedError: ``index`` was given.
        InvalidInputError: no ``loop`` was given and none is running.
    """

    supports_ttl = True

    def __init__(
        self,
        handle: Memory | RemoteMemory,
        *,
        ttl: TTLConfig | None = None,
        index: IndexConfig | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        _refuse_index(index)
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise InvalidInputError(
                    "MemactorStore(handle) needs the event loop the handle runs on: build it inside that"
                    " loop, pass loop=, or use `with MemactorStore.from_path(path)`"
                ) from None
        self._backend: Backend = handle
        self._home = Home(loop)
        self.ttl_config = ttl

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations, blocking; from any thread except the one running the handle's loop.

        Raises:
            SyncCallInLoopError: called on the handle's own event loop (use `abatch` there).
        """
        checked = plan(ops, self._clock())
        return self._home.run_sync(lambda: run_plan(self._backend, checked), "batch")

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations: the reads first, then all the writes as one atomic command."""
        checked = plan(ops, self._clock())
        return await self._home.run(lambda: run_plan(self._backend, checked))

    @staticmethod
    def _clock() -> float:
        return time.time()

    def _close(self) -> None:
        self._home.closed = True

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike[str],
        *,
        ttl: TTLConfig | None = None,
        index: IndexConfig | None = None,
        **options: Any,
    ) -> StoreOpener:
        """Open a memory file for a store: ``with`` (its own thread and loop) or ``async with`` (this loop).

        Args:
            path: The SQLite file (see `memactor.open`).
            ttl: As for `MemactorStore`; its ``sweep_interval_minutes`` sets the writer's sweep.
            index: Not supported yet (raises `IndexUnsupportedError`).
            **options: Options of `memactor.open`.
        """
        _refuse_index(index)
        minutes = (ttl or {}).get("sweep_interval_minutes")
        if minutes is not None and "sweep_interval" not in options:
            options["sweep_interval"] = float(minutes) * SECONDS_PER_MINUTE
        return StoreOpener(lambda: Memory(path, **options), ttl)

    @classmethod
    def from_url(
        cls, url: str, *, ttl: TTLConfig | None = None, index: IndexConfig | None = None, **options: Any
    ) -> StoreOpener:
        """Connect to ``memactor serve`` for a store: ``with`` (own thread and loop) or ``async with``.

        Args:
            url: As for `memactor.connect` (``unix:///path`` or ``tcp://host:port``).
            ttl: As for `MemactorStore` (the server's ``sweep_interval`` applies).
            index: Not supported yet (raises `IndexUnsupportedError`).
            **options: Options of `memactor.connect` (``token=``...).
        """
        _refuse_index(index)
        return StoreOpener(lambda: RemoteMemory(url, **options), ttl)


class StoreOpener:
    """What `MemactorStore.from_path` and `from_url` return: a sync and an async context manager.

    ``with`` runs the handle on an event loop of its own, in a thread the store owns (a blocking portal):
    every method then works from any thread and any loop, sync or async. ``async with`` runs it on the
    current loop: the fastest for async nodes on that loop, where only the ``a`` methods may be used.
    """

    def __init__(self, open_handle: Callable[[], AbstractAsyncContextManager[Any]], ttl: TTLConfig | None) -> None:
        self._open_handle = open_handle
        self._ttl = ttl
        self._stack: ExitStack | None = None
        self._astack: AsyncExitStack | None = None
        self._store: MemactorStore | None = None

    def __enter__(self) -> MemactorStore:
        with ExitStack() as stack:
            portal = stack.enter_context(start_blocking_portal())
            handle = stack.enter_context(portal.wrap_async_context_manager(self._open_handle()))
            loop = portal.call(_running_loop)
            self._store = MemactorStore(handle, ttl=self._ttl, loop=loop)
            self._stack = stack.pop_all()
        return self._store

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._store is not None and self._stack is not None
        self._store._close()
        self._stack.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> MemactorStore:
        async with AsyncExitStack() as stack:
            handle = await stack.enter_async_context(self._open_handle())
            self._store = MemactorStore(handle, ttl=self._ttl)
            self._astack = stack.pop_all()
        return self._store

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._store is not None and self._astack is not None
        self._store._close()
        await self._astack.__aexit__(exc_type, exc, tb)


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
