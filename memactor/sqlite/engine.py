"""`SqliteEngine`: the SQLite implementation of `memactor.engine.Engine`, delegating to this package's functions.

What only SQLite needs stays here, behind the seam: the file checks and the writer's file lock (`prepare`,
`release`), the ``max_size`` quota (``PRAGMA max_page_count``, kept by the writer connection), the WAL
(`log_bytes`, checkpoints in `maintain`), and the mapping of `sqlite3` errors to memactor's typed ones.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Sequence
from typing import Any

from ..engine import EngineOptions
from ..errors import InvalidInputError, StorageError
from ..model.queries import Query
from ..model.records import Record
from .apply import apply_batch
from .failures import storage_error
from .filecheck import check_file
from .filelock import WriterLock
from .mutations import Quota, enforce_quota
from .read import run_query
from .schema import configure_reader
from .vectors import count_to_embed, read_embedder, records_to_embed
from .vsearch import ReaderConnection
from .vswitch import count_to_stage, records_to_stage
from .writeconn import check_connection, checkpoint, connect_writer

__all__ = ["SqliteEngine"]


class SqliteEngine:
    """One SQLite memory file: a writer connection in WAL mode, read-only connections, a sidecar writer lock."""

    name = "sqlite"

    def __init__(self, target: str, options: EngineOptions | None = None) -> None:
        """Args:
            target: The database file's path. Its directory must be writable (the WAL lives beside it).
            options: Durability, quota and foreign tables (`memactor.engine.EngineOptions`).

        Raises:
            InvalidInputError: an in-memory database or a ``file:`` URI: readers and the writer share a file.
        """
        if target == ":memory:" or target.startswith("file:"):
            raise InvalidInputError("memactor needs a file path: readers and the writer share it")
        self.target = target
        self._options = options or EngineOptions()
        if self._options.replicas:
            raise InvalidInputError(
                "replicas= is for a postgresql:// URL: a SQLite file's readers read the file itself"
            )
        self._quota = Quota(self._options.max_size)  # the writer lane's: only its thread touches it
        self._wal = f"{target}-wal"
        self._lock: WriterLock | None = None

    def __repr__(self) -> str:
        return f"SqliteEngine({self.target!r})"

    def prepare(self, *, readonly: bool) -> None:
        """Refuse a path that is no memory, then (writers) take the file's writer lock; see `Engine.prepare`."""
        # Before the lock, which creates the file: a refused path is left as it was.
        check_file(self.target, readonly=readonly, allow_foreign_tables=self._options.allow_foreign_tables)
        if readonly:
            return
        lock = WriterLock(self.target)
        try:
            lock.acquire()
        except OSError as exc:
            raise StorageError(
                f"cannot create {lock.path} ({exc.strerror}): writing needs a writable directory;"
                " fix its permissions, or open the file with readonly=True"
            ) from exc
        self._lock = lock

    def release(self) -> None:
        """Release the writer lock, if held. Idempotent; any thread."""
        if self._lock is not None:
            self._lock.release()

    def close(self, conn: sqlite3.Connection) -> None:
        """Close a connection; a broken one may refuse to close cleanly, its file handles are freed anyway."""
        try:
            conn.close()
        except sqlite3.Error:
            pass

    def connect_writer(self, *, reopen: bool = False) -> sqlite3.Connection:
        """Open the writer connection: WAL, explicit ``synchronous``, schema migrated, quota applied."""
        try:
            conn = connect_writer(self.target, self._options.durability, create=not reopen)
            try:
                enforce_quota(conn, self._quota)
            except BaseException:
                conn.close()
                raise
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc
        return conn

    def apply_batch(self, conn: sqlite3.Connection, frames: Sequence[bytes], trusted: Sequence[bool]) -> list[object]:
        """One group commit (`memactor.sqlite.apply.apply_batch`), keeping this file's quota."""
        return apply_batch(conn, frames, self._quota, trusted)

    def check_writer(self, conn: sqlite3.Connection) -> None:
        """Roll back a transaction left open and check the connection still answers."""
        try:
            check_connection(conn)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    def log_bytes(self) -> int:
        """The WAL file's size (0 if it cannot be read)."""
        try:
            return os.path.getsize(self._wal)
        except OSError:
            return 0

    def maintain(self, conn: sqlite3.Connection, *, final: bool) -> bool:
        """Checkpoint the WAL: RESTART (back to its start) while this process's readers are parked, TRUNCATE
        at close. False if a reader held it up or the disk is full (every commit is safe in the WAL)."""
        try:
            return checkpoint(conn, "TRUNCATE" if final else "RESTART")
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    def connect_reader(self) -> sqlite3.Connection:
        """Open the file read-only (``mode=ro``, ``query_only``); rows are plain tuples (see `rows.from_row`)."""
        uri = f"file:{urllib.parse.quote(self.target)}?mode=ro"
        try:
            # A connection that can hold its own cache of vectors (`memactor.sqlite.vsearch`).
            conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, factory=ReaderConnection
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self.target} for reading: {exc}") from exc
        configure_reader(conn)
        return conn

    def run_query(self, conn: sqlite3.Connection, query: Query) -> Any:
        """Answer one query (`memactor.sqlite.read.run_query`)."""
        try:
            return run_query(conn, query)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    def stored_embedder(self, conn: sqlite3.Connection) -> tuple[str, int] | None:
        """The embedder the file records, or None (also for a file older than embeddings: it records none)."""
        try:
            return read_embedder(conn)
        except sqlite3.OperationalError:
            return None
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    def count_to_embed(self, conn: sqlite3.Connection, kind: str, *, every: bool) -> int:
        """How many records of ``kind`` have no vector (``every``: how many there are)."""
        try:
            return count_to_embed(conn, kind, every=every)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    def records_to_embed(
        self, conn: sqlite3.Connection, kind: str, after: str, limit: int, *, every: bool
    ) -> list[Record]:
        """The next ``limit`` records of ``kind`` after ``after`` without a vector (``every``: all)."""
        try:
            return records_to_embed(conn, kind, after, limit, every=every)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    def count_to_stage(self, conn: sqlite3.Connection, kind: str, name: str, dim: int) -> int:
        """How many records of ``kind`` have no vector staged for ``name`` (``dim``)."""
        try:
            return count_to_stage(conn, kind, name, dim)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    def records_to_stage(
        self, conn: sqlite3.Connection, kind: str, name: str, dim: int, after: str, limit: int
    ) -> list[Record]:
        """The next ``limit`` records of ``kind`` after ``after`` with no vector staged for ``name`` (``dim``)."""
        try:
            return records_to_stage(conn, kind, name, dim, after, limit)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    def statistics(self, conn: sqlite3.Connection) -> dict[str, int]:
        """``schema_version``, ``size_bytes`` (the main file's pages: what ``max_size`` bounds), ``wal_bytes``,
        ``page_size`` and ``free_pages``."""
        try:
            version, pages, page_size, free = (
                conn.execute(f"PRAGMA {pragma}").fetchone()[0]
                for pragma in ("user_version", "page_count", "page_size", "freelist_count")
            )
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc
        return {
            "schema_version": version,
            "size_bytes": pages * page_size,
            "wal_bytes": self.log_bytes(),
            "page_size": page_size,
            "free_pages": free,
        }
