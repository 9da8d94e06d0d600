"""What memactor needs from asyncio beyond anyio: refusing another backend, and finishing what must finish.

memactor's lanes answer through asyncio futures and ``loop.call_soon_threadsafe``, which cost a fraction of
anyio's portable primitives on the write path (``python -m bench.primitives``), so memactor runs on anyio's
asyncio backend only. `require_asyncio` says so at once, before any lock is taken or thread started.

On asyncio, ``anyio.CancelScope(shield=True)`` does not stop a plain ``task.cancel()``. Work that must
finish once started (a group commit handed to SQLite, opening or closing the writer) therefore runs in a
task of its own, and `finish` waits for it whatever cancellation arrives meanwhile. A blocking step that takes
something (a lock) runs in a worker thread through `undoable`, which gives it back if nobody is left to use it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import sniffio

from ..errors import UnsupportedBackendError

__all__ = ["finish", "require_asyncio", "undoable"]

T = TypeVar("T")


def require_asyncio(what: str) -> None:
    """Refuse any event loop but asyncio's.

    Args:
        what: What is being started, for the message (e.g. ``"memactor.open"``).

    Raises:
        UnsupportedBackendError: the running async library is not asyncio (trio, or none at all).
    """
    try:
        library: str | None = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        library = None
    if library != "asyncio":
        raise UnsupportedBackendError(
            f"{what} runs on asyncio only, not {library or 'outside an event loop'}: "
            'start it with asyncio.run(...) or anyio.run(..., backend="asyncio")'
        )


async def finish(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to its end in a task of its own, even if the caller is cancelled meanwhile.

    Returns:
        What ``awaitable`` returned, if the caller was not cancelled.

    Raises:
        CancelledError: the caller was cancelled; raised only once ``awaitable`` has ended.
        Exception: whatever ``awaitable`` raised.
    """
    task = asyncio.ensure_future(awaitable)
    interrupted: BaseException | None = None
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.done():  # the task itself was cancelled (the loop is shutting down)
                raise
            interrupted = exc
    if interrupted is not None:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
        raise interrupted
    return task.result()


async def undoable(do: Callable[[], object], undo: Callable[[], object]) -> None:
    """Run blocking ``do`` in a worker thread; if the caller is cancelled first, ``undo`` runs once ``do`` has.

    A cancelled ``await`` does not stop a worker thread: without this, what ``do`` took (the writer's lock) once
    it ended would be held by nobody. ``undo`` runs in whichever of the thread and the caller sees both ``do``
    done and the caller gone; it must be idempotent.

    Raises:
        CancelledError: the caller was cancelled (``do`` may still be running; ``undo`` follows it).
        Exception: whatever ``do`` raised.
    """
    guard = threading.Lock()  # orders "done" against "abandoned": they happen on two threads
    state = {"done": False, "abandoned": False}

    def run() -> None:
        do()
        with guard:
            state["done"] = True
            if state["abandoned"]:
                undo()

    try:
        await asyncio.to_thread(run)
    except asyncio.CancelledError:
        with guard:
            state["abandoned"] = True
            if state["done"]:
                undo()
        raise
