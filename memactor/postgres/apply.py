"""Apply a group commit to PostgreSQL: plain sync SQL on the writer's connection, testable without an event loop.

`apply_batch` is the whole of one group commit: ``BEGIN``, each command in a ``SAVEPOINT`` of its own (in
PostgreSQL any failed statement aborts its transaction, so unlike SQLite even a one-statement command needs
one), ``COMMIT``. Before the first command it locks every stored row the group will change, in one global
order (`memactor.postgres.locks`), so groups of different writer processes wait for each other rather than
deadlock. A run of one-record adds from different callers is inserted with one statement (and their vectors
with one more), in one savepoint; if any of them is refused the run is rolled back and applied one by one, so
each still gets its own outcome. A group that deadlocks all the same (or meets a serialization failure) is
rolled back whole and run again, up to `RETRIES` times: its commands are data, and nothing of it was
committed. It returns one outcome per command, a value or the typed error that rejected it, and raises
`StorageError` when the batch as a whole failed. May import `memactor.errors`, `memactor.model`,
`memactor.codec` and psycopg.
"""

from __future__ import annotations

import functools
import itertools
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from ..codec import decode_frame
from ..errors import CodecError, MemactorError, StorageError
from ..model.commands import (
    AddRecords,
    Command,
    describe_command,
    single_adds,
)
from ..model.records import Record
from .failures import ConnectionDropped, breaks_batch, command_error, must_retry, storage_error
from .locks import lock_rows
from .mutations import add_records, apply_command
from .vectors import store_vectors

__all__ = ["RETRIES", "apply_batch"]

Conn = psycopg.Connection[tuple[Any, ...]]

# How often a group that deadlocked with another writer's is run again before it fails with StorageError.
RETRIES = 8


def apply_batch(conn: Conn, frames: Sequence[bytes], trusted: Sequence[bool] = ()) -> list[object]:
    """Decode and apply encoded commands in one transaction.

    Args:
        conn: The writer's connection, in autocommit mode and outside a transaction.
        frames: Commands encoded by `memactor.codec.encode`.
        trusted: Per frame, whether it was encoded in process from validated records (not validated again).

    Returns:
        One outcome per frame: the command's result, or the `MemactorError` that rejected it (its effects
        rolled back, the rest of the batch unaffected).

    Raises:
        ConnectionDropped: the server had dropped the connection before the group began (nothing of it sent).
        StorageError: the connection, the server or the transaction failed, or the group deadlocked with
            other writers `RETRIES` times running; nothing of the batch was committed.
    """
    commands = [decode_frame(frame, index < len(trusted) and trusted[index]) for index, frame in enumerate(frames)]
    for attempt in itertools.count():
        try:
            return _apply_all(conn, commands)
        except _Deadlock as exc:
            # Nothing was committed and commands are data: the whole group runs again, after a pause
            # that grows and differs between writers so that the two groups do not meet again.
            if attempt >= RETRIES:
                raise StorageError(f"the group commit deadlocked with other writers {attempt + 1} times") from exc
            time.sleep(random.uniform(0, 0.002 * 2**attempt))
    raise AssertionError("unreachable")


class _Deadlock(Exception):
    """A command deadlocked with another writer's transaction (or met a serialization failure)."""


def _apply_all(conn: Conn, commands: Sequence[Command | CodecError]) -> list[object]:
    _begin(conn)
    outcomes: list[object] = []
    try:
        lock_rows(conn, commands)
        index = 0
        while index < len(commands):
            run = single_adds(commands, index)
            adds = functools.partial(_add_run, conn, run, commands[index : index + len(run)])
            if len(run) > 1 and _isolated(conn, adds, "a run of adds") == [record.id for record in run]:
                outcomes.extend([record.id] for record in run)
            else:
                alone = len(commands) == 1
                outcomes.extend(_apply_one(conn, c, alone) for c in commands[index : index + max(1, len(run))])
            index += max(1, len(run))
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:  # not rolled back by `alone`
            conn.execute("COMMIT")
    except _Deadlock:
        _roll_back(conn, None)
        raise
    except psycopg.Error as exc:
        _roll_back(conn, exc)
        if must_retry(exc):
            raise _Deadlock(str(exc)) from exc
        raise storage_error(exc) from exc
    except Exception as exc:
        # Each command's own failures became its outcome: this is the batch's (a broken connection).
        _roll_back(conn, exc)
        raise StorageError(f"the group commit failed: {type(exc).__name__}: {exc}") from exc
    except BaseException as exc:
        # Cancellation, KeyboardInterrupt: not a failure of the batch, and never wrapped.
        _roll_back(conn, exc)
        raise
    return outcomes


def _begin(conn: Conn) -> None:
    """Open the group's transaction.

    Raises:
        ConnectionDropped: the server had dropped the connection (it restarted, say): nothing of the group
            reached it.
        StorageError: PostgreSQL refused.
    """
    try:
        conn.execute("BEGIN")
    except psycopg.Error as exc:
        if conn.closed or conn.broken:
            raise ConnectionDropped(f"the server dropped the writer's connection: {exc}") from exc
        raise storage_error(exc) from exc


def _roll_back(conn: Conn, cause: BaseException | None) -> None:
    try:
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
    except psycopg.Error as exc:
        # The connection is broken: the writer replaces it; this rides along with the cause.
        if cause is None:
            raise storage_error(exc) from exc
        cause.add_note(f"and the rollback failed too: {exc!r}")


def _add_run(conn: Conn, records: list[Record], run: Sequence[Command | CodecError]) -> list[str]:
    """Add a run's records in one statement, then their vectors in one more (a wrong one fails the run,
    which the caller then applies one by one, so only its own command is refused)."""
    ids = add_records(conn, records)
    with_vectors = [c for c in run if isinstance(c, AddRecords) and c.vectors is not None]
    if with_vectors:
        store_vectors(conn, [c.records[0] for c in with_vectors], [v for c in with_vectors for v in c.vectors or ()])
    return ids


def _apply_one(conn: Conn, command: Command | CodecError, alone: bool) -> object:
    if isinstance(command, CodecError):
        return command
    return _isolated(conn, functools.partial(apply_command, conn, command), describe_command(command), alone)


def _isolated(conn: Conn, body: Callable[[], Any], what: str, alone: bool = False) -> Any:
    """Run ``body`` in a savepoint: its result, or its typed error with its effects rolled back.

    ``alone``: the group's only command, which needs no savepoint (two round trips fewer, what one agent
    waits for): if it fails, the whole transaction is rolled back instead.

    Raises:
        _Deadlock: it deadlocked with another writer: the whole group must run again (a retry inside this
            transaction would meet the same locks, which the group's earlier commands still hold).
        psycopg.Error: the connection or the server failed (`breaks_batch`).
    """
    if not alone:
        conn.execute("SAVEPOINT command")
    try:
        result = body()
    except Exception as exc:
        if breaks_batch(conn, exc):
            raise
        if must_retry(exc):
            raise _Deadlock(str(exc)) from exc
        if alone:
            conn.execute("ROLLBACK")
        else:
            conn.execute("ROLLBACK TO SAVEPOINT command")
            conn.execute("RELEASE SAVEPOINT command")
        if isinstance(exc, MemactorError):
            return exc
        return command_error(exc, what)
    if not alone:
        conn.execute("RELEASE SAVEPOINT command")
    return result
