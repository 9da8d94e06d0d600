"""The engine seam: the one small interface a storage engine implements (SQLite first; PostgreSQL next).

The actor layer (`memactor.actor`) owns every thread, task and mailbox; an engine owns everything that
touches storage. The actor runs each engine connection on a lane of its own (`memactor.actor.lane`: one
dedicated thread per connection, calls in FIFO order), so every method below is a plain **sync** function:
it runs on a lane's thread (or, for `prepare`, `release` and `log_bytes`, where each says), never on the
event loop, and never awaits. One engine instance serves one `memactor.Memory` handle: it may keep state for
that handle (a quota, a lock, a pool of replicas), and it is the only place that state lives.

Lifecycle, as the actor drives it::

    engine = SomeEngine(target, options)          # no I/O; bad options raise InvalidInputError
    engine.prepare(readonly=...)                  # a worker thread: checks, lock (writers only)
    w = engine.connect_writer(reopen=False)       # writer lane (not for read-only handles)
    r = engine.connect_reader()                   # each read lane
    ... engine.apply_batch(w, frames, trusted)    # writer lane, once per group commit
    ... engine.run_query(r, query)                # read lanes, concurrently with the writer
    ... engine.log_bytes(); engine.maintain(w, final=False)   # after commits, when the log grew
    engine.maintain(w, final=True)                # at close, after the last commit
    engine.close(w); engine.close(r)              # each lane, as its thread ends
    engine.release()                              # once the writer lane has ended

Engine-specific connections are opaque to the actor: ``W`` (a writer connection) and ``R`` (a read
connection) are whatever the engine returns from `Engine.connect_writer` / `Engine.connect_reader`, and the
actor hands them back unchanged, each only ever on the thread of the lane that opened it.

Errors: an engine raises only `memactor.errors` classes across this seam (its driver's own exceptions are
mapped, ``raise ... from exc``), except where a method says otherwise. Cancellation and `BaseException`
that are not `Exception` are never wrapped.

A new engine is a subpackage (``memactor/sqlite/``, ``memactor/postgres/``) whose ``__init__`` re-exports its
engine class, constructed as ``EngineClass(target: str, options: EngineOptions)``; `memactor.engines` picks
the engine from the target given to `memactor.open`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from .model.queries import Query
from .model.records import Record

__all__ = ["Engine", "EngineOptions", "redacted"]

W = TypeVar("W")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """What `memactor.open` passes to an engine besides its target (already validated there).

    Attributes:
        durability: ``"full"``: an acknowledged commit survives power loss; ``"normal"``: it survives a crash
            of the process (the last commits may be lost on power loss). An engine maps it to its own
            setting (SQLite: ``synchronous``; PostgreSQL: ``synchronous_commit``).
        max_size: Quota in bytes, or None. An engine that cannot enforce one honestly raises
            `memactor.errors.InvalidInputError` from its constructor when it is set.
        allow_foreign_tables: Share the store with another application's tables (SQLite: a file that holds
            them; refused by `Engine.prepare` otherwise).
        replicas: URLs of read replicas that reads go to (PostgreSQL streaming replicas); an engine that has
            none raises `memactor.errors.InvalidInputError` from its constructor when any is given.
    """

    durability: str = "full"
    max_size: int | None = None
    allow_foreign_tables: bool = False
    replicas: tuple[str, ...] = ()


class Engine(Protocol[W, R]):
    """A storage engine for one memory: writer and read connections, one group commit, one query.

    Attributes:
        name: The engine's name, e.g. ``"sqlite"`` or ``"postgresql"``.
        target: The store as messages should name it: a file path, or a URL without its password. It is
            also the handle's ``path`` (`memactor.Memory.path`).
    """

    name: str
    target: str

    # --- opening and closing the store -----------------------------------------------------------------

    def prepare(self, *, readonly: bool) -> None:
        """Make sure the target can be opened, and, for a writer, take what single-writer needs.

        Runs once per handle, in a worker thread, before any connection is opened. SQLite: refuse a path
        that is not a memory (a directory, another application's file) and take the file's writer lock.
        Schema migration is not here: it happens in `connect_writer`. All or nothing: if it raises, nothing
        is held (there is nothing to `release`).

        Args:
            readonly: The handle will only read (no writer connection, no lock).

        Raises:
            NotAMemoryError: the target is no memory memactor may use (or, read-only, holds none yet).
            AlreadyOpenError: another live writer holds it, and the engine allows one writer only.
            InvalidInputError: the target cannot be used as given (SQLite: a file with several hard links).
            StorageError: the engine could not reach the store (permissions, a server that refuses).
        """
        ...

    def release(self) -> None:
        """Give back what `prepare` took (SQLite: the writer lock). Idempotent; never raises.

        Called from any thread (the event loop, or a writer lane's thread as its last act), once the writer
        connection is closed, and also when opening failed after `prepare` succeeded.
        """
        ...

    def close(self, conn: W | R) -> None:
        """Close a connection this engine opened, on the thread that opened it. Never raises.

        A broken connection is closed as well as it can be: its resources are freed either way.
        """
        ...

    # --- the writer ----------------------------------------------------------------------------------------

    def connect_writer(self, *, reopen: bool = False) -> W:
        """Open the writer connection: configure durability, migrate the schema, apply the quota.

        Runs on the writer lane's thread. The actor opens one at a time (one writer per handle).

        Args:
            reopen: This replaces a connection that broke. The store must already exist: a reopen never
                creates a new, empty store in place of one that moved away.

        Raises:
            SchemaError: the store was written by a newer schema (the writer then dies: it cannot go on).
            StorageError: the store cannot be opened for writing now (the actor retries, backing off).
        """
        ...

    def apply_batch(self, conn: W, frames: Sequence[bytes], trusted: Sequence[bool]) -> list[object]:
        """Decode and apply one group commit of encoded commands in one transaction.

        Each command is isolated: one that fails (decoding, validation, a constraint, not found, a version
        conflict, a quota) has its own effects rolled back and its error as its outcome, and the rest of the
        group commits. The call returns only once the transaction is committed (durable per the options'
        ``durability``): its outcomes are then acknowledged to the callers.

        Args:
            conn: The writer connection, outside any transaction.
            frames: Commands encoded by `memactor.codec.encode`, in mailbox order; applied in that order.
            trusted: Per frame, whether it was encoded in this process from validated records, so full
                validation may be skipped (the engine's own cheap checks still apply). A frame without an
                entry is untrusted. Frames from a socket or a file are never trusted.

        Returns:
            One outcome per frame, in order: the command's result, or the `CommandError` / `CodecError`
            (or, for a storage failure confined to that command, `StorageError` / `StorageFullError`)
            that rejected it. Errors are returned, not raised.

        Raises:
            StorageError: the transaction or the connection failed (I/O error, commit refused, connection
                lost): nothing of the group was committed; every caller gets this error, and the actor then
                calls `check_writer` to decide whether to keep the connection.
            SchemaError: the store now holds a newer schema (the writer dies).
        """
        ...

    def check_writer(self, conn: W) -> None:
        """Check that the writer connection can go on after a failed group commit; end any transaction left open.

        Raises:
            StorageError: it cannot: the actor closes it and reopens with ``connect_writer(reopen=True)``.
        """
        ...

    def log_bytes(self) -> int:
        """How large the log that `maintain` reclaims has grown, in bytes (SQLite: the WAL file); 0 if none.

        Called on the event loop after every group commit, so it must be cheap (a ``stat``) and must not
        block on the writer connection. The actor calls ``maintain(final=False)`` when it exceeds its bound.
        Never raises (an unreadable size is 0).
        """
        ...

    def maintain(self, conn: W, *, final: bool) -> bool:
        """Upkeep after commits, on the writer lane (SQLite: a WAL checkpoint; may be a no-op returning True).

        Args:
            final: False: the log outgrew its bound; this process's read lanes are parked between two
                queries while it runs, so only other processes' readers can hold it up (SQLite: checkpoint
                RESTART, waiting up to its busy timeout). True: the handle is closing after its last commit
                (SQLite: checkpoint TRUNCATE).

        Returns:
            Whether it completed (False: a reader held it up, or there was no room to finish; the actor tries
            again later). It never loses a commit either way.

        Raises:
            StorageError: the connection failed (the next group commit then finds it broken).
        """
        ...

    # --- readers -------------------------------------------------------------------------------------------

    def connect_reader(self) -> R:
        """Open one read-only connection (SQLite: ``mode=ro``, ``query_only``). Runs on its read lane's thread.

        A read connection sees every commit acknowledged before the query started (read-your-writes, for
        every task of the process), and runs each query in a short transaction of its own.

        Raises:
            StorageError: it cannot be opened.
        """
        ...

    def run_query(self, conn: R, query: Query) -> Any:
        """Answer one query (`memactor.model.queries`) on a read connection.

        Returns:
            What the query's docstring says (records, hits, a count, ...).

        Raises:
            NotFoundError: a query for one named thing found none (`GetByName`).
            StorageError: the engine failed; the connection stays usable if it can.
        """
        ...

    def stored_embedder(self, conn: R) -> tuple[str, int] | None:
        """The embedder ``(name, dimension)`` the store records, or None if it records none.

        Raises:
            StorageError: the engine failed.
        """
        ...

    def count_to_embed(self, conn: R, kind: str, *, every: bool) -> int:
        """How many records of ``kind`` have no vector (``every``: how many there are). For `reindex`.

        Raises:
            StorageError: the engine failed.
        """
        ...

    def records_to_embed(self, conn: R, kind: str, after: str, limit: int, *, every: bool) -> list[Record]:
        """The next ``limit`` records of ``kind`` in id order after id ``after``: those without a vector, or
        ``every`` one. For `reindex`.

        Raises:
            StorageError: the engine failed.
        """
        ...

    def count_to_stage(self, conn: R, kind: str, name: str, dim: int) -> int:
        """How many records of ``kind`` have no vector staged for embedder ``name`` of dimension ``dim``. For
        switching a store to another embedder (`memactor.actor.reindex.switch`).

        Raises:
            StorageError: the engine failed.
            UnsupportedBackendError: the engine stores no vectors.
        """
        ...

    def records_to_stage(self, conn: R, kind: str, name: str, dim: int, after: str, limit: int) -> list[Record]:
        """The next ``limit`` records of ``kind`` in id order after id ``after`` with no vector staged for
        embedder ``name`` of dimension ``dim`` (all of them while another embedder's stage, or none, is there).

        Raises:
            StorageError: the engine failed.
            UnsupportedBackendError: the engine stores no vectors.
        """
        ...

    def statistics(self, conn: R) -> dict[str, int]:
        """Figures about the store itself, by name, read on a read connection.

        Every engine reports ``schema_version`` and ``size_bytes`` (the store's data, as the engine
        measures it); an engine may add its own (SQLite: ``wal_bytes``, ``page_size``, ``free_pages``).

        Raises:
            StorageError: the engine failed.
        """
        ...


def redacted(url: str) -> str:
    """A target (a path, or a URL such as ``postgresql://user:secret@host/db``) without its password, for messages."""
    url = re.sub(r"(?i)(password=)[^&]*", r"\1***", url)
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}@{host}"
