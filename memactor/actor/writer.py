"""The writer actor: the only task that writes, and so the only lock.

Callers put ``(encoded command, reply future)`` into a bounded anyio memory-object stream. The writer
takes one item, drains up to ``max_batch - 1`` more without waiting, and applies the whole run in one
thread hop on its own connection (`memactor.engine.Engine.apply_batch`): one transaction, one COMMIT. Only
then does it answer each caller.

A failed batch fails only its own callers, with `StorageError`. If the connection itself is broken, the
writer closes it and the next batch opens a new one; while reopening fails, each batch waits for the next
attempt (backing off from 50 ms to 5 s) and fails with `StorageError` if it fails too: nobody hangs.
Only a writer that cannot go on (a newer schema on reopening, the writer's task cancelled) dies: then
every pending and later caller gets `WriterDiedError`.

Once handed to the engine, a batch runs to its end in a task of its own (`memactor.actor.aio.finish`) and answers
its callers, whatever cancellation reaches the writer meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..codec import encode
from ..engine import Engine
from ..errors import ClosedError, MemactorError, SchemaError, StorageError, WriterDiedError
from ..model.commands import SweepItems
from ..model.stats import WriterCounters
from .aio import finish
from .lane import Lane, current_engine

__all__ = ["Writer"]

_Item = tuple[bytes, bool, "asyncio.Future[Any]"]

# Past this size the writer forces the engine's log (SQLite: the WAL) back to its start after a batch
# (see `Writer._bound_wal`).
WAL_RESTART_BYTES = 16 * 1024 * 1024
# A WAL reset skipped because a reader was busy is tried again this much later (seconds).
WAL_RESET_RETRY_S = 1.0
# Backoff between attempts to reopen a broken connection (seconds): doubling from the first to the last.
RECONNECT_FIRST_S = 0.05
RECONNECT_MAX_S = 5.0


# The writer's steps on its lane: each a function of its own, so a test can hold or watch the writer's thread.


def apply_batch(conn: Any, frames: list[bytes], trusted: list[bool]) -> list[object]:
    """Apply one group commit on the writer's connection (`memactor.engine.Engine.apply_batch`)."""
    return current_engine().apply_batch(conn, frames, trusted)


def _checkpoint(conn: Any, mode: str = "TRUNCATE") -> bool:
    """The engine's upkeep (`memactor.engine.Engine.maintain`): ``"RESTART"`` once the log outgrew its bound,
    with this process's readers parked; ``"TRUNCATE"`` at close (SQLite's names for the checkpoints they are)."""
    return current_engine().maintain(conn, final=mode == "TRUNCATE")


