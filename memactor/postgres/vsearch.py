"""Vector and hybrid search on PostgreSQL: by the server with pgvector, else exact cosine in numpy on a cached matrix.

A memory with pgvector's column (`memactor.postgres.pgvec`) is ranked in SQL (`memactor.postgres.vsql`): its
readers keep no matrix. Without it:

Each read connection (the primary's, a replica's) keeps one `memactor.model.vcache.VectorCache` per record
kind, caught up from ``vector_log`` (`memactor.postgres.vschema`): a search reads only the log's entries
after the cache's last and the current vectors they name. It runs in one ``REPEATABLE READ`` read
transaction, so the matrix, the filters and the records fetched are one snapshot. The ranking, with filters
applied before it, and hybrid search's rank fusion are `memactor.model.vrank`'s, shared with SQLite.
May import `memactor.errors`, `memactor.model` and psycopg.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

import psycopg

from ..model.queries import Search
from ..model.records import Hit, Record
from ..model.vcache import VectorCache
from ..model.vrank import rank_vectors
from .pgvec import pgvector
from .rows import from_row, select_list
from .schema import TABLES
from .textquery import text_query
from .vsql import rank_in_sql
from .where import where

__all__ = ["search_vectors"]

Conn = psycopg.Connection[tuple[Any, ...]]

# Per connection: a connection's snapshot is its server's (a replica may lag the primary), so is its cache.
_CACHES: weakref.WeakKeyDictionary[Conn, dict[str, VectorCache]] = weakref.WeakKeyDictionary()


class _Log:
    """`memactor.model.vcache.VectorLog` on PostgreSQL: ``vector_log``, ``vectors`` and ``memactor_meta``."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def newest(self) -> int:
        row = self.conn.execute("SELECT coalesce(max(seq), 0) FROM vector_log").fetchone()
        return 0 if row is None else int(row[0])

    def dim(self) -> int | None:
        row = self.conn.execute("SELECT value FROM memactor_meta WHERE key = 'embedder_dim'").fetchone()
        return None if row is None else int(row[0])

    def every(self, kind: str) -> Iterable[tuple[int, bytes | None]]:
        rows = self.conn.execute("SELECT rid, vec FROM vectors WHERE kind = %s", (kind,))
        return ((rid, bytes(vec)) for rid, vec in rows)

    def changed(self, kind: str, since: int) -> Iterable[tuple[int, bytes | None]]:
        rows = self.conn.execute(
            "SELECT l.rid, v.vec FROM (SELECT DISTINCT rid FROM vector_log WHERE kind = %(kind)s AND seq > %(seq)s)"
            " AS l LEFT JOIN vectors AS v ON v.kind = %(kind)s AND v.rid = l.rid",
            {"kind": kind, "seq": since},
        )
        return ((rid, None if vec is None else bytes(vec)) for rid, vec in rows)


def search_vectors(conn: Conn, query: Search, candidates: int) -> list[Hit]:
    """Answer a ``"vector"`` or ``"hybrid"`` search (``query.text`` and ``query.vector`` are set).

    Raises:
        InvalidInputError: the query's vector is not of the memory's dimension.
        psycopg.Error: PostgreSQL failed.
    """
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        hits = _search(conn, query, candidates)
    except BaseException:
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return hits


def _search(conn: Conn, query: Search, candidates: int) -> list[Hit]:
    extension = pgvector(conn)
    if extension is not None:
        return rank_in_sql(
            conn,
            extension,
            query,
            candidates,
            lambda: _text_candidates(conn, query, candidates),
            lambda rids: _records(conn, query.kind, rids),
        )
    table = TABLES[query.kind].name
    condition, params = where(query.filters)
    cache = _CACHES.setdefault(conn, {}).setdefault(query.kind, VectorCache(query.kind))
    cache.catch_up(_Log(conn))

    def allowed() -> Iterable[int]:
        return (rid for (rid,) in conn.execute(f"SELECT t.rid FROM {table} AS t WHERE {condition}", params))

    return rank_vectors(
        query,
        cache,
        candidates,
        None if condition == "TRUE" else allowed,
        lambda: _text_candidates(conn, query, candidates),
        lambda rids: _records(conn, query.kind, rids),
    )


def _text_candidates(conn: Conn, query: Search, candidates: int) -> list[int]:
    assert query.text is not None
    match = text_query(query.text)
    if match is None:
        return []
    expression, words = match
    condition, params = where(query.filters)
    rows = conn.execute(
        f"SELECT t.rid FROM {TABLES[query.kind].name} AS t, (SELECT {expression} AS q) AS q"
        f" WHERE t.tsv @@ q.q AND {condition} ORDER BY ts_rank(t.tsv, q.q) DESC, t.rid LIMIT %(k)s",
        {**params, **words, "k": candidates},
    )
    return [rid for (rid,) in rows]


def _records(conn: Conn, kind: str, rids: list[int]) -> list[tuple[int, Record]]:
    rows = conn.execute(
        f"SELECT t.rid, {select_list(kind, 't')} FROM {TABLES[kind].name} AS t WHERE t.rid = ANY(%s)", (rids,)
    )
    return [(row[0], from_row(kind, row[1:])) for row in rows]
