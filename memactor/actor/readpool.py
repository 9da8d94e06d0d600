"""The read pool: read-only connections, each on its own lane, answering queries concurrently.

Reads never pass through the writer's mailbox. Each lane answers its calls in FIFO order, and a query
goes to the lane with the fewest calls waiting, so a few hot readers cannot starve the others; the reads of
one stream keep to one lane (`same_lane`). What a
connection is and how a query is answered is the engine's (`memactor.engine.Engine`): the steps below run
on a lane and reach it through `memactor.actor.lane.current_engine`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from ..engine import Engine
from ..engines import open_engine
from ..errors import ClosedError
from ..model.queries import Query
from .lane import Lane, current_engine

T = TypeVar("T")

__all__ = [
    "LaneAffinity",
    "ReadPool",
    "connect_reader",
    "current_affinity",
    "run_query",
    "same_lane",
    "storage_statistics",
    "stored_embedder",
]


class LaneAffinity:
    """The lane a run of reads keeps to, e.g. the pages of one stream: empty until its first read picks one.

    With replicas, each lane reads from one replica, so a stream's pages all come from the same replica (or,
    page by page, from the primary when that replica has not replayed the handle's last commit yet).

    Attributes:
        lane: The lane, once picked.
        key: The run's number on a server connection, given by a server's client (`memactor.net.client`)
            when it first sends one of its reads, so that the server keeps them to one lane of its own.
    """

    __slots__ = ("key", "lane")

    def __init__(self) -> None:
        self.lane: Lane | None = None
        self.key: int | None = None


# Set only around one read (see `same_lane`), so it never leaks into the caller's other reads.
_AFFINITY: contextvars.ContextVar[LaneAffinity | None] = contextvars.ContextVar("memactor_lane_affinity", default=None)


@contextlib.contextmanager
def same_lane(affinity: LaneAffinity) -> Iterator[None]:
    """Send the reads made in the body (by this task) to ``affinity``'s lane, picking it on the first.

    A context variable rather than a parameter, so every `Backend` passes it through unchanged; a backend
    without a read pool (a server's client) sends its key along (see `current_affinity`). Hold it around
    one read, never across a ``yield``: an async generator's context is its caller's.
    """
    token = _AFFINITY.set(affinity)
    try:
        yield
    finally:
        _AFFINITY.reset(token)


def current_affinity() -> LaneAffinity | None:
    """The affinity of the enclosing `same_lane`, if any: what a backend without lanes of its own passes on."""
    return _AFFINITY.get()


def connect_reader(engine: Engine[Any, Any]) -> Any:
    """Open one read connection of ``engine`` (on its lane's thread).

    Raises:
        StorageError: it cannot be opened.
    """
    return engine.connect_reader()


def run_query(conn: Any, query: Query) -> Any:
    """Answer ``query`` on a read lane's connection: a step of its own, so a test can hold a lane with it."""
    return current_engine().run_query(conn, query)


def stored_embedder(conn: Any) -> tuple[str, int] | None:
    """The embedder the store records, or None."""
    return current_engine().stored_embedder(conn)


def storage_statistics(conn: Any) -> dict[str, int]:
    """The engine's figures about the store (`memactor.engine.Engine.statistics`)."""
    return current_engine().statistics(conn)


class ReadPool:
    """``size`` read connections to one store."""

    def __init__(self, path: str, size: int, engine: Engine[Any, Any] | None = None) -> None:
        """Args:
        path: The store (a SQLite file's path), used to pick an engine when none is given.
        size: How many read connections (and lanes).
        engine: The engine that opens them (by default, the one `memactor.engines.open_engine` picks).
        """
        engine = engine if engine is not None else open_engine(path)
        self._lanes = [Lane(f"memactor-reader-{i}", engine, lambda: connect_reader(engine)) for i in range(size)]
        self._open = False
        self._next = 0
        self.reads = 0

    async def start(self) -> None:
        """Open every connection; on failure, close the ones already open and raise."""
        started: list[Lane] = []
        try:
            for lane in self._lanes:
                await lane.start()
                started.append(lane)
        except BaseException:
            for lane in started:
                await lane.close()
            raise
        self._open = True

    async def run(self, query: Query) -> Any:
        """Answer ``query`` on the least busy connection, or on the lane of the enclosing `same_lane`.

        Raises:
            ClosedError: the pool was closed.
            StorageError: the engine failed.
            CommandError: the query itself was refused (e.g. `NotFoundError`).
        """
        if not self._open:
            raise ClosedError("the memory handle is closed")
        self.reads += 1
        return await self._pick().call(run_query, query)

    @contextlib.asynccontextmanager
    async def paused(self, limit: float = 0.05) -> AsyncIterator[bool]:
        """Hold every lane between two queries while the body runs, so no read transaction of this pool is
        open; queries sent meanwhile wait their turn.

        The writer resets the WAL in here: a reset waits for every reader to finish, and a lane answering
        query after query leaves it only brief gaps to find, which cost writes hundreds of milliseconds.
        Each lane runs its calls in order, so a call that blocks is a pause that needs no lock.

        Args:
            limit: How long to wait, in seconds, for every lane to reach its hold. A lane busy with a long
                query may not get there in time; the pause then gives up, since a WAL reset only saves
                space and must never hold writes up for as long as a read runs.

        Yields:
            True if every lane is held, False if the pause gave up (nothing is held then).

        Raises:
            StorageError: a lane's connection has ended (nothing is held then either).
        """
        if not self._open:
            yield True
            return
        loop = asyncio.get_running_loop()
        release = threading.Event()
        holding = [loop.create_future() for _ in self._lanes]
        # Futures, not tasks: a hold still queued behind a long query when the pause gives up completes on
        # its own later (and returns at once, `release` being set); nothing waits for it.
        holds: list[asyncio.Future[None]] = []
        try:
            for lane, held in zip(self._lanes, holding, strict=True):
                holds.append(lane.submit(_hold, loop, held, release))  # StorageError if the lane has ended
            _, late = await asyncio.wait(holding, timeout=limit)
            if late:
                release.set()
                yield False
                return
            yield True
        finally:
            release.set()
            parked = [hold for hold, held in zip(holds, holding, strict=False) if held.done()]
            if parked:  # each returns at once now; waiting keeps a resumed lane's next query after its hold
                await asyncio.wait(parked)

    async def call(self, function: Callable[[Any], T]) -> T:
        """Run ``function(connection)`` on the least busy connection, or on the lane of the enclosing
        `same_lane` (a step that uses `current_engine`).

        Raises:
            ClosedError: the pool was closed.
            StorageError: the engine failed.
        """
        if not self._open:
            raise ClosedError("the memory handle is closed")
        return await self._pick().call(function)

    def _pick(self) -> Lane:
        affinity = _AFFINITY.get()
        if affinity is not None:
            if affinity.lane is None or affinity.lane not in self._lanes:  # not yet, or another pool's lane
                affinity.lane = self._least_busy()
            return affinity.lane
        return self._least_busy()

    def _least_busy(self) -> Lane:
        # Least pending first; among equals, rotate so idle lanes share the work.
        self._next = (self._next + 1) % len(self._lanes)
        rotated = self._lanes[self._next :] + self._lanes[: self._next]
        return min(rotated, key=lambda lane: lane.pending)

    async def close(self) -> None:
        """Answer every query already queued, then close every connection."""
        self._open = False
        for lane in self._lanes:
            await lane.close()


# How long a lane waits for the body of `ReadPool.paused` at most: the pause only makes a WAL reset quicker,
# so a lane that stops waiting costs speed, never correctness.
_HOLD_LIMIT_S = 30.0


def _hold(conn: Any, loop: asyncio.AbstractEventLoop, held: asyncio.Future[None], release: threading.Event) -> None:
    loop.call_soon_threadsafe(_resolve, held)
    release.wait(_HOLD_LIMIT_S)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
