"""`open_sync`: one generic blocking facade over the async handles, through an anyio blocking portal.

No method is written twice: `Blocking` wraps any object and turns its coroutine methods into blocking
calls, its async iterators into iterators and its async context managers into context managers. It is
safe to use from many threads at once; every call runs on the portal's event loop.

`SyncHandle` owns that portal and the async handle it opened, so it needs no ``with`` block: an
application may keep one at module level and call ``close()`` when it is done, from any thread. One left
open is closed at interpreter exit (everything queued is committed first). Every use after ``close()``
raises `ClosedError`, on the handle and on every store, batch or stream taken from it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from ..engine import Engine
from ..errors import ClosedError
from .memory import Memory

__all__ = ["Blocking", "SyncHandle", "open_sync"]


class Runner:
    """The portal of one blocking handle, and whether that handle was closed."""

    def __init__(self, portal: BlockingPortal, name: str) -> None:
        self.portal = portal
        self.name = name
        self.closed = False

    def check(self) -> None:
        """Raise `ClosedError` if the handle was closed."""
        if self.closed:
            raise ClosedError(f"{self.name} is closed; open a new handle to go on")

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` on the portal's event loop and wait for its result."""
        self.check()
        try:
            return self.portal.call(function, *args)
        except RuntimeError:
            # Closed by another thread between the check and the call: the portal has stopped.
            self.check()
            raise


class Blocking:
    """A blocking view of an async object (a `Memory`, a store, a batch builder...)."""

    def __init__(self, runner: Runner, target: Any) -> None:
        self._runner = runner
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            return functools.wraps(value)(functools.partial(self._call, value))
        if inspect.isasyncgenfunction(value):
            return functools.wraps(value)(functools.partial(self._iterate, value))
        if callable(value):
            return functools.wraps(value)(functools.partial(self._wrap_result, value))
        if hasattr(value, "__dict__") and type(value).__module__.startswith("memactor."):
            return Blocking(self._runner, value)
        return value

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._runner.call(functools.partial(function, *args, **kwargs))

    def _iterate(self, function: Callable[..., AsyncIterator[Any]], *args: Any, **kwargs: Any) -> Iterator[Any]:
        self._runner.check()  # now, not at the first page: a closed handle refuses the stream itself
        return _iterate(self._runner, function(*args, **kwargs))

    def _wrap_result(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._runner.check()
        result = function(*args, **kwargs)
        if hasattr(result, "__aenter__"):
            return _wrap_context(self._runner, result)
        return result

    def __repr__(self) -> str:
        return f"Blocking({self._target!r})"


@contextlib.contextmanager
def _wrap_context(runner: Runner, manager: Any) -> Iterator[Any]:
    runner.check()
    with runner.portal.wrap_async_context_manager(manager) as value:
        yield value


def _iterate(runner: Runner, iterator: AsyncIterator[Any]) -> Iterator[Any]:
    async def next_item() -> tuple[bool, Any]:
        try:
            return True, await iterator.__anext__()
        except StopAsyncIteration:
            return False, None

    try:
        while True:
            more, item = runner.call(next_item)
            if not more:
                return
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None and not runner.closed:  # a closed handle's loop has ended the stream already
            with contextlib.suppress(ClosedError):
                runner.call(aclose)


class SyncHandle(Blocking):
    """A blocking handle that owns its event loop thread: keep it as long as needed, then ``close()`` it.

    Also a context manager (``with open_sync(path) as mem:``), which closes it on leaving the block.
    """

    def __init__(self, opener: Callable[[], Awaitable[Any]], name: str) -> None:
        """Start a portal, build the async handle with ``opener`` on it and enter it.

        Args:
            opener: A coroutine function returning the async handle, not yet entered.
            name: How messages name the handle (e.g. "the memory handle on agents.db").
        """
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()
        with contextlib.ExitStack() as opening:
            portal = opening.enter_context(start_blocking_portal())
            target = opening.enter_context(portal.wrap_async_context_manager(portal.call(opener)))
            self._stack = opening.pop_all()
        super().__init__(Runner(portal, name), target)
        # A handle kept at module level and never closed is closed before the interpreter exits. The
        # portal's thread is a daemon thread, still running while atexit's callbacks run.
        atexit.register(self.close)

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._runner.closed

    def close(self) -> None:
        """Commit everything queued, close the async handle and stop its event loop thread.

        Idempotent, and safe from any thread; a call made while another thread is closing the handle
        returns once it is closed.
        """
        self._close(None, None, None)

    def _close(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        with self._lock:
            if self._runner.closed:
                return
            self._runner.closed = True
            atexit.unregister(self.close)
            self._stack.__exit__(exc_type, exc, tb)

    def __enter__(self) -> SyncHandle:
        self._runner.check()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"<SyncHandle {self._runner.name}{' (closed)' if self._runner.closed else ''}>"


def open_sync(path: str | os.PathLike[str] | Engine[Any, Any], **options: Any) -> SyncHandle:
    """Open a memory for blocking code; takes the same target and options as `memactor.open`.

    The handle is open on return. Use it in a ``with`` block, or keep it (at module level, for a web app)
    and call ``close()`` when done; one never closed is closed at interpreter exit.

    Returns:
        A blocking `Memory`: the same stores and methods, each call blocking until done.

    Raises:
        As `memactor.open`, on opening; `ClosedError` on every use after ``close()``.
    """
    memory = Memory(path, **options)  # bad options raise here, before any thread starts

    async def opener() -> Memory:
        return memory

    return SyncHandle(opener, f"the memory handle on {memory.path}")
