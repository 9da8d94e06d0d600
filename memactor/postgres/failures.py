"""How a failure inside the PostgreSQL writer is classified: one command's own error, a retry, or the batch's end.

Every command runs in a savepoint, so whatever one command's statements raise (a constraint, a value
PostgreSQL cannot store, a deadlock with another process) aborts only that savepoint: `command_error` says
which typed error it becomes. A deadlock or serialization failure is not the command's fault: `must_retry`
tells the applier to roll the savepoint back and run the command again. Only a failure of the connection or
the server (`breaks_batch`) ends the batch: the writer fails every command of it with `StorageError` and
reconnects; unless the server had dropped the connection before the batch began (`ConnectionDropped`), which
the engine answers by running the batch once more on a new connection. May import `memactor.errors` and psycopg.
"""

from __future__ import annotations

import psycopg

from ..errors import CommandError, ConflictError, InvalidInputError, MemactorError, StorageError, StorageFullError

__all__ = ["ConnectionDropped", "breaks_batch", "command_error", "must_retry", "storage_error"]

# SQLSTATE classes and codes that are one command's failure although psycopg files them as operational:
# 54 "program limit exceeded" (a text too long for a tsvector, a row too big), 22 data exceptions.
_COMMAND_CLASSES = ("22", "54")
_FULL = frozenset({"53100", "53200", "53400"})  # disk full, out of memory, configuration limit
_RETRY = frozenset({"40001", "40P01"})  # serialization failure, deadlock detected

# What a value that cannot be stored raises on its way to PostgreSQL (dumping it to the wire).
_UNSTORABLE = (ValueError, TypeError, OverflowError, RecursionError, psycopg.DataError)


def storage_error(exc: BaseException) -> StorageError:
    """Map a PostgreSQL failure to `StorageFullError` (disk or memory exhausted) or `StorageError`."""
    if getattr(exc, "sqlstate", None) in _FULL:
        return StorageFullError(f"the PostgreSQL server is out of room (disk full): {exc}")
    return StorageError(f"PostgreSQL failed: {exc}")


def must_retry(exc: BaseException) -> bool:
    """Whether ``exc`` is a deadlock or serialization failure: run the command again after its rollback."""
    return getattr(exc, "sqlstate", None) in _RETRY


def breaks_batch(conn: psycopg.Connection[tuple[object, ...]], exc: BaseException) -> bool:
    """Whether ``exc`` is a failure of the connection or the server (the whole batch fails) rather than of
    the one command that raised it (its savepoint is rolled back)."""
    if conn.closed or conn.broken:
        return True
    state = getattr(exc, "sqlstate", None) or ""
    if state == "25P02":  # the transaction was aborted outside any savepoint: the group is lost
        return True
    if state in _RETRY or state.startswith(_COMMAND_CLASSES):
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def command_error(exc: Exception, what: str) -> MemactorError:
    """The typed error that ``exc``, raised while applying one command (``what``), becomes its outcome."""
    if isinstance(exc, MemactorError):
        return exc
    if isinstance(exc, psycopg.IntegrityError):
        return ConflictError(f"{what}: constraint failed: {exc}")
    if isinstance(exc, _UNSTORABLE) or (getattr(exc, "sqlstate", None) or "").startswith(_COMMAND_CLASSES):
        return InvalidInputError(f"{what} holds a value PostgreSQL cannot store: {type(exc).__name__}: {exc}")
    if isinstance(exc, psycopg.Error):
        error = storage_error(exc)
        return type(error)(f"{what}: {error}")
    return CommandError(
        f"{what} could not be applied ({type(exc).__name__}: {exc}); it was rolled back and the other"
        " commands of its group commit were not affected"
    )


class ConnectionDropped(StorageError):
    """The writer's connection was dropped by the server before a group's first statement (``BEGIN``) went
    through, so nothing of the group reached it: the group may run again, whole, on a new connection."""
