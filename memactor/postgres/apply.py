"""Apply a group commit to PostgreSQL: plain sync SQL on the writer's connection, testable without an event loop.

`apply_batch` is the whole of one group commit: ``BEGIN``, each command in a ``SAVEPOINT`` of its own (in
PostgreSQL any failed statement aborts its transaction, so unlike SQLite even a one-statement command needs
one), ``COMMIT``. A run of one-record adds from different callers is inserted with one statement, in one
savepoint; if any of them is refused the run is rolled back and applied one by one, so each still gets its
own outcome. A command that deadlocks with another process's transaction (or meets a serialization
failure) is rolled back to its savepoint and run again, up to `RETRIES` times. It returns one outcome per
command, a value or the typed error that rejected it, and raises `StorageError` when the batch as a whole
failed. May import `memactor.errors`, `memactor.model`, `memactor.codec` and psycopg.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from ..codec import decode
from ..errors import CodecError, MemactorError, StorageError, UnsupportedBackendError
from ..model.commands import AddRecords, Batch, Command, DeleteRecord, RecordUse, UpdateRecord
from ..model.records import Record
from .failures import breaks_batch, command_error, must_retry, storage_error
from .mutations import add_records, apply_command

__all__ = ["RETRIES", "apply_batch"]

Conn = psycopg.Connection[tuple[Any, ...]]

# How often a command that deadlocked with another writer is run again before it fails with StorageError.
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
        StorageError: the connection, the server or the transaction failed; nothing of the batch was committed.
    """
    outcomes: list[object] = []
    try:
        conn.execute("BEGIN")
        commands = [_decode(frame, index < len(trusted) and trusted[index]) for index, frame in enumerate(frames)]
        index = 0
        while index < len(commands):
            run = _single_adds(commands, index)
            if len(run) > 1 and _isolated(conn, functools.partial(add_records, conn, run), "a run of adds") == [
                r.id for r in run
            ]:
                outcomes.extend([record.id] for record in run)
            else:
                outcomes.extend(_apply_one(conn, c) for c in commands[index : index + max(1, len(run))])
            index += max(1, len(run))
        conn.execute("COMMIT")
    except psycopg.Error as exc:
        _roll_back(conn, exc)
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


def _roll_back(conn: Conn, cause: BaseException) -> None:
    try:
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
    except psycopg.Error as exc:
        # The connection is broken: the writer replaces it; this rides along with the cause.
        cause.add_note(f"and the rollback failed too: {exc!r}")


def _decode(frame: bytes, trusted: bool) -> Command | CodecError:
    try:
        return decode(frame, validate=not trusted)
    except CodecError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - `decode` maps what it expects; anything else is this frame's
        return CodecError(f"bytes do not decode to a command: {type(exc).__name__}: {exc}")


def _single_adds(commands: Sequence[Command | CodecError], start: int) -> list[Record]:
    """The records of the run of one-record `AddRecords` without vectors that starts at ``start``."""
    run: list[Record] = []
    for command in itertools.islice(commands, start, None):
        if not isinstance(command, AddRecords) or len(command.records) != 1 or command.vectors is not None:
            break
        run.append(command.records[0])
    return run


def _apply_one(conn: Conn, command: Command | CodecError) -> object:
    if isinstance(command, CodecError):
        return command
    return _isolated(conn, functools.partial(apply_command, conn, command), _describe(command))


def _isolated(conn: Conn, body: Callable[[], Any], what: str) -> Any:
    """Run ``body`` in a savepoint: its result, or its typed error with its effects rolled back.

    Raises:
        psycopg.Error: the connection or the server failed (`breaks_batch`).
    """
    for attempt in range(RETRIES + 1):
        conn.execute("SAVEPOINT command")
        try:
            result = body()
        except Exception as exc:
            if breaks_batch(conn, exc):
                raise
            conn.execute("ROLLBACK TO SAVEPOINT command")
            conn.execute("RELEASE SAVEPOINT command")
            if must_retry(exc) and attempt < RETRIES:
                continue
            if isinstance(exc, MemactorError | UnsupportedBackendError):
                return exc
            return command_error(exc, what)
        conn.execute("RELEASE SAVEPOINT command")
        return result
    raise AssertionError("unreachable: the last attempt returns")


def _describe(command: Command) -> str:
    """Name a command for an error message: what it was and which record it was for."""
    match command:
        case AddRecords(records=(record,)):
            return f"add of {record.KIND} {record.id}"
        case AddRecords(records=records):
            return f"add of {len(records)} records"
        case UpdateRecord(kind=kind, id=record_id):
            return f"update of {kind} {record_id}"
        case DeleteRecord(kind=kind, id=record_id):
            return f"delete of {kind} {record_id}"
        case RecordUse(id=record_id):
            return f"record_use of skill {record_id}"
        case Batch(commands=commands):
            return f"batch of {len(commands)} commands"
    return type(command).__name__
