"""PostgreSQL plumbing for the benchmark: a fresh schema per measurement, preloaded from the SQLite layout.

The harness hands every system a fresh copy of a prepared SQLite file. A PostgreSQL system instead creates a
new schema (``bench_<random>``) on the server, has its own code create its tables there (memactor's
`memactor.postgres.schema.migrate`, or LangGraph's ``setup()``), copies the file's rows into it with ``COPY``
(before any clock starts), and drops the schema when it closes: runs never see each other's rows. Every
connection reaches the schema through ``options=-c search_path=...`` in its URL, as a user would.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

__all__ = ["PgSchema", "episode_rows", "store_rows", "wait_for_replica", "with_schema"]

# memactor's episode columns on PostgreSQL, in the order the loaders and `pg-raw` use.
EPISODE_COLUMNS = (
    "id, namespace, agent_id, tags, metadata, created_at, updated_at, version, "
    "task, steps, outcome, success, reward, importance"
)


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``options=-c search_path=<schema>`` added, so every connection works in that schema."""
    option = urllib.parse.quote(f"-c search_path={schema}")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


class PgSchema:
    """One measurement's schema: created on `create`, dropped on `drop`."""

    def __init__(self, url: str) -> None:
        """Plan a new schema on the server at ``url`` (the primary)."""
        self.base_url = url
        self.name = f"bench_{uuid.uuid4().hex[:12]}"
        self.url = with_schema(url, self.name)

    def create(self) -> None:
        """Create the (empty) schema."""
        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.name}")

    def drop(self) -> None:
        """Drop the schema and everything in it."""
        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")

    def copy(self, table: str, columns: str, rows: Iterator[tuple[Any, ...]]) -> int:
        """Load ``rows`` into ``table`` of this schema with ``COPY``; return how many were loaded."""
        count = 0
        with psycopg.connect(self.url, autocommit=True) as conn, conn.transaction():
            with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            conn.execute(f"ANALYZE {table}")
        return count


def episode_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    """The episodes of a memactor-layout SQLite file as PostgreSQL rows (tags an array, success a boolean)."""
    conn = sqlite3.connect(path)
    try:
        for row in conn.execute(f"SELECT {EPISODE_COLUMNS} FROM episodes"):
            values = list(row)
            values[3] = json.loads(values[3])
            values[11] = None if values[11] is None else bool(values[11])
            yield tuple(values)
    finally:
        conn.close()


def store_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    """The items of a LangGraph-layout SQLite file as rows of LangGraph's PostgreSQL ``store`` table."""
    conn = sqlite3.connect(path)
    try:
        for prefix, key, value, created, updated in conn.execute(
            "SELECT prefix, key, value, created_at, updated_at FROM store"
        ):
            text = value.decode() if isinstance(value, bytes) else value
            yield (prefix, key, text, f"{created}+00", f"{updated}+00")
    finally:
        conn.close()


def wait_for_replica(primary_url: str, replica_url: str, timeout: float = 30.0) -> None:
    """Return once the replica has replayed everything the primary has written so far.

    Raises:
        TimeoutError: the replica did not catch up within ``timeout`` seconds.
    """
    with psycopg.connect(primary_url, autocommit=True) as primary:
        row = primary.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
    assert row is not None
    deadline = time.monotonic() + timeout
    with psycopg.connect(replica_url, autocommit=True) as replica:
        while True:
            done = replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)).fetchone()
            if done and done[0]:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica did not replay up to {row[0]} within {timeout} s")
            time.sleep(0.01)
