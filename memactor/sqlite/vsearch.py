"""Vector and hybrid search on a read-only connection: exact cosine over a cached matrix, rank fusion.

Each reader connection (`ReaderConnection`) keeps one `VectorCache` per record kind (`memactor.sqlite.vcache`:
a matrix of unit vectors, and past a threshold an approximate index beside it). A search first catches the
cache up with what the writer changed since, reading only the new rows of `vector_log`. All of it runs in one
read transaction, so the vectors, the filters and the records fetched are one snapshot.

Filters are applied before ranking: only the rowids that pass them are ranked (exactly, or by the index
asked for more candidates until enough pass), so a better match outside the filters never takes a place.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..model.queries import Search
from ..model.ranking import blend
from ..model.records import Hit
from .fts import fts_match, matches_source
from .rows import from_row, select_list
from .schema import TABLES
from .vcache import VectorCache

__all__ = ["RRF_K", "TEXT_WEIGHT", "ReaderConnection", "VectorCache", "search_vectors"]

# Reciprocal rank fusion (Cormack et al. 2009): a record at rank r of the vector list adds 1 / (RRF_K + r), at
# rank r of the text list TEXT_WEIGHT / (RRF_K + r). Tuned on the labelled check (tests/test_hybrid_recall.py,
# recall@10): the usual k = 60 with equal weights scored 0.57 there, below vector search alone (0.70), because
# a query whose words match only common words fills the text list with records as good as random, and with
# k = 60 ranks 1 and 20 weigh almost the same; k = 10 with the text list at half weight scored 0.73.
RRF_K = 10
TEXT_WEIGHT = 0.5


class ReaderConnection(sqlite3.Connection):
    """A read-only connection that carries its vector caches (one per kind) with it."""

    vector_caches: dict[str, VectorCache]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vector_caches = {}


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
    _cache(conn, query.kind).build_index()  # once past the threshold; the next search uses it
    return hits


def _search(conn: sqlite3.Connection, query: Search, candidates: int) -> list[Hit]:
    import numpy as np

    assert query.vector is not None and query.text is not None
    table = TABLES[query.kind].name
    where, params = query.filters.where()
    cache = _cache(conn, query.kind)
    cache.refresh(conn)
    vector = np.frombuffer(query.vector, dtype="<f4")
    allowed = None
    if where != "1" and cache.count:
        allowed = np.fromiter(
            (rid for (rid,) in conn.execute(f"SELECT t.rowid FROM {table} AS t WHERE {where}", params)),
            dtype=np.int64,
        )
    nearest = cache.nearest(vector, allowed, candidates)
    vector_ranked = [rid for rid, _ in nearest]
    similarity = {rid: max(0.0, sim) for rid, sim in nearest}
    if query.mode == "vector":
        relevance = dict(similarity)
    else:
        text_ranked = _text_candidates(conn, query, candidates)
        fused: dict[int, float] = {}
        for weight, ranked in ((TEXT_WEIGHT, text_ranked), (1.0, vector_ranked)):
            for rank, rid in enumerate(ranked, start=1):
                fused[rid] = fused.get(rid, 0.0) + weight / (RRF_K + rank)
        best = (1.0 + TEXT_WEIGHT) / (RRF_K + 1)
        relevance = {rid: score / best for rid, score in fused.items()}
        missing = [rid for rid in text_ranked if rid not in similarity]
        similarity.update((rid, max(0.0, sim)) for rid, sim in cache.similarity_of(missing, vector).items())
    hits = [
        blend(record, relevance[rid], query.now, query.weights, similarity.get(rid, 0.0))
        for rid, record in _records(conn, query.kind, list(relevance))
    ]
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return hits[: query.limit]


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
