"""Apply a group commit to the writer's connection: plain sync SQL, testable without an event loop.

`apply_batch` is the whole of one group commit: ``BEGIN IMMEDIATE``, each command isolated (so a rejected
command rolls back alone), the batch's new rows added to the text index, ``COMMIT``. A command that writes
with one statement is isolated by SQLite's statement rollback; only commands of several statements
(`AddRecords` of many records, `Batch`) pay for a ``SAVEPOINT``. Consecutive one-record adds are inserted with
one ``executemany``, and one by one if any of them is refused, so each still gets its own outcome. It returns
one outcome per command, a value or the typed error that rejected it, and raises `StorageError` when the batch
as a whole failed. What each command does is `memactor.sqlite.mutations`.

The writer survives every command: whatever one command raises while it is decoded or applied (`Exception`,
not cancellation) becomes that command's typed error (`memactor.sqlite.failures.command_error`) and the rest of its
group commit commits. Only a failure of the connection or of the transaction fails the batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..codec import decode_frame
from ..errors import CodecError, StorageError, StorageFullError
from ..model.commands import (
    AddRecords,
    Batch,
    Command,
    UpdateRecord,
    describe_command,
    single_adds,
)
from .failures import breaks_batch, command_error, storage_error
from .mutations import Quota, add_all_new, apply_command
from .schema import index_new_rows
from .vectors import read_embedder, store_vectors

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
            then not validated again); frames without an entry are validated. Trust is earned: records are
            frozen values, so what was checked when a record was built is what was encoded. Trusted frames
            still meet the writer's own cheap checks on their way into SQLite (strict JSON with
            ``allow_nan=False`` for metadata, msgpack's str-only map keys, SQLite's 64-bit integers and
            constraints), and a record that fails one (changed behind its checks, through
            ``object.__setattr__`` say) gets `InvalidInputError` as its outcome, not the writer's death.
            Full validation is not repeated: it is most of a decode's cost.

    Returns:
        One outcome per frame: the command's result, or the `CommandError` / `CodecError` (or, for a SQLite
        failure confined to it, `StorageError`) that rejected it (its effects rolled back, the rest of the
        batch unaffected). When the file is full, each command is
        applied in a transaction of its own and one that does not fit gets `StorageFullError` as its outcome.

    Raises:
        StorageError: the connection or the transaction failed (I/O error, a malformed file, ``BEGIN`` or
            ``COMMIT`` failing, SQLite rolling the transaction back); nothing of the batch was committed.
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
        commands = [decode_frame(frame, index < len(trusted) and trusted[index]) for index, frame in enumerate(frames)]
        index = 0
        while index < len(commands):
            run = single_adds(commands, index)
            # Agents mostly add one record each: a run of them is one executemany unless one of them is a
            # retry, a conflict or cannot be stored, which the one-by-one path below tells apart.
            if len(run) > 1 and _vectors_fit(conn, commands[index : index + len(run)]) and add_all_new(conn, run):
                _store_run_vectors(conn, commands[index : index + len(run)])
                outcomes.extend([record.id] for record in run)
            else:
                outcomes.extend(_apply_isolated(conn, c, quota) for c in commands[index : index + max(1, len(run))])
            index += max(1, len(run))
        index_new_rows(conn)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _roll_back(conn, exc)
        raise storage_error(exc) from exc
    except Exception as exc:
        # Each command's own failures became its outcome above: this is the batch's (its text index,
        # a broken connection). The writer must hear it as the batch's StorageError and go on.
        _roll_back(conn, exc)
        raise StorageError(f"the group commit failed: {type(exc).__name__}: {exc}") from exc
    except BaseException as exc:
        # Cancellation, KeyboardInterrupt: not a failure of the batch, and never wrapped.
        _roll_back(conn, exc)
        raise
    return outcomes


def _roll_back(conn: sqlite3.Connection, cause: BaseException) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        # The connection is broken: the caller raises `cause`, which says why, and the writer replaces the
        # connection; this failure rides along as a note rather than hiding the cause.
        cause.add_note(f"and the rollback failed too: {exc!r}")


def _vectors_fit(conn: sqlite3.Connection, run: Sequence[Command | CodecError]) -> bool:
    """Whether every vector of the run fits the file's embedder; if not, the run goes one by one, so only
    the commands with a wrong vector are refused."""
    lengths = {len(v) for c in run if isinstance(c, AddRecords) for v in c.vectors or ()}
    if not lengths:
        return True
    stored = read_embedder(conn)
    return stored is not None and lengths == {4 * stored[1]}


def _store_run_vectors(conn: sqlite3.Connection, run: Sequence[Command | CodecError]) -> None:
    with_vectors = [c for c in run if isinstance(c, AddRecords) and c.vectors is not None]
    if with_vectors:
        store_vectors(
            conn,
            [r for c in with_vectors for r in c.records],
            [v for c in with_vectors for v in c.vectors or ()],
        )


def _apply_isolated(conn: sqlite3.Connection, command: Command | CodecError, quota: Quota) -> object:
    if isinstance(command, CodecError):
        return command
    savepoint = _needs_savepoint(command)
    if savepoint:
        conn.execute("SAVEPOINT command")
    try:
        result = apply_command(conn, command, quota)
    except Exception as exc:
        if breaks_batch(conn, exc):
            raise
        if savepoint:
            conn.execute("ROLLBACK TO command")
            conn.execute("RELEASE command")
        # Without a savepoint the command wrote with one statement at most, which SQLite rolled back alone.
        return command_error(exc, describe_command(command))
    if savepoint:
        conn.execute("RELEASE command")
    return result


def _needs_savepoint(command: Command) -> bool:
    # Every other command changes the database with at most one statement, which SQLite rolls back alone.
    # A command with a vector writes twice: the record, then its vector, which may be refused.
    if isinstance(command, AddRecords):
        return len(command.records) > 1 or command.vectors is not None
    return isinstance(command, Batch) or (isinstance(command, UpdateRecord) and command.vector is not None)
