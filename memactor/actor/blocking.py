"""`open_sync`: one generic blocking facade over the async handle, through an anyio blocking portal.

No method is written twice: `Blocking` wraps any object and turns its coroutine methods into blocking
calls, its async iterators into iterators and its async context managers into context managers. It is
safe to use from many threads at once; every call runs on the portal's event loop.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from .memory import Memory

__all__ = ["Blocking", "open_sync"]


class Blocking:
    """A blocking view of an async object (a `Memory`, a store, a batch builder...)."""

    def __init__(self, portal: BlockingPortal, target: Any) -> None:
        self._portal = portal
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            return functools.wraps(value)(functools.partial(self._call, value))
        if inspect.isasyncgenfunction(value):
            return functools.wraps(value)(lambda *args, **kwargs: _iterate(self._portal, value(*args, **kwargs)))
        if callable(value):
            return functools.wraps(value)(functools.partial(self._wrap_result, value))
        if hasattr(value, "__dict__") and type(value).__module__.startswith("memactor."):
            return Blocking(self._portal, value)
        return value

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._portal.call(functools.partial(function, *args, **kwargs))

    def _wrap_result(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        if hasattr(result, "__aenter__"):
            return _wrap_context(self._portal, result)
        return result

    def __repr__(self) -> str:
        return f"Blocking({self._target!r})"


@contextmanager
def _wrap_context(portal: BlockingPortal, manager: Any) -> Iterator[Any]:
    with portal.wrap_async_context_manager(manager) as value:
        yield value


def _iterate(portal: BlockingPortal, iterator: AsyncIterator[Any]) -> Iterator[Any]:
    async def next_item() -> tuple[bool, Any]:
        try:
            return True, await iterator.__anext__()
        except StopAsyncIteration:
            return False, None

    try:
        while True:
            more, item = portal.call(next_item)
            if not more:
                return
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            portal.call(aclose)


@contextmanager
def open_sync(path: str | os.PathLike[str], **options: Any) -> Iterator[Any]:
    """Open a memory file for blocking code; takes the same options as `memactor.open`.

    Yields:
        A blocking `Memory`: the same stores and methods, each call blocking until done.
    """
    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(Memory(path, **options)) as memory:
            yield Blocking(portal, memory)
