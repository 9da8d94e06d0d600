"""`Home`: the event loop a memactor handle lives on, and how to reach it from any thread or loop.

A handle belongs to the loop it was entered on (its mailbox and reply slots are that loop's). LangGraph
calls a store from that loop (async nodes), from other loops, and from worker threads: sync nodes run in a
thread pool, also under ``ainvoke``. So every call is sent to the home loop: awaited directly there,
through ``asyncio.run_coroutine_threadsafe`` from anywhere else. A blocking call made on the home loop's
own thread would wait for a loop it blocks: it is refused, as LangGraph's own async stores refuse it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..errors import ClosedError, MemactorError

__all__ = ["Home", "SyncCallInLoopError"]

T = TypeVar("T")


class SyncCallInLoopError(MemactorError, asyncio.InvalidStateError):
    """Raised when a blocking store method is called on the event loop that runs the store's handle."""


class Home:
    """The loop of one handle.

    Args:
        loop: The loop the handle was entered on.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.closed = False

    async def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Await ``work()`` on the home loop, from any loop."""
        self._check_open()
        if asyncio.get_running_loop() is self.loop:
            return await work()
        return await asyncio.wrap_future(self._submit(work))

    def run_sync(self, work: Callable[[], Coroutine[Any, Any, T]], method: str) -> T:
        """Run ``work()`` on the home loop and block this thread until it is done.

        Raises:
            SyncCallInLoopError: this thread runs the home loop (blocking it would wait forever).
        """
        self._check_open()
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            raise SyncCallInLoopError(
                f"MemactorStore.{method}() blocks, and was called on the event loop that runs the store:"
                " use the async methods there (aget, aput, asearch, adelete, alist_namespaces, abatch), or a"
                " store opened with `with MemactorStore.from_path(...)`, which runs on a thread of its own"
            )
        return self._submit(work).result()

    def _submit(self, work: Callable[[], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        coroutine = work()
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        except RuntimeError as exc:  # the loop has stopped
            coroutine.close()
            raise ClosedError("the MemactorStore's event loop has stopped: the store was closed") from exc

    def _check_open(self) -> None:
        if self.closed:
            raise ClosedError("this MemactorStore was closed (its `with` block ended)")
