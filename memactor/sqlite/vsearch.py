"""Vector and hybrid search on a read-only connection: exact cosine over a cached matrix, rank fusion.

Each reader connection (`ReaderConnection`) keeps one matrix of unit vectors per record kind. A search
first catches the matrix up with what the writer changed since: `vector_log` (schema version 5) lists every
insert, replacement and removal of a vector in commit order, so the reader reads only the log's new rows
and the current vectors they name, never the whole table again. All of it runs in one read transaction,
so the matrix, the filters and the records fetched are one snapshot. Past its threshold, the cache's
approximate index is built after that transaction, on a thread of its own (`memactor.model.vcache`).

The matrix and its upkeep (`memactor.model.vcache`) and the ranking, with filters applied before it and
the rank fusion of hybrid search (`memactor.model.vrank`), are shared with the PostgreSQL engine; here are
the file's reads they need. ``RRF_K`` and ``TEXT_WEIGHT`` are re-exported from there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from ..model.queries import Search
from ..model.records import Hit
from ..model.vcache import VectorCache as SharedCache
from ..model.vrank import RRF_K, TEXT_WEIGHT, rank_vectors
from .fts import fts_match, matches_source
from .rows import from_row, select_list
from .schema import TABLES

__all__ = ["RRF_K", "TEXT_WEIGHT", "ReaderConnection", "VectorCache", "search_vectors"]


class ReaderConnection(sqlite3.Connection):
    """A read-only connection that carries its vector caches (one per kind) with it."""

    vector_caches: dict[str, VectorCache]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vector_caches = {}


class VectorCache(SharedCache):
    """The vectors of one kind as a matrix (`memactor.model.vcache.VectorCache`), read from this file."""

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Catch up with the file, inside the caller's read transaction."""
        self.catch_up(_FileLog(conn))


class _FileLog:
    """`memactor.model.vcache.VectorLog` on a SQLite file: ``vector_log``, ``vectors`` and ``meta``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def newest(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(seq), 0) FROM vector_log").fetchone()[0])

    def dim(self) -> int | None:
        return _file_dim(self.conn)

    def every(self, kind: str) -> Iterable[tuple[int, bytes | None]]:
        return self.conn.execute("SELECT rid, vec FROM vectors WHERE kind = :kind", {"kind": kind})

    def changed(self, kind: str, since: int) -> Iterable[tuple[int, bytes | None]]:
        return self.conn.execute(
            "SELECT l.rid, v.vec FROM (SELECT DISTINCT rid FROM vector_log WHERE seq > :seq AND kind = :kind)"
            " AS l LEFT JOIN vectors AS v ON v.kind = :kind AND v.rid = l.rid",
            {"seq": since, "kind": kind},
        )


def _file_dim(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'embedder_dim'").fetchone()
    return None if row is None else int(row[0])


def _cache(conn: sqlite3.Connection, kind: str) -> VectorCache:
    caches: dict[str, VectorCache] | None = getattr(conn, "vector_caches", None)
    if caches is None:
        return VectorCache(kind)  # a plain connection (tests, tools): a cache for this search only
    return caches.setdefault(kind, VectorCache(kind))


def search_vectors(conn: sqlite3.Connection, query: Search, candidates: int) -> list[Hit]:
    """Answer a ``"vector"`` or ``"hybrid"`` search (``query.text`` and ``query.vector`` are set)."""
    conn.execute("BEGIN")
    try:
        hits = _search(conn, query, candidates)
    finally:
        conn.execute("COMMIT")
    _cache(conn, query.kind).build_index()  # once past the threshold; searches stay exact until it is built
    return hits


def _search(conn: sqlite3.Connection, query: Search, candidates: int) -> list[Hit]:
    table = TABLES[query.kind].name
    where, params = query.filters.where()
    cache = _cache(conn, query.kind)
    cache.refresh(conn)

    def allowed() -> Iterable[int]:
        return (rid for (rid,) in conn.execute(f"SELECT t.rowid FROM {table} AS t WHERE {where}", params))

    return rank_vectors(
        query,
        cache,
        candidates,
        None if where == "1" else allowed,
        lambda: _text_candidates(conn, query, candidates),
        lambda rids: _records(conn, query.kind, rids),
    )


def _text_candidates(conn: sqlite3.Connection, query: Search, candidates: int) -> list[int]:
    assert query.text is not None
    match = fts_match(query.text)
    if match is None:
        return []
    table = TABLES[query.kind].name
    where, params = query.filters.where()
    rows = conn.execute(
        f"SELECT c.rowid FROM {matches_source(table, where)} AS c"
        f" JOIN {table} AS t ON t.rowid = c.rowid WHERE {where} ORDER BY c.rank LIMIT :k",
        {**params, "match": match, "k": candidates},
    )
    return [rid for (rid,) in rows]


def _records(conn: sqlite3.Connection, kind: str, rids: list[int]) -> list[tuple[int, Any]]:
    if not rids:
        return []
    found: list[tuple[int, Any]] = []
    table = TABLES[kind].name
    for start in range(0, len(rids), 500):  # bound the statement's parameters
        chunk = rids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        sql = f"SELECT t.rowid, {select_list(kind, 't')} FROM {table} AS t WHERE t.rowid IN ({marks})"
        found.extend((row[0], from_row(kind, row[1:])) for row in conn.execute(sql, chunk))
    return found