class Writer:
    """The single-writer actor for one store."""

    def __init__(
        self,
        engine: Engine[Any, Any],
        *,
        max_batch: int,
        max_pending: int,
        pause_readers: Callable[[], AbstractAsyncContextManager[bool]],
        sweep_interval: float = 60.0,
    ) -> None:
        """Args:
        engine: The store's engine, already prepared (`Engine.prepare`); the writer calls its `release`
            once its connection is closed for good.
        max_batch: The most commands one group commit applies.
        max_pending: The mailbox's bound.
        pause_readers: Parks this process's read lanes while the engine's log is brought back to its start.
        sweep_interval: Seconds between sweeps of expired items.
        """
        self._engine = engine
        self._lane = Lane("memactor-writer", engine, engine.connect_writer)
        self._send: MemoryObjectSendStream[_Item]
        self._receive: MemoryObjectReceiveStream[_Item]
        self._send, self._receive = anyio.create_memory_object_stream[_Item](max_pending)
        self._max_batch = max_batch
        self._pause_readers = pause_readers
        self._next_wal_reset = 0.0
        self._sweep_interval = sweep_interval
        self._reopen_at = 0.0  # monotonic time of the next attempt to reopen a broken connection
        self._reopen_delay = RECONNECT_FIRST_S
        self._in_flight: list[_Item] = []
        self._died: BaseException | None = None
        self._stopping = anyio.Event()
        self._finished = anyio.Event()
        self.counters = WriterCounters()

    @property
    def queue_depth(self) -> int:
        """Commands waiting in the mailbox now."""
        return self._send.statistics().current_buffer_used

    async def start(self) -> None:
        """Open the connection (migrating the schema, applying the quota) on the writer's thread.

        Raises:
            SchemaError: the file was written by a newer schema (the writer is then closed).
        """
        try:
            await self._lane.start()
        except BaseException:
            # `run` will never start: close what it would have closed.
            await finish(self._lane.close())
            self.abandon()
            raise

    def abandon(self) -> None:
        """Close the mailbox of a writer whose `run` will never start (its handle failed to open)."""
        self._send.close()
        self._receive.close()

    async def submit(self, frame: bytes, *, trusted: bool = False) -> Any:
        """Queue one encoded command and wait until its group commit is done.

        Args:
            frame: The command, encoded by `memactor.codec.encode`.
            trusted: The frame was encoded in this process from validated records, so the writer need
                not validate them again. Frames from anywhere else (a socket, a file) must leave it False.

        Returns:
            The command's result.

        Raises:
            ClosedError: the handle is closing or closed.
            WriterDiedError: the writer stopped.
            CommandError: the command was rejected (the rest of its batch is unaffected).
            StorageError: the whole batch failed in the engine, or the connection is broken and could not be
                reopened yet.
        """
        if self._died is not None:
            raise self._death()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        item = (frame, trusted, future)
        # A caller already cancelled must not enter the mailbox; one that is not need not yield to the loop.
        await anyio.lowlevel.checkpoint_if_cancelled()
        try:
            try:
                # Straight in when there is room: `send` would first yield to the loop (a checkpoint), which
                # costs every write an extra turn of the event loop.
                self._send.send_nowait(item)
            except anyio.WouldBlock:
                await self._send.send(item)
        except anyio.ClosedResourceError:
            raise ClosedError("the memory handle is closed") from None
        except anyio.BrokenResourceError:
            raise self._death() from None
        # Once in the mailbox the command commits even if this caller is cancelled here.
        return await future

    def post(self, frame: bytes) -> bool:
        """Queue one trusted command without waiting for it, if the mailbox has room; nobody hears its outcome.

        For upkeep a caller must not wait on (refreshing the TTL of items just read).

        Returns:
            Whether it was queued (False: the mailbox is full, closed, or the writer died).
        """
        if self._died is not None:
            return False
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_forget)
        try:
            self._send.send_nowait((frame, True, future))
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            return False
        return True

    async def sweep_periodically(self) -> None:
        """Post a sweep of expired items every ``sweep_interval`` seconds, until cancelled (by the handle).

        A task of its own rather than a timeout on the mailbox: cancelling a receive can lose the command it
        was just handed. A sweep with no item to delete is one cheap indexed look-up.
        """
        while True:
            await anyio.sleep(self._sweep_interval)
            self.post(encode(SweepItems(time.time())))

    async def run(self) -> None:
        """The actor loop: until the mailbox is closed and empty, drain, apply, answer."""
        try:
            while True:
                try:
                    batch = [await self._receive.receive()]
                except anyio.EndOfStream:
                    break
                while len(batch) < self._max_batch:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                await self._apply(batch)
        except anyio.get_cancelled_exc_class():
            self._die(WriterDiedError("the writer was cancelled"))
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller as WriterDiedError
            self._die(exc)
        finally:
            # Closed only now: closing the mailbox before `_die` drained it would leave its callers hanging.
            self._receive.close()
            self._finished.set()

    async def _apply(self, batch: list[_Item]) -> None:
        self._in_flight = batch
        started = time.perf_counter()
        # Once handed to the engine, the batch runs to its end in a task of its own, and its callers hear how
        # it ended even if this task is cancelled meanwhile.
        commit = asyncio.ensure_future(self._commit(batch))
        try:
            await finish(commit)
        finally:
            if commit.done() and not commit.cancelled() and commit.exception() is None:
                self.counters.record(len(batch), time.perf_counter() - started)
                self._in_flight = []
                _answer(batch, commit.result())
        await self._bound_wal()

    async def _commit(self, batch: list[_Item]) -> list[Any]:
        frames = [frame for frame, _, _ in batch]
        trusted = [trusted for _, trusted, _ in batch]
        try:
            if not self._lane.running:
                await self._reopen()
            outcomes: list[Any] = await self._lane.call(apply_batch, frames, trusted)
            return outcomes
        except StorageError as exc:
            failure = exc
        except SchemaError:
            raise  # the file now holds a newer schema: this writer cannot go on
        except Exception as exc:  # noqa: BLE001 - typed for this batch's callers; the writer goes on
            failure = StorageError(f"the batch failed unexpectedly and was rolled back: {exc!r}")
            failure.__cause__ = exc
        await self._recover()
        return [_fresh(failure) for _ in batch]

    async def _recover(self) -> None:
        """Keep the connection if it still works; else close it, for the next batch to reopen."""
        if not self._lane.running:
            return
        try:
            await self._lane.call(self._engine.check_writer)
        except StorageError:
            await self._lane.close()

    async def _reopen(self) -> None:
        """Open a new connection in place of a broken one, once the backoff since the last attempt is over.

        Raises:
            StorageError: this attempt failed too (the next one waits twice as long, up to 5 s).
            SchemaError: the file now holds a newer schema.
        """
        with anyio.move_on_after(max(0.0, self._reopen_at - time.monotonic())):
            await self._stopping.wait()  # a closing handle tries at once: what is queued may still commit
        engine = self._engine
        self._lane = Lane("memactor-writer", engine, lambda: engine.connect_writer(reopen=True))
        try:
            await self._lane.start()
        except SchemaError:
            raise
        except Exception as exc:
            self._reopen_at = time.monotonic() + self._reopen_delay
            self._reopen_delay = min(self._reopen_delay * 2, RECONNECT_MAX_S)
            raise StorageError(f"cannot reopen {engine.target} for writing: {exc}") from exc
        self._reopen_delay = RECONNECT_FIRST_S

    async def _bound_wal(self) -> None:
        # Readers that never pause (a long stream, busy agents) keep SQLite's PASSIVE autocheckpoint from
        # ever resetting the WAL, which then grows without bound. RESTART waits (busy_timeout) for their
        # short read transactions to end, so the next commit writes the WAL from its start again.
        if self._engine.log_bytes() > WAL_RESTART_BYTES and time.monotonic() >= self._next_wal_reset:
            await finish(self._reset_wal())

    async def _reset_wal(self) -> None:
        try:
            async with self._pause_readers() as held:
                if held:
                    await self._lane.call(_checkpoint, "RESTART")
                    return
        except StorageError:
            # Only space is at stake here: a broken connection fails the next batch, which reopens it.
            pass
        # Not done (a read runs long, or a connection failed): writes go on, a later batch tries again.
        self._next_wal_reset = time.monotonic() + WAL_RESET_RETRY_S

    def _death(self) -> WriterDiedError:
        return WriterDiedError(f"the writer stopped: {self._died!r}")

    def _die(self, cause: BaseException) -> None:
        self._died = cause
        pending = list(self._in_flight)
        while True:
            try:
                pending.append(self._receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
        # Senders still waiting for room get BrokenResourceError -> WriterDiedError.
        self._receive.close()
        for _, _, future in pending:
            if not future.done():
                future.set_exception(self._death())

    async def stop(self) -> None:
        """Stop intake, let the actor drain and commit what is queued, checkpoint, close the connection,
        and only then release what the engine holds (SQLite: the file lock). Runs to its end even if the
        caller is cancelled."""
        self._send.close()
        self._stopping.set()
        await finish(self._shut_down())

    async def _shut_down(self) -> None:
        await self._finished.wait()
        try:
            if self._died is None and self._lane.running:
                await self._lane.call(_checkpoint)
        finally:
            # Released as soon as the thread has ended, its connection closed, even if this task is cut
            # short (the loop shutting down); and here, for a lane whose thread had already ended.
            self._lane.on_exit = self._engine.release
            await self._lane.close()
            self._engine.release()

    @property
    def died(self) -> BaseException | None:
        """Why the writer stopped, if it died."""
        return self._died


def _answer(batch: list[_Item], outcomes: list[Any]) -> None:
    for (_, _, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():  # its caller was cancelled after the command entered the mailbox
            continue
        if isinstance(outcome, MemactorError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _forget(future: asyncio.Future[Any]) -> None:
    # Nobody awaits a posted command: its outcome is read here, so asyncio does not log it as unretrieved.
    if not future.cancelled():
        future.exception()


def _fresh(exc: StorageError) -> StorageError:
    # One instance per caller: raising a shared instance in many tasks would tangle their tracebacks.
    copy = type(exc)(*exc.args)
    copy.__cause__ = exc.__cause__
    return copy
