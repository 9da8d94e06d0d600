"""A lane: one dedicated thread that owns one engine connection and runs sync functions on it.

Calls run in FIFO order. Every call waiting when the thread wakes is run in that one wake-up and answered
in one hop back to the event loop, so a busy lane costs one thread hop per run of calls, not per call.
This is the writer's group-commit trick applied to any connection; the writer and each reader use one.
Lanes are asyncio-only: they answer through ``loop.call_soon_threadsafe``.

A lane whose thread has ended answers every call still queued, and every later one, with `StorageError`:
no caller waits on a thread that is gone.

A lane serves one engine (`memactor.engine.Engine`): a function running on it finds that engine with
`current_engine`, as a coroutine finds its loop with ``asyncio.get_running_loop``, so the writer's and the
read pool's steps take just the connection and their own arguments.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..engine import Engine
from ..errors import StorageError

__all__ = ["Lane", "current_engine"]

T = TypeVar("T")
_Call = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]
_Answer = tuple["asyncio.Future[Any]", Any, BaseException | None]


class Lane:
    """A thread with its own connection; `call` runs a function on it from the event loop."""

    def __init__(
        self,
        name: str,
        engine: Engine[Any, Any],
        connect: Callable[[], Any],
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        """Args:
        name: The thread's name.
        engine: The engine whose connection the lane owns: it closes the connection when the lane ends,
            and `current_engine` returns it on the lane's thread.
        connect: Opens the connection, on the lane's thread.
        on_exit: Called once the thread has ended, its connection closed (or never opened): on the event
            loop, whether or not anyone still waits for the lane; or, if the loop is already closed, by the
            thread as its last act. May be set later, until `close` is called.
        """
        self._name = name
        self._engine = engine
        self._connect = connect
        self.on_exit = on_exit
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread: _LaneThread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Future[None] | None = None
        self.pending = 0

    async def start(self) -> None:
        """Start the thread and open the connection on it.

        Raises:
            Exception: whatever opening the connection raised.
        """
        self._loop = asyncio.get_running_loop()
        self._stopped = self._loop.create_future()
        ready: asyncio.Future[None] = self._loop.create_future()
        self._thread = _LaneThread(self._engine, target=self._run, args=(ready,), name=self._name, daemon=True)
        self._thread.start()
        try:
            await ready
        except BaseException:
            await self._join()
            raise

    def submit(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue ``function(connection, *args)`` on the lane's thread; the future holds its outcome.

        Raises:
            StorageError: the lane's thread has ended (its connection failed, or the lane was closed).
        """
        assert self._loop is not None and self._stopped is not None, "Lane.start() was not awaited"
        if self._stopped.done():
            raise StorageError(f"the {self._name} connection is closed")
        future: asyncio.Future[T] = self._loop.create_future()
        self.pending += 1
        self._calls.put((function, args, future))
        return future

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(connection, *args)`` on the lane's thread and return its result.

        Raises:
            StorageError: the lane's thread has ended before running it.
            Exception: whatever ``function`` raised. If the caller is cancelled, the call still runs.
        """
        return await self.submit(function, *args)

    @property
    def running(self) -> bool:
        """The thread was started and has not ended."""
        return self._stopped is not None and not self._stopped.done()

    async def close(self) -> None:
        """Run every call already queued, close the connection and wait until the thread has ended."""
        if self._thread is None:
            return
        self._calls.put(None)
        await self._join()

    async def _join(self) -> None:
        assert self._stopped is not None
        # Wait without blocking the loop: the thread resolves `_stopped` as its very last act.
        await asyncio.shield(self._stopped)
        assert self._thread is not None
        self._thread.join()
        self._thread = None

    def _run(self, ready: asyncio.Future[None]) -> None:
        conn: Any = None
        try:
            try:
                conn = self._connect()
            except BaseException as exc:  # noqa: BLE001 - handed to start()'s caller, not swallowed
                self._tell([_answer(ready, None, exc)])
                return
            self._tell([_answer(ready, None, None)])
            self._serve(conn)
        finally:
            if conn is not None:
                self._engine.close(conn)  # never raises: a broken connection is freed all the same
            if not self._tell_loop(self._ended) and self.on_exit is not None:
                self.on_exit()  # no event loop is left to hear of it: the connection is closed, that will do

    def _serve(self, conn: Any) -> None:
        while True:
            first = self._calls.get()
            calls = [first]
            while first is not None:
                try:
                    item = self._calls.get_nowait()
                except queue.Empty:
                    break
                calls.append(item)
                if item is None:
                    break
            answers = [_run_one(conn, call) for call in calls if call is not None]
            self._tell_loop(self._deliver, answers)
            if calls[-1] is None:
                return

    def _tell(self, answers: list[_Answer]) -> None:
        self._tell_loop(_settle, answers)

    def _tell_loop(self, callback: Callable[..., None], *args: Any) -> bool:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            return False  # the event loop is closed: nobody is left waiting for this answer
        return True

    def _deliver(self, answers: list[_Answer]) -> None:
        self.pending -= len(answers)
        _settle(answers)

    def _ended(self) -> None:
        # On the loop's thread, the only one that queues calls: none can be queued after this drain. It runs
        # whether or not anyone still waits for the lane (a cancelled close, a loop shutting down).
        assert self._stopped is not None
        if self._thread is not None:
            self._thread.join()  # telling the loop was the thread's last act: this returns at once
        if not self._stopped.done():
            self._stopped.set_result(None)
        stranded: list[_Answer] = []
        while True:
            try:
                call = self._calls.get_nowait()
            except queue.Empty:
                break
            if call is not None:
                stranded.append(_answer(call[2], None, StorageError(f"the {self._name} connection is closed")))
        self._deliver(stranded)
        if self.on_exit is not None:
            self.on_exit()


class _LaneThread(threading.Thread):
    """A lane's thread, which knows the engine it serves."""

    def __init__(self, engine: Engine[Any, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine = engine


def current_engine() -> Engine[Any, Any]:
    """The engine of the lane whose thread calls this (for the steps the writer and the read pool run there).

    Raises:
        RuntimeError: the calling thread is no lane's.
    """
    thread = threading.current_thread()
    if not isinstance(thread, _LaneThread):
        raise RuntimeError(f"current_engine() runs on a lane's thread, not on {thread.name}")
    return thread.engine


def _answer(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> _Answer:
    return future, value, error


def _run_one(conn: Any, call: _Call) -> _Answer:
    function, args, future = call
    try:
        return future, function(conn, *args), None
    except Exception as exc:  # noqa: BLE001 - answered to the caller that waits for it
        return future, None, exc


def _settle(answers: list[_Answer]) -> None:
    for future, value, error in answers:
        if future.done():  # its caller was cancelled and stopped waiting
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
