"""Open PostgreSQL connections for the writer and the readers, and check that a URL names PostgreSQL.

Both are in autocommit mode: the writer opens each group commit's transaction itself
(`memactor.postgres.apply`), and each read is one statement in a transaction of its own. ``durability``
maps onto ``synchronous_commit``: ``"full"`` waits for the commit's WAL to be flushed to disk (and to
synchronous standbys, if the server has any), ``"normal"`` does not, so a server crash may lose the last
commits but never corrupts. Readers are read-only sessions (``default_transaction_read_only``), so a bug
that wrote through one fails loudly. May import `memactor.errors` and psycopg.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from ..engine import redacted
from ..errors import InvalidInputError, StorageError
from .schema import migrate

__all__ = ["SCHEMES", "WriteConnection", "connect_reader", "connect_writer", "is_postgres_url", "redacted"]

SCHEMES = ("postgresql://", "postgres://")
# A batch waiting longer than this for another process's row locks fails rather than hangs (milliseconds).
LOCK_TIMEOUT_MS = 30_000


@dataclass(slots=True)
class WriteConnection:
    """The writer lane's connection, in a holder: the engine puts a new connection in place of one the server
    dropped between two group commits (`memactor.postgres.engine.PostgresEngine.apply_batch`)."""

    conn: psycopg.Connection[tuple[Any, ...]]


def is_postgres_url(target: object) -> bool:
    """Whether ``target`` is a PostgreSQL connection URL (``postgresql://...`` or ``postgres://...``)."""
    return isinstance(target, str) and target.startswith(SCHEMES)


def _connect(url: str, application: str) -> psycopg.Connection[tuple[Any, ...]]:
    if not is_postgres_url(url):
        raise InvalidInputError(f"not a PostgreSQL URL (postgresql://user@host:port/database): {url!r}")
    try:
        return psycopg.connect(url, autocommit=True, application_name=application)
    except psycopg.Error as exc:
        raise StorageError(f"could not connect to PostgreSQL at {redacted(url)}: {exc}") from exc


def connect_writer(url: str, durability: str) -> psycopg.Connection[tuple[Any, ...]]:
    """Open the writer's connection and bring the schema up to date.

    Raises:
        StorageError: the server cannot be reached or refused the connection.
        SchemaError: the database was written by a newer schema.
    """
    conn = _connect(url, "memactor writer")
    try:
        conn.execute(f"SET synchronous_commit = {'on' if durability == 'full' else 'off'}")
        conn.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """Open a read-only connection.

    Raises:
        StorageError: the server cannot be reached or refused the connection.
    """
    conn = _connect(url, "memactor reader")
    conn.execute("SET default_transaction_read_only = on")
    return conn
