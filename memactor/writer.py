"""The writer actor: the only task that writes, and so the only lock.

Callers put ``(encoded command, reply future)`` into a bounded anyio memory-object stream. The writer
takes one item, drains up to ``max_batch - 1`` more without waiting, and applies the whole run in one
thread hop on its own connection (`memactor.apply.apply_batch`): one transaction, one COMMIT. Only then
does it answer each caller. If it dies, every pending and later caller gets `WriterDiedError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .apply import apply_batch
from .errors import ClosedError, MemactorError, StorageError, WriterDiedError
from .lane import Lane
from .mutations import Quota, enforce_quota, is_full
from .schema import configure_writer, migrate
from .stats import WriterCounters

__all__ = ["Writer", "connect_writer"]

_Item = tuple[bytes, bool, "asyncio.Future[Any]"]


def connect_writer(path: str, durability: str) -> sqlite3.Connection:
    """Open ``path`` for writing: WAL, explicit ``synchronous``, schema migrated."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        configure_writer(conn, durability=durability)
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


# Past this size the writer forces the WAL back to its start after a batch (see `Writer._bound_wal`).
WAL_RESTART_BYTES = 16 * 1024 * 1024


def _checkpoint(conn: sqlite3.Connection, mode: str = "TRUNCATE") -> bool:
    """Checkpoint the WAL; returns False if a reader kept it from completing (SQLite's ``busy`` flag)."""
    try:
        busy = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if not is_full(exc):
            raise
        # A full disk: every commit is safe in the WAL and the next open checkpoints it, so closing
        # must not fail (nor raise an untyped sqlite3 error) for want of room to copy pages back.
        return False
    return not busy


class Writer:
    """The single-writer actor for one database file."""

    def __init__(
        self,
        path: str,
        *,
        durability: str,
        max_batch: int,
        max_pending: int,
        max_size: int | None,
        pause_readers: Callable[[], AbstractAsyncContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self._lane = Lane("memactor-writer", lambda: connect_writer(path, durability))
        self._send: MemoryObjectSendStream[_Item]
        self._receive: MemoryObjectReceiveStream[_Item]
        self._send, self._receive = anyio.create_memory_object_stream[_Item](max_pending)
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._quota = Quota(max_size)
        self._wal_path = f"{path}-wal"
        self._pause_readers = pause_readers
        self._in_flight: list[_Item] = []
        self._died: BaseException | None = None
        self._finished = anyio.Event()
        self.counters = WriterCounters()

    @property
    def queue_depth(self) -> int:
        """Commands waiting in the mailbox now."""
        return self._send.statistics().current_buffer_used

    async def start(self) -> None:
        """Open the connection (migrating the schema) on the writer's thread.

        Raises:
            SchemaError: the file was written by a newer schema (the writer is then closed).
        """
        try:
            await self._lane.start()
            await self._lane.call(enforce_quota, self._quota)
        except BaseException:
            # `run` will never start: close what it would have closed.
            with anyio.CancelScope(shield=True):
                await self._lane.close()
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
            StorageError: the whole batch failed in SQLite.
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
        # The batch is already in SQLite's hands: its callers must hear how it ended, so no cancel here.
        with anyio.CancelScope(shield=True):
            try:
                frames = [frame for frame, _, _ in batch]
                trusted = [trusted for _, trusted, _ in batch]
                outcomes = await self._lane.call(apply_batch, frames, self._quota, trusted)
            except StorageError as exc:
                outcomes = [_fresh(exc) for _ in batch]
        self.counters.record(len(batch), time.perf_counter() - started)
        self._in_flight = []
        for (_, _, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its caller was cancelled after the command entered the mailbox
                continue
            if isinstance(outcome, MemactorError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        await self._bound_wal()

    async def _bound_wal(self) -> None:
        # Readers that never pause (a long stream, busy agents) keep the PASSIVE autocheckpoint from ever
        # resetting the WAL, which then grows without bound. RESTART waits (busy_timeout) for their short
        # read transactions to end, so the next commit writes the WAL from its start again.
        try:
            size = os.path.getsize(self._wal_path)
        except OSError:
            return
        if size > WAL_RESTART_BYTES:
            with anyio.CancelScope(shield=True):
                async with self._pause_readers():  # this process's readers, at least, are out of its way
                    await self._lane.call(_checkpoint, "RESTART")

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
        """Stop intake, let the actor drain and commit what is queued, checkpoint, close the connection."""
        self._send.close()
        with anyio.CancelScope(shield=True):
            await self._finished.wait()
            try:
                if self._died is None:
                    await self._lane.call(_checkpoint)
            finally:
                await self._lane.close()

    @property
    def died(self) -> BaseException | None:
        """Why the writer stopped, if it died."""
        return self._died


def _fresh(exc: StorageError) -> StorageError:
    # One instance per caller: raising a shared instance in many tasks would tangle their tracebacks.
    copy = type(exc)(*exc.args)
    copy.__cause__ = exc.__cause__
    return copy
