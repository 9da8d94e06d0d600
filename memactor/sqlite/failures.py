"""How a failure inside the writer is classified: one command's own error, or the end of its batch.

The writer applies a group commit in one transaction, each command isolated. Whatever one command raises
(a constraint, a value SQLite or JSON cannot store, a bug) becomes that command's typed error and the rest of
the group commit proceeds: `command_error` says which error. Only a failure of the connection, the file or
the transaction itself ends the batch (`breaks_batch`): then the writer fails every command of it with
`StorageError` and carries on with a fresh transaction.
"""

from __future__ import annotations

import sqlite3

from ..errors import CommandError, ConflictError, InvalidInputError, MemactorError, StorageError, StorageFullError

__all__ = ["breaks_batch", "command_error", "is_full", "storage_error"]

# What a value that cannot be stored raises on its way into SQLite: JSON encoding (NaN, a cycle, a key or
# value of the wrong type, nesting too deep), binding (an int beyond 64 bits, a type SQLite cannot hold).
_UNSTORABLE = (
    ValueError,
    TypeError,
    OverflowError,
    RecursionError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    sqlite3.DataError,
)


def storage_error(exc: sqlite3.Error) -> StorageError:
    """Map a SQLite error to `StorageFullError` (quota or disk full) or `StorageError`."""
    if is_full(exc):
        return StorageFullError(f"the database is full (max_size quota or disk): {exc}")
    return StorageError(f"SQLite failed: {exc}")


def is_full(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed for want of room: the quota (``max_page_count``) or the disk."""
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


# Primary result codes that say the connection, the file or the transaction failed, not one command.
_BROKEN_CODES = frozenset(
    {
        sqlite3.SQLITE_ABORT,
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_INTERNAL,
        sqlite3.SQLITE_INTERRUPT,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_MISUSE,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_SCHEMA,
    }
)


def breaks_batch(conn: sqlite3.Connection, exc: Exception) -> bool:
    """Whether ``exc``, raised while one command was applied, is a failure of the connection or of its
    transaction (the whole batch fails) rather than of that command (it alone is rolled back)."""
    try:
        if not conn.in_transaction:  # SQLite rolled the whole transaction back itself
            return True
    except sqlite3.Error:  # the connection is closed
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BROKEN_CODES


def command_error(exc: Exception, what: str) -> MemactorError:
    """The typed error that ``exc``, raised while applying one command (``what``), becomes its outcome.

    Never for cancellation or other `BaseException`s: those are not the command's failure.
    """
    if isinstance(exc, MemactorError):
        return exc
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError(f"constraint failed: {exc}")
    if isinstance(exc, _UNSTORABLE):
        return InvalidInputError(f"{what} holds a value that cannot be stored: {type(exc).__name__}: {exc}")
    if isinstance(exc, sqlite3.Error):
        error = storage_error(exc)
        return type(error)(f"{what}: {error}")
    return CommandError(
        f"{what} could not be applied ({type(exc).__name__}: {exc}); it was rolled back and the other"
        " commands of its group commit were not affected"
    )
