"""The one error tree of memactor.

    MemactorError
    ├── ClosedError          Raised when a handle is used after it was closed.
    ├── WriterDiedError      Raised to every pending and later caller once the writer stopped.
    ├── AlreadyOpenError     Raised when another live process holds the file for writing.
    ├── ReadOnlyError        Raised when a write is sent through a read-only handle (or read-only token).
    ├── AccessDeniedError    Raised when a server refuses a token, or a request outside the token's scope.
    ├── ConnectionLostError  Raised when a client lost its server and could not get an answer in time.
    ├── ServerBusyError      Raised when a server has no room for a new client session right now.
    ├── CommandError         Raised when one command was rejected; its group commit is unaffected.
    │   ├── NotFoundError        Raised when the record with the given id does not exist.
    │   ├── ConflictError        Raised on a version mismatch, a duplicate skill name, or a
    │   │                        retried id whose content differs from the stored record.
    │   └── InvalidInputError    Raised for a bad record or argument (also a ValueError).
    ├── StorageError         Raised when SQLite failed unexpectedly; the whole batch rolled back.
    │   ├── StorageFullError     Raised when the quota (`max_size`) or the disk is full.
    │   └── NotAMemoryError      Raised at open when the path leads to no memory memactor may use: a
    │                            missing directory, a directory, a file that is not SQLite, an empty
    │                            file opened read-only, another application's database.
    ├── CodecError           Raised for bytes that do not decode to a command (also a ValueError).
    ├── SchemaError          Raised when the file was written by a newer schema.
    ├── EmbedderMismatchError  Raised when the file's vectors were made by another embedder.
    ├── EmbedderError        Raised when an embedder (an HTTP endpoint, say) failed to make vectors.
    └── UnsupportedBackendError  Raised when memactor is started on an event loop other than asyncio, or
                                 asked for what its storage engine cannot do (PostgreSQL: a quota) or for
                                 an engine whose extra is not installed.

Cancellation is never wrapped: a cancelled caller sees its event loop's own cancellation exception.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "AlreadyOpenError",
    "ClosedError",
    "CodecError",
    "CommandError",
    "EmbedderError",
    "EmbedderMismatchError",
    "ConflictError",
    "ConnectionLostError",
    "InvalidInputError",
    "MemactorError",
    "NotAMemoryError",
    "NotFoundError",
    "ReadOnlyError",
    "SchemaError",
    "ServerBusyError",
    "StorageError",
    "StorageFullError",
    "UnsupportedBackendError",
    "WriterDiedError",
]


class MemactorError(Exception):
    """Root of every error memactor raises on purpose."""


class ClosedError(MemactorError):
    """Raised when a handle is used after it was closed."""


class WriterDiedError(MemactorError):
    """Raised to every pending and later caller once the writer actor stopped unexpectedly."""


class AlreadyOpenError(MemactorError):
    """Raised when another live process (or handle) holds the database file for writing."""


class ReadOnlyError(MemactorError):
    """Raised when a write is sent through a handle opened with ``readonly=True``."""


class AccessDeniedError(MemactorError):
    """Raised when a server refuses a missing or wrong token, or a request outside the token's namespaces."""


class ConnectionLostError(MemactorError):
    """Raised when a client lost its server and could not get an answer in time.

    A write that raised it may or may not have been committed; retrying an add is safe (ids are
    client-generated, so a retried add is idempotent).
    """


class ServerBusyError(MemactorError):
    """Raised when a server refuses a new client session: its session memory is full of active sessions.

    Sessions already admitted are never dropped to make room (their retried writes must stay applied
    once); the new client may try again once others have left and their retry window has passed.
    """


class CommandError(MemactorError):
    """Raised when one command was rejected; the rest of its group commit is unaffected."""


class NotFoundError(CommandError, LookupError):
    """Raised when the record with the given id (or name) does not exist."""


class ConflictError(CommandError):
    """Raised on a version mismatch, a duplicate skill name, or a retried id with other content."""


class InvalidInputError(CommandError, ValueError):
    """Raised for a bad record or argument, before anything reaches the mailbox where it can be."""


class StorageError(MemactorError):
    """Raised when SQLite failed unexpectedly; every command of the failed batch rolled back."""


class StorageFullError(StorageError):
    """Raised when a write would grow the file past ``max_size`` or the disk is full."""


class NotAMemoryError(StorageError):
    """Raised at open when the path leads to no memory memactor may open; nothing was changed on disk.

    The path is missing (or its directory is), is a directory, is not a SQLite database, holds no memory
    yet (read-only), or is another application's database (pass ``allow_foreign_tables=True`` to share it).
    """


class CodecError(MemactorError, ValueError):
    """Raised for bytes that do not decode to a command."""


class SchemaError(MemactorError):
    """Raised when the file was written by a newer schema than this version of memactor knows."""


class UnsupportedBackendError(MemactorError):
    """Raised when memactor is started on an event loop other than asyncio (trio, for instance), or asked for what
    its storage engine cannot do (PostgreSQL: a quota) or for an engine whose extra is not installed
    (``postgresql://`` without ``memactor[postgres]``)."""


class EmbedderMismatchError(MemactorError):
    """The memory file's vectors were made by another embedder (name or dimension) than the one given."""


class EmbedderError(MemactorError):
    """An embedder failed to make vectors (an endpoint refused, did not answer, or answered wrongly).

    The message says what to check; it never contains the endpoint's API key.
    """
