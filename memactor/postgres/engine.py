"""`PostgresEngine`: the PostgreSQL implementation of the engine seam (`memactor.engine.Engine`).

One engine serves one `memactor.Memory` handle opened on a ``postgresql://`` URL (or given as the engine
object, with replicas). Unlike a SQLite file, a PostgreSQL database welcomes many writers: every process
(on any machine) runs its own writer actor, and the rules that must hold across them live in the database
(see `memactor.postgres.mutations`), so `prepare` takes no lock. There is no log to reclaim from here
(PostgreSQL checkpoints and vacuums on its own), so `maintain` does nothing. Reads may go to streaming
replicas (``replicas=``), keeping read-your-writes for the handle (`memactor.postgres.replicas`). A read
lane reopens the connections the server dropped (it crashed or restarted) at its next read, as the writer does.
``max_size`` is refused: PostgreSQL has no per-database size limit that a write would meet inside its
transaction. May import `memactor.engine`, `memactor.errors`, `memactor.model`, `memactor.codec` and psycopg.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg

from ..engine import EngineOptions
from ..errors import InvalidInputError, NotAMemoryError, StorageError
from ..model.queries import Query
from ..model.records import Record
from . import apply, read
from .connect import WriteConnection, connect_reader, connect_writer, is_postgres_url, redacted
from .failures import ConnectionDropped
from .pgvec import vector_search
from .replicas import CommitMark, ReadConnection, commit_lsn, read_target
from .schema import TABLES, schema_version
from .vectors import count_to_embed, read_embedder, records_to_embed
from .vswitch import count_to_stage, records_to_stage

__all__ = ["PostgresEngine"]

Conn = psycopg.Connection[tuple[Any, ...]]
_T = TypeVar("_T")


class PostgresEngine:
    """The PostgreSQL engine for one handle: a writer connection and read connections to one database."""

    name = "postgresql"

    def __init__(
        self,
        target: str,
        options: EngineOptions | None = None,
        *,
        replicas: Sequence[str] = (),
        replica_wait_s: float = 0.1,
    ) -> None:
        """Args:
        target: The primary: a ``postgresql://`` (or ``postgres://``) URL, as libpq takes it.
        options: The handle's options (the defaults when None).
        replicas: URLs of streaming replicas of the primary that reads go to (the read lanes take them in
            turn); each read still sees every write of this handle acknowledged before it started
            (`memactor.postgres.replicas`).
        replica_wait_s: How long a read waits for its replica to replay this handle's last commit before
            the primary answers it instead.

        Raises:
            InvalidInputError: a URL is not a PostgreSQL URL, or ``max_size`` is set.
        """
        options = options or EngineOptions()
        for url in (target, *replicas):
            if not is_postgres_url(url):
                raise InvalidInputError(f"not a PostgreSQL URL (postgresql://user@host:port/database): {url!r}")
        if options.max_size is not None:
            raise InvalidInputError(
                "max_size is not supported on PostgreSQL: the server has no per-database size limit that a"
                " write would meet in its own transaction (use a role or tablespace quota outside memactor)"
            )
        self._url = target
        self._options = options
        self._replicas = tuple(replicas) or options.replicas
        self._replica_wait_s = replica_wait_s
        self._mark = CommitMark()
        self._readers: list[ReadConnection] = []
        self.target = redacted(target)

    def prepare(self, *, readonly: bool) -> None:
        """Check that the server answers; a read-only handle also needs a memory already in the database.

        Raises:
            StorageError: the server cannot be reached or refused the connection.
            NotAMemoryError: read-only, and the database (its schema on the search path) holds no memory.
        """
        if not readonly:
            return  # the writer's connection, opened next, migrates and says what is wrong
        conn = connect_reader(self._url)
        try:
            if schema_version(conn) == 0:
                raise NotAMemoryError(f"{self.target} holds no memory yet: open it for writing first")
        except psycopg.Error as exc:
            raise StorageError(f"PostgreSQL failed: {exc}") from exc
        finally:
            conn.close()

    def release(self) -> None:
        """Nothing to give back: PostgreSQL takes many writers."""

    def close(self, conn: Conn | WriteConnection | ReadConnection) -> None:
        """Close a connection; a broken one is closed as well as it can be."""
        if isinstance(conn, ReadConnection):
            conn.close()
            return
        if isinstance(conn, WriteConnection):
            conn = conn.conn
        try:
            conn.close()
        except psycopg.Error:
            pass  # a broken connection's socket is freed either way

    def connect_writer(self, *, reopen: bool = False) -> WriteConnection:
        """Open the writer connection and migrate the schema.

        Raises:
            SchemaError: the database was written by a newer schema.
            StorageError: the server cannot be reached, refused, or (``reopen``) no longer holds the memory.
        """
        return WriteConnection(self._open_writer(reopen=reopen))

    def _open_writer(self, *, reopen: bool) -> Conn:
        try:
            if reopen:
                probe = connect_reader(self._url)
                try:
                    if schema_version(probe) == 0:
                        raise StorageError(f"{self.target} no longer holds the memory this handle opened")
                finally:
                    probe.close()
            return connect_writer(self._url, self._options.durability)
        except psycopg.Error as exc:
            raise StorageError(f"could not open the writer connection to {self.target}: {exc}") from exc

    def apply_batch(self, writer: WriteConnection, frames: Sequence[bytes], trusted: Sequence[bool]) -> list[object]:
        """Apply one group commit; see `memactor.postgres.apply.apply_batch`.

        If the server dropped the connection since the last group (it restarted, a failover, an idle timeout),
        nothing of this group reached it: it runs once more on a new connection, so its callers do not fail
        for a connection they never used. With replicas, it then notes the primary's WAL position, before any
        caller hears of the commit.
        """
        try:
            outcomes = apply.apply_batch(writer.conn, frames, trusted)
        except ConnectionDropped:
            self.close(writer.conn)
            writer.conn = self._open_writer(reopen=True)
            outcomes = apply.apply_batch(writer.conn, frames, trusted)
        if self._replicas:
            try:
                self._mark.lsn = commit_lsn(writer.conn)
            except psycopg.Error as exc:
                # Committed, but the position is unknown: a replica could serve a read that misses it.
                raise StorageError(f"the group committed but its WAL position could not be read: {exc}") from exc
        return outcomes

    def check_writer(self, writer: WriteConnection) -> None:
        """End a transaction a failed batch left open.

        Raises:
            StorageError: the connection is broken or closed.
        """
        conn = writer.conn
        if conn.closed or conn.broken:
            raise StorageError(f"the writer connection to {self.target} is broken")
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise StorageError(f"the writer connection to {self.target} is broken: {exc}") from exc

    def log_bytes(self) -> int:
        """0: PostgreSQL reclaims its own WAL."""
        return 0

    def maintain(self, conn: WriteConnection, *, final: bool) -> bool:
        """Nothing to do: PostgreSQL checkpoints and vacuums by itself."""
        return True

    def connect_reader(self) -> ReadConnection:
        """Open one read lane's connections: the primary's, and the next replica's if there are replicas.

        Raises:
            StorageError: a server cannot be reached or refused the connection.
        """
        conn = ReadConnection(connect_reader(self._url))
        if self._replicas:
            try:
                conn.replica_url = self._replicas[len(self._readers) % len(self._replicas)]
                conn.replica = connect_reader(conn.replica_url)
            except BaseException:
                conn.close()
                raise
        self._readers.append(conn)
        return conn

    def run_query(self, conn: ReadConnection, query: Query) -> Any:
        """Answer one query; see `memactor.postgres.read.run_query`.

        Raises:
            NotFoundError: `GetByName` found no such skill.
            InvalidInputError: a vector search's vector is not of the memory's dimension.
            StorageError: PostgreSQL failed.
        """
        return self._read(conn, lambda c: read.run_query(read_target(c, self._mark, self._replica_wait_s), query))

    def stored_embedder(self, conn: ReadConnection) -> tuple[str, int] | None:
        """The embedder the memory records, or None.

        Raises:
            StorageError: PostgreSQL failed.
        """
        return self._on_primary(conn, read_embedder)

    def count_to_embed(self, conn: ReadConnection, kind: str, *, every: bool) -> int:
        """How many records of ``kind`` have no vector (``every``: how many there are).

        Raises:
            StorageError: PostgreSQL failed.
        """
        return self._on_primary(conn, lambda c: count_to_embed(c, kind, every=every))

    def records_to_embed(self, conn: ReadConnection, kind: str, after: str, limit: int, *, every: bool) -> list[Record]:
        """The next ``limit`` records of ``kind`` after ``after`` without a vector (``every``: all).

        Raises:
            StorageError: PostgreSQL failed.
        """
        return self._on_primary(conn, lambda c: records_to_embed(c, kind, after, limit, every=every))

    def count_to_stage(self, conn: ReadConnection, kind: str, name: str, dim: int) -> int:
        """How many records of ``kind`` have no vector staged for ``name`` (``dim``).

        Raises:
            StorageError: PostgreSQL failed.
        """
        return self._on_primary(conn, lambda c: count_to_stage(c, kind, name, dim))

    def records_to_stage(
        self, conn: ReadConnection, kind: str, name: str, dim: int, after: str, limit: int
    ) -> list[Record]:
        """The next ``limit`` records of ``kind`` after ``after`` with no vector staged for ``name`` (``dim``).

        Raises:
            StorageError: PostgreSQL failed.
        """
        return self._on_primary(conn, lambda c: records_to_stage(c, kind, name, dim, after, limit))

    def _on_primary(self, conn: ReadConnection, read: Callable[[Conn], _T]) -> _T:
        # Reindexing reads on the primary: what it reads next depends on what it just wrote.
        return self._read(conn, lambda c: read(c.primary))

    def _read(self, conn: ReadConnection, body: Callable[[ReadConnection], _T]) -> _T:
        """Run one read on a lane's connections, first reopening those the server dropped (it restarted, say).

        A read whose connection was dropped under it runs once more on new ones: it changed nothing, and the
        server may well be back. While the server is down each read fails, and the next one tries again.

        Raises:
            StorageError: PostgreSQL failed, or cannot be reached to reopen a connection.
        """
        for attempt in range(2):
            try:
                self._reopen_dropped(conn)
                return body(conn)
            except psycopg.Error as exc:
                if attempt or not any(_dropped(c) for c in (conn.primary, conn.replica) if c is not None):
                    raise StorageError(f"PostgreSQL failed: {exc}") from exc
        raise AssertionError("unreachable")

    def _reopen_dropped(self, conn: ReadConnection) -> None:
        if _dropped(conn.primary):
            self.close(conn.primary)
            conn.primary = connect_reader(self._url)
        if conn.replica is not None and conn.replica_url is not None and _dropped(conn.replica):
            self.close(conn.replica)
            conn.replica = connect_reader(conn.replica_url)

    def statistics(self, conn: ReadConnection) -> dict[str, int]:
        """``schema_version``, ``size_bytes`` (the record tables with their indexes and TOAST), ``pgvector`` (1: the
        server ranks vectors with pgvector; 0: each reader ranks them, without the extension), and with
        replicas ``replica_reads`` (reads a replica answered) and ``replica_fallbacks`` (reads the primary
        answered because the replica had not replayed this handle's last commit in time).

        Raises:
            StorageError: PostgreSQL failed.
        """
        figures = self._on_primary(conn, _sizes)
        if self._replicas:
            figures["replica_reads"] = sum(reader.replica_reads for reader in self._readers)
            figures["replica_fallbacks"] = sum(reader.fallbacks for reader in self._readers)
        return figures


def _sizes(conn: Conn) -> dict[str, int]:
    sizes = " + ".join(f"pg_total_relation_size('{table.name}')" for table in TABLES.values())
    row = conn.execute(f"SELECT {sizes}").fetchone()
    # pgvector: 1 when the server ranks this memory's vectors (pgvector), 0 when each reader does (no
    # extension, or no privilege to create it when the memory was made). The figures are whole numbers.
    return {
        "schema_version": schema_version(conn),
        "size_bytes": int(row[0]) if row else 0,
        "pgvector": int(vector_search(conn) == "pgvector"),
    }


def _dropped(conn: Conn) -> bool:
    # The server closed it (a crash, a restart, an administrator's kill): psycopg never reopens one.
    return conn.closed or conn.broken
