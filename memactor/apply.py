"""Apply a group commit to the writer's connection: plain sync SQL, testable without an event loop.

`apply_batch` is the whole of one group commit: ``BEGIN IMMEDIATE``, each command isolated (so a rejected
command rolls back alone), the batch's new rows added to the text index, ``COMMIT``. A command that writes
with one statement is isolated by SQLite's statement rollback; only commands of several statements
(`AddRecords` of many records, `Batch`) pay for a ``SAVEPOINT``. Consecutive one-record adds are inserted with
one ``executemany``, and one by one if any of them is refused, so each still gets its own outcome. It returns
one outcome per command, a value or the `CommandError` / `CodecError` that rejected it, and raises
`StorageError` when the batch as a whole failed. What each command does is `memactor.mutations`.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence

from .codec import decode
from .commands import AddRecords, Batch, Command
from .errors import CodecError, CommandError, ConflictError, MemactorError, StorageError, StorageFullError
from .mutations import Quota, add_all_new, apply_command, is_full, storage_error
from .records import Record
from .schema import index_new_rows

__all__ = ["apply_batch"]


def apply_batch(
    conn: sqlite3.Connection, frames: Sequence[bytes], quota: Quota | None = None, trusted: Sequence[bool] = ()
) -> list[object]:
    """Decode and apply encoded commands in one transaction.

    Args:
        conn: The writer's connection, in autocommit mode and outside a transaction.
        frames: Commands encoded by `memactor.codec.encode`.
        quota: The quota to keep, if any.
        trusted: Per frame, whether it was encoded in process from validated records (its records are
            then not validated again); frames without an entry are validated.

    Returns:
        One outcome per frame: the command's result, or the `CommandError` / `CodecError` that rejected it
        (its effects rolled back, the rest of the batch unaffected). When the file is full, each command is
        applied in a transaction of its own and one that does not fit gets `StorageFullError` as its outcome.

    Raises:
        StorageError: SQLite failed outside one command's isolation; nothing of the batch was committed.
    """
    quota = quota or Quota()
    try:
        return _apply_all(conn, frames, quota, trusted)
    except StorageFullError:
        if len(frames) < 2:
            raise
        # At the quota SQLite rolls the whole transaction back (and the batch's text index is written after
        # its last command), so one command that does not fit would fail every command grouped with it,
        # deletes included. Only then, apply each command in a transaction of its own.
        return [_apply_alone(conn, frame, quota, trusted[index : index + 1]) for index, frame in enumerate(frames)]


def _apply_alone(conn: sqlite3.Connection, frame: bytes, quota: Quota, trusted: Sequence[bool]) -> object:
    try:
        return _apply_all(conn, [frame], quota, trusted)[0]
    except StorageError as exc:
        return exc


def _apply_all(
    conn: sqlite3.Connection, frames: Sequence[bytes], quota: Quota, trusted: Sequence[bool]
) -> list[object]:
    outcomes: list[object] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        commands = [_decode(frame, index < len(trusted) and trusted[index]) for index, frame in enumerate(frames)]
        index = 0
        while index < len(commands):
            run = _single_adds(commands, index)
            # Agents mostly add one record each: a run of them is one executemany unless one of them is a
            # retry or a conflict, which the one-by-one path below tells apart.
            if len(run) > 1 and add_all_new(conn, run):
                outcomes.extend([record.id] for record in run)
            else:
                outcomes.extend(_apply_isolated(conn, c, quota) for c in commands[index : index + max(1, len(run))])
            index += max(1, len(run))
        index_new_rows(conn)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise storage_error(exc) from exc
    except BaseException:
        # Not SQLite's failure but ours: undo the batch and let the writer decide it cannot go on.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _decode(frame: bytes, trusted: bool) -> Command | CodecError:
    try:
        return decode(frame, validate=not trusted)
    except CodecError as exc:
        return exc


def _single_adds(commands: Sequence[Command | CodecError], start: int) -> list[Record]:
    """The records of the run of one-record `AddRecords` that starts at ``start`` (empty if none does)."""
    run: list[Record] = []
    for command in itertools.islice(commands, start, None):
        if not isinstance(command, AddRecords) or len(command.records) != 1:
            break
        run.append(command.records[0])
    return run


def _apply_isolated(conn: sqlite3.Connection, command: Command | CodecError, quota: Quota) -> object:
    if isinstance(command, CodecError):
        return command
    savepoint = _needs_savepoint(command)
    if savepoint:
        conn.execute("SAVEPOINT command")
    try:
        result = apply_command(conn, command, quota)
    except (CommandError, sqlite3.IntegrityError, sqlite3.OperationalError) as exc:
        if isinstance(exc, sqlite3.OperationalError) and not is_full(exc):
            raise
        if not conn.in_transaction:
            # SQLite rolled the whole transaction back itself; the batch cannot continue.
            raise
        if savepoint:
            conn.execute("ROLLBACK TO command")
            conn.execute("RELEASE command")
        return _as_command_error(exc)
    if savepoint:
        conn.execute("RELEASE command")
    return result


def _needs_savepoint(command: Command) -> bool:
    # Every other command changes the database with at most one statement, which SQLite rolls back alone.
    return isinstance(command, Batch) or (isinstance(command, AddRecords) and len(command.records) > 1)


def _as_command_error(exc: Exception) -> MemactorError:
    if isinstance(exc, MemactorError):
        return exc
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError(f"constraint failed: {exc}")
    return storage_error(exc)  # type: ignore[arg-type]
