"""`memactor.open`: the entry point that makes a `Memory` handle for a file, a URL or an engine object."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..embed.protocol import Embedder
from ..engine import Engine
from .memory import Durability, Memory

__all__ = ["open"]


def open(  # noqa: A001 - the library's entry point, as in `memactor.open(path)`
    path: str | os.PathLike[str] | Engine[Any, Any],
    *,
    readonly: bool = False,
    durability: Durability = "full",
    max_batch: int = 512,
    max_pending: int = 1024,
    read_connections: int = 1,
    max_size: int | None = None,
    sweep_interval: float = 60.0,
    embedder: Embedder | None = None,
    allow_foreign_tables: bool = False,
    replicas: Sequence[str] = (),
) -> Memory:
    """Open (creating if needed) a memory file; use the result as ``async with``.

    Args:
        path: The SQLite file (its directory must be writable: WAL files live beside it), a
            ``postgresql://`` URL (needs the ``postgres`` extra), or an engine object
            (`memactor.engine.Engine`), which then brings its own durability, quota and table options.
        readonly: Open only the read pool; writes raise `ReadOnlyError`. Any number of processes may.
        durability: ``"full"`` (synchronous=FULL: acknowledged writes survive power loss) or ``"normal"``
            (synchronous=NORMAL: they survive process crashes; the last commits may roll back on power loss).
        max_batch: The most commands one group commit applies.
        max_pending: The mailbox's bound: callers wait when this many commands are queued.
        read_connections: Read-only connections in the pool.
        max_size: Quota in bytes for the database file (not the WAL); writes past it raise `StorageFullError`.
        sweep_interval: Seconds between the writer's sweeps of expired items (which reads never see anyway).
        embedder: Makes vectors for vector and hybrid search (`memactor.embed`; needs the ``embed`` extra).
            Its name and dimension are recorded in the file on first use; every record added or whose text
            is updated through this handle gets its vector in the same transaction. Without one, search is
            text only, and records written meanwhile have no vector (vector search does not find them).
        allow_foreign_tables: Share a SQLite file that holds another application's tables: memactor adds
            its own tables beside them and switches the file to WAL mode. Refused without it.
        replicas: With a ``postgresql://`` URL: URLs of streaming replicas of it that reads go to; each read
            still sees every write of this handle acknowledged before it started (a replica answers once it
            has replayed the handle's last commit, the primary meanwhile). Refused for a SQLite file.

    Raises:
        UnsupportedBackendError: the engine's extra is not installed; (on entering) the event loop is not
            asyncio's.
        AlreadyOpenError: (on entering) another process or handle writes this file, under any name.
        SchemaError: (on entering) the file was written by a newer memactor.
        EmbedderMismatchError: (on entering) the file's vectors were made by another embedder.
        NotAMemoryError: (on entering) the path is a directory, its directory is missing, the file is not
            a SQLite database, holds another application's tables, or (read-only) holds no memory yet.
        StorageError: (on entering) the lock file beside it cannot be created (directory not writable).
        InvalidInputError: an option is out of range.
    """
    return Memory(
        path,
        readonly=readonly,
        durability=durability,
        max_batch=max_batch,
        max_pending=max_pending,
        read_connections=read_connections,
        max_size=max_size,
        sweep_interval=sweep_interval,
        embedder=embedder,
        allow_foreign_tables=allow_foreign_tables,
        replicas=replicas,
    )
